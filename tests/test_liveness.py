"""The chaos stage's liveness judge: figures from the event logs and the fault timeline, and
bounds derived from the election timeouts that a cluster without random jitter exceeds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from checker.conformance.overlay import Overlay
from checker.protocols.raft_election import validate
from checker.protocols.raft_election.liveness import measure
from tests.conftest import ROOT

TIMEOUT = (0.150, 0.300)
T0 = 1000.0  # wall-clock seconds of the run's start (any origin works)


def _event(t: float, kind: str, term: int, role: str) -> dict:
    return {"time": T0 + t, "event": kind, "state": {"term": term, "role": role}}


def _started(nodes: int = 3) -> dict[int, list[dict]]:
    return {n: [_event(0.05, "start", 0, "follower")] for n in range(1, nodes + 1)}


def _timeline(seconds: float, *faults: tuple[float, str, tuple[int, ...]]) -> list:
    start = [(T0, "start", (1, 2, 3))]
    return start + [(T0 + t, k, who) for t, k, who in faults] + [(T0 + seconds, "end", ())]


def test_a_leader_elected_once_and_kept_passes():
    logs = _started()
    logs[1] += [_event(0.3, "timeout", 1, "candidate"), _event(0.31, "deliver", 1, "leader")]
    logs[2] += [_event(0.305, "deliver", 1, "follower")]
    figures = measure(logs, _timeline(10.0), 3, TIMEOUT)
    assert figures.judge() == [], figures.line()
    assert (figures.leader_changes, figures.elections, figures.unprovoked) == (1, 1, 0)
    assert 0.2 < figures.longest_leaderless < 0.3  # from the starts to the election


def test_leader_changes_that_no_fault_explains_fail():
    # A follower whose timer a heartbeat does not reset deposes a healthy leader every 0.3 s.
    logs = _started()
    term = 0
    for k in range(30):
        term += 1
        node = 1 + k % 3
        t = 0.3 * (k + 1)
        logs[node] += [_event(t, "timeout", term, "candidate"), _event(t + 0.01, "deliver", term,
                                                                       "leader")]
        for other in {1, 2, 3} - {node}:
            logs[other].append(_event(t + 0.005, "deliver", term, "follower"))
    figures = measure(logs, _timeline(10.0), 3, TIMEOUT)
    problems = figures.judge()
    assert figures.unprovoked == 29 and len(problems) == 1, figures.line()
    assert "with no fault before them" in problems[0]


def test_the_same_changes_after_faults_pass():
    logs = _started()
    faults = []
    term = 0
    for k in range(10):
        term += 1
        node = 1 + k % 3
        t = 0.9 * (k + 1)
        faults.append((t - 0.2, "partition", (node % 3 + 1,)))  # a fault just before each
        logs[node] += [_event(t, "timeout", term, "candidate"), _event(t + 0.01, "deliver", term,
                                                                       "leader")]
    figures = measure(logs, _timeline(10.0, *faults), 3, TIMEOUT)
    assert figures.unprovoked == 0 and figures.judge() == [], figures.line()


def test_split_votes_and_a_long_leaderless_interval_fail():
    logs = _started()
    term = 0
    for k in range(20):  # every node times out together: no leader for 20 rounds
        term += 1
        for node in (1, 2, 3):
            logs[node].append(_event(0.15 * (k + 1), "timeout", term, "candidate"))
    logs[1].append(_event(3.2, "deliver", term, "leader"))
    figures = measure(logs, _timeline(5.0), 3, TIMEOUT)
    problems = figures.judge()
    assert figures.elections_per_change == 60
    assert len(figures.gaps) == 57 and figures.low_end_gaps == 57
    assert any("leaderless for" in p for p in problems), problems
    assert any("back-to-back elections came within the lowest fifth" in p
               for p in problems), problems


def test_jittered_back_to_back_elections_pass():
    # One node cut off in a minority times out again and again, each gap drawn from the
    # whole range (here evenly spread): a fifth of them at the low end, as with real jitter.
    logs = _started()
    logs[1] += [_event(0.3, "timeout", 1, "candidate"), _event(0.31, "deliver", 1, "leader")]
    t, term = 0.5, 1
    for k in range(20):
        t += 0.150 + 0.150 * ((k * 7) % 20) / 20  # 150..292 ms, evenly
        term += 1
        logs[3].append(_event(t, "timeout", term, "candidate"))
    figures = measure(logs, _timeline(t + 0.5, (0.4, "partition", (3,))), 3, TIMEOUT)
    assert len(figures.gaps) == 19 and figures.low_end_gaps <= 5, figures.gaps
    assert figures.judge() == [], figures.line()


def test_a_quorum_down_is_not_leaderless():
    logs = _started()
    logs[1] += [_event(0.3, "timeout", 1, "candidate"), _event(0.31, "deliver", 1, "leader")]
    # nodes 1 and 2 killed for 4 s: no quorum, so no leader is owed
    timeline = _timeline(6.0, (0.5, "kill", (1,)), (0.5, "kill", (2,)))
    logs[1].append(_event(4.5, "start", 1, "follower"))
    logs[2].append(_event(4.5, "start", 0, "follower"))
    logs[3].append(_event(4.8, "timeout", 2, "candidate"))
    logs[3].append(_event(4.81, "deliver", 2, "leader"))
    figures = measure(logs, timeline, 3, TIMEOUT)
    assert figures.longest_leaderless < 0.4 and figures.judge() == [], figures.line()


def test_a_real_cluster_without_random_jitter_fails_the_judge(tmp_path: Path):
    # The node's own config, not a code change: every election timeout is exactly 150 ms.
    run = validate.run_chaos(tmp_path, nodes=5, duration=6.0, seed=0,
                             election_timeout_ms=(150, 150))
    ok, line, figures = validate.judge_liveness(run)
    assert not ok, line
    assert "the election timeout range 150-150 ms leaves no room for random jitter" in line


NO_JITTER = """
import json, sys, tempfile
from checker.protocols.raft_election import validate
with tempfile.TemporaryDirectory() as d:
    print(json.dumps(validate.judge_liveness(validate.run_chaos(d, duration=8.0, seed=0))[2]))
"""


def test_a_server_that_ignores_the_range_fails_the_judge_by_its_gaps():
    # A code bug, not a config: the server always waits the low end (planted in a copy).
    server = (ROOT / "impl" / "server.py").read_text()
    drawn = "delay = self._rng.uniform(*self.config.election_timeout)"
    assert server.count(drawn) == 1
    patched = server.replace(drawn, "delay = self.config.election_timeout[0]")
    with Overlay("impl", {"server.py": patched}) as overlay:
        proc = subprocess.run([sys.executable, "-c", NO_JITTER], cwd=overlay.root,
                              env=overlay.env(), capture_output=True, text=True, timeout=120)
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    assert figures["back_to_back_gaps"] >= 10, figures
    assert any("back-to-back elections came within the lowest fifth" in p
               for p in figures["problems"]), figures
