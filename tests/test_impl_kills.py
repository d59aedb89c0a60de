"""SIGKILL node processes at random moments during elections; the event logs must stay safe.

Fast timeouts (30-60 ms elections, 10 ms heartbeats) make elections nearly continuous, so the
kills land before, during and after votes are cast and persisted. Afterwards the logs of every
node, across all restarts, must show no term with two leaders and no node with two votes in a
term, and the cluster must still elect a leader.
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

from impl.cluster import LocalCluster, single_leader
from impl.eventlog import check_logs, leaders_by_term

KILLS = 200
MAX_KILLS = 800  # on a loaded machine, fewer elections complete: keep going until enough have
ENOUGH_TERMS = 20


def test_random_sigkills_never_break_election_safety(tmp_path: Path) -> None:
    rng = random.Random(20240611)
    cluster = LocalCluster(tmp_path, 5, election_timeout_ms=(30, 60), heartbeat_ms=10)
    try:
        cluster.start()
        cluster.wait_for(lambda v: single_leader(v) is not None, 20)
        kills = 0
        down: set[int] = set()

        def enough() -> bool:
            if kills < KILLS:
                return False
            if kills >= MAX_KILLS or kills % 25:
                return kills >= MAX_KILLS
            logs = {i: cluster.read_events(i) for i in cluster.ids}
            return len(leaders_by_term(logs)) >= ENOUGH_TERMS

        while not enough():
            time.sleep(rng.uniform(0, 0.06))
            victim = rng.choice(cluster.ids)
            if victim in down or cluster.status(victim, timeout=0.2) is None:
                continue  # not up yet: a kill during interpreter start-up tests nothing
            assert cluster.kill(victim) == -signal.SIGKILL
            kills += 1
            if rng.random() < 0.25 and len(down) < 2:
                down.add(victim)  # stays down a while: elections run with fewer nodes
            else:
                cluster.spawn(victim)
            if down and rng.random() < 0.3:
                cluster.spawn(down.pop())
        for node_id in down:
            cluster.spawn(node_id)
        cluster.wait_for(lambda v: single_leader(v) is not None and all(v.values()), 30)
        logs = {i: cluster.read_events(i) for i in cluster.ids}
    finally:
        cluster.stop()
    starts = sum(e["event"] == "start" for events in logs.values() for e in events)
    assert starts == 5 + kills and kills >= KILLS
    assert check_logs(logs) == []
    leader_terms = leaders_by_term(logs)
    assert len(leader_terms) >= ENOUGH_TERMS, (
        f"too few elections to mean anything: {len(leader_terms)} after {kills} kills"
    )
    # Kills that landed mid-election: the victim's last logged state had no known leader
    # (a candidate, or a follower whose term has no leader yet).
    mid_election = sum(
        1
        for events in logs.values()
        for before, after in zip(events, events[1:], strict=False)
        if after["event"] == "start" and before["state"]["leader"] is None
    )
    print(f"{kills} kills, {mid_election} mid-election, {len(leader_terms)} terms with a leader")
    assert mid_election >= 20
    # Restarts recovered the durable vote: a node's state after a restart is never behind the
    # last vote it persisted before the kill (an event logged but killed before its fsync
    # may be lost: nothing of it was sent).
    for events in logs.values():
        durable = None
        for event in events:
            if event["event"] == "start" and durable is not None:
                term, voted_for = event["state"]["term"], event["state"]["voted_for"]
                assert term >= durable["term"]
                assert durable["term"] < term or voted_for == durable["voted_for"]
            if event["event"] in ("start", "persist"):
                durable = event.get("durable") or {
                    "term": event["state"]["term"],
                    "voted_for": event["state"]["voted_for"],
                }
