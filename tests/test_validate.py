"""`electkit validate`: hand-made logs that fit the model, and one of each kind that does not."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from checker.conformance.eventlogs import LogError
from checker.conformance.validate import validate_dir
from checker.protocols.raft_election.validate import RaftLogMapping
from checker.traces import read_trace


class Log:
    """Writes the per-node logs of a hand-made 3-node run, line by line, as the server does."""

    def __init__(self, root: Path, nodes: int = 3) -> None:
        self.root = root
        self.state = {
            n: {
                "id": n,
                "term": 0,
                "voted_for": None,
                "role": "follower",
                "votes": [],
                "leader": None,
            }
            for n in range(1, nodes + 1)
        }
        self.seq = dict.fromkeys(self.state, 0)
        self.time = 0.0
        self.lines: dict[int, int] = dict.fromkeys(self.state, 0)
        for n in self.state:
            self.start(n)

    def path(self, n: int) -> Path:
        return self.root / f"node-{n}" / "events.jsonl"

    def write(self, n: int, event: str, **fields: Any) -> int:
        """Append one event of node ``n``; returns its line number."""
        self.seq[n] += 1
        self.time += 0.001
        record = {
            "seq": self.seq[n],
            "node": n,
            "time": self.time,
            "event": event,
            **fields,
            "state": dict(self.state[n]),
        }
        self.path(n).parent.mkdir(parents=True, exist_ok=True)
        with open(self.path(n), "a") as f:
            f.write(json.dumps(record) + "\n")
        self.lines[n] += 1
        return self.lines[n]

    def raw(self, n: int, text: str) -> int:
        with open(self.path(n), "a") as f:
            f.write(text)
        self.lines[n] += 1
        return self.lines[n]

    def set(self, n: int, **state: Any) -> None:
        self.state[n].update(state)

    def start(self, n: int) -> int:
        s = self.state[n]
        self.set(n, role="follower", votes=[], leader=None)
        return self.write(
            n, "start", pid=1000 + n, durable={"term": s["term"], "voted_for": s["voted_for"]}
        )

    def persist(self, n: int) -> int:
        s = self.state[n]
        return self.write(n, "persist", durable={"term": s["term"], "voted_for": s["voted_for"]})

    def send(self, n: int, kind: str, term: int, dst: int, granted: bool | None = None) -> int:
        msg: dict[str, Any] = {"type": kind, "term": term, "src": n, "dst": dst}
        if kind == "Vote":
            msg["granted"] = granted
        return self.write(n, "send", msg=msg)

    def deliver(self, n: int, kind: str, term: int, src: int, granted: bool | None = None) -> int:
        msg: dict[str, Any] = {"type": kind, "term": term, "src": src, "dst": n}
        if kind == "Vote":
            msg["granted"] = granted
        return self.write(n, "deliver", msg=msg)

    def election(self, c: int = 1, term: int = 1, voter: int = 2) -> None:
        """``c`` times out into ``term``, ``voter`` grants, ``c`` leads and heartbeats."""
        self.set(c, term=term, voted_for=c, role="candidate", votes=[c])
        self.write(c, "timeout")
        self.persist(c)
        for d in self.state:
            if d != c:
                self.send(c, "RequestVote", term, d)
        self.set(voter, term=term, voted_for=c, role="follower", votes=[], leader=None)
        self.deliver(voter, "RequestVote", term, c)
        self.persist(voter)
        self.send(voter, "Vote", term, c, True)
        self.set(c, role="leader", votes=sorted({c, voter}), leader=c)
        self.deliver(c, "Vote", term, voter, True)
        for d in self.state:
            if d != c:
                self.send(c, "Heartbeat", term, d)


def validate(root: Path):
    return validate_dir(root, RaftLogMapping())


def test_an_election_fits(tmp_path: Path) -> None:
    log = Log(tmp_path)
    log.election()
    log.set(3, term=1, leader=1)
    log.deliver(3, "Heartbeat", 1, 1)
    result = validate(tmp_path)
    assert result.ok, result.misfit and result.misfit.describe()
    assert result.validated == {1: 8, 2: 4, 3: 2}
    assert [a for a, _ in result.prefix()] == ["Restart"] * 3 + [
        "Timeout",
        "Receive",
        "Receive",
        "Receive",
    ]


def test_a_disabled_action_is_the_first_misfit(tmp_path: Path) -> None:
    log = Log(tmp_path)
    line = log.write(2, "heartbeat")  # a follower's heartbeat timer: Heartbeat(2) is disabled
    result = validate(tmp_path)
    assert result.misfit is not None
    ev = result.misfit.event
    assert (ev.file, ev.line, ev.node) == (str(log.path(2)), line, 2)
    assert "Heartbeat(s=2) is not enabled" in result.misfit.reason
    assert "Timeout(s=2)" in result.misfit.allowed
    assert f"{log.path(2)}:{line}" in result.misfit.describe()


def test_a_wrong_state_after_an_action_is_a_misfit(tmp_path: Path) -> None:
    log = Log(tmp_path)
    log.set(1, term=2, voted_for=1, role="candidate", votes=[1])  # skips a term
    line = log.write(1, "timeout")
    result = validate(tmp_path)
    assert result.misfit is not None and result.misfit.event.line == line
    assert "term=2" in result.misfit.reason and "term=1" in result.misfit.reason


def test_a_send_before_its_persist_is_a_misfit(tmp_path: Path) -> None:
    log = Log(tmp_path)
    log.set(1, term=1, voted_for=1, role="candidate", votes=[1])
    log.write(1, "timeout")
    line = log.send(1, "RequestVote", 1, 2)
    log.persist(1)
    result = validate(tmp_path)
    assert result.misfit is not None and result.misfit.event.line == line
    assert "before the state that produced it was persisted" in result.misfit.reason


def test_a_delivery_of_a_message_never_sent_is_a_misfit(tmp_path: Path) -> None:
    log = Log(tmp_path)
    log.set(2, term=3)
    line = log.deliver(2, "Heartbeat", 3, 1)
    result = validate(tmp_path)
    assert result.misfit is not None and result.misfit.event.line == line
    assert "no line ever sent" in result.misfit.reason


def test_a_restart_that_goes_back_a_term_is_a_misfit(tmp_path: Path) -> None:
    log = Log(tmp_path)
    log.election()
    log.set(2, term=0, voted_for=None)  # the vote file did not keep term 1
    line = log.start(2)
    result = validate(tmp_path)
    assert result.misfit is not None and result.misfit.event.line == line
    assert "Restart" in result.misfit.reason


def test_a_crash_before_the_fsync_is_undone_and_after_it_kept(tmp_path: Path) -> None:
    log = Log(tmp_path)
    log.set(1, term=1, voted_for=1, role="candidate", votes=[1])
    log.write(1, "timeout")  # killed before its persist: the disk still says term 0
    log.set(1, term=0, voted_for=None)
    log.start(1)
    log.set(2, term=1, voted_for=2, role="candidate", votes=[2])
    log.write(2, "timeout")  # killed after the fsync, before the persist line
    log.start(2)
    result = validate(tmp_path)
    assert result.ok, result.misfit and result.misfit.describe()
    assert ("Timeout", {"s": 1}) not in result.prefix()  # undone: the world never saw it
    assert ("Timeout", {"s": 2}) in result.prefix()
    assert result.crashed == {"undone": 1, "kept": 1}


def test_a_torn_last_line_is_unmatched_and_the_rest_validates(tmp_path: Path) -> None:
    log = Log(tmp_path)
    log.election()
    line = log.raw(3, '{"seq": 9, "node": 3, "time": 9.0, "event": "deli')
    result = validate(tmp_path)
    assert result.ok
    assert result.unmatched == [f"{log.path(3)}:{line}: torn line (node 3 killed mid-write)"]


def test_a_torn_line_before_a_restart_is_unmatched(tmp_path: Path) -> None:
    log = Log(tmp_path)
    log.raw(2, '{"seq": 2, "node": 2, "ti\n')
    log.start(2)
    result = validate(tmp_path)
    assert result.ok and len(result.unmatched) == 1


def test_garbage_in_the_middle_is_refused_with_file_and_line(tmp_path: Path) -> None:
    log = Log(tmp_path)
    line = log.raw(1, "this is not json\n")
    log.write(1, "timeout")
    with pytest.raises(LogError, match=f"{log.path(1)}:{line}: not a JSON event"):
        validate(tmp_path)


def test_an_unknown_event_is_refused(tmp_path: Path) -> None:
    log = Log(tmp_path)
    line = log.write(1, "reboot")
    with pytest.raises(LogError, match=f"{log.path(1)}:{line}: unknown event 'reboot'"):
        validate(tmp_path)


def test_cli_exit_codes_and_trace(tmp_path: Path, electkit_cmd: list[str]) -> None:
    good, bad, broken = tmp_path / "good", tmp_path / "bad", tmp_path / "broken"
    Log(good).election()
    Log(bad).write(2, "heartbeat")
    damaged = Log(broken)
    damaged.raw(1, "garbage\n")
    damaged.set(1, term=1, voted_for=1, role="candidate", votes=[1])
    damaged.write(1, "timeout")  # the garbage is in the middle, not a torn last line
    run = subprocess.run(
        [*electkit_cmd, "validate", str(good), "--json"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.splitlines()[-1])
    assert summary["verdict"] == "validated" and summary["events"] == 13
    trace = read_trace(summary["trace"])  # the validated prefix, checked against the model
    assert [step.action for step in trace.steps][-1] == "Receive"
    page = tmp_path / "page.html"
    view = subprocess.run(
        [*electkit_cmd, "view", summary["trace"], "-o", str(page)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert view.returncode == 0 and page.stat().st_size > 0, view.stderr
    run = subprocess.run(
        [*electkit_cmd, "validate", str(bad)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 1 and "Heartbeat(s=2) is not enabled" in run.stdout
    run = subprocess.run(
        [*electkit_cmd, "validate", str(broken)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 2 and run.stderr.count("\n") == 1
    assert "events.jsonl:2: not a JSON event" in run.stderr
    run = subprocess.run(
        [*electkit_cmd, "validate", str(tmp_path / "none")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 2 and "not a directory" in run.stderr


def test_validated_prefix_replays_against_the_implementation(
    tmp_path: Path, electkit_cmd: list[str]
) -> None:
    log = Log(tmp_path)
    log.election()
    run = subprocess.run(
        [*electkit_cmd, "validate", str(tmp_path)], capture_output=True, text=True, timeout=120
    )
    assert run.returncode == 0, run.stderr
    replay = subprocess.run(
        [*electkit_cmd, "replay", str(tmp_path / "validated.itf.json")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "conforms" in replay.stdout


def test_a_real_cluster_logging_idle_events_validates(tmp_path: Path) -> None:
    from impl.cluster import LocalCluster, single_leader

    cluster = LocalCluster(tmp_path, 3, log_idle=True)
    try:
        cluster.start()
        cluster.wait_for(lambda v: single_leader(v) is not None, 30)
        time.sleep(0.5)  # some heartbeats: logged, since idle events are asked for
        leader = single_leader(cluster.statuses())
        assert leader is not None
        cluster.kill(leader)
        cluster.spawn(leader)
        cluster.wait_for(lambda v: single_leader(v) is not None and all(v.values()), 30)
    finally:
        cluster.stop()
    result = validate(tmp_path)
    assert result.ok, result.misfit and result.misfit.describe()
    kinds = {ev["event"] for log in result.nodes.values() for ev in log.events}
    assert {"start", "timeout", "heartbeat", "deliver", "persist", "send"} <= kinds


def test_a_missing_line_is_refused(tmp_path: Path) -> None:
    log = Log(tmp_path)
    log.seq[1] += 1  # as if one line of node 1 were lost
    line = log.write(1, "heartbeat")
    with pytest.raises(LogError, match=f"{log.path(1)}:{line}: node 1's seq 3 follows 1"):
        validate(tmp_path)
