"""Chaos on a real etcd: the audit's pure parts, a short real run, and (slow) the 60 s run."""

from __future__ import annotations

import json
import os

import pytest

from impl.lease.chaos import belief_intervals, find_overlaps, run_chaos
from tests.lease_fixtures import etcd  # noqa: F401 - fixture


def write_lines(path, events):
    path.write_text("".join(json.dumps(e) + "\n" for e in events))


def test_beliefs_end_at_stop_or_kill_and_overlaps_are_found(tmp_path):
    write_lines(
        tmp_path / "c1.jsonl",
        [
            {"t": 1.0, "name": "c1", "pid": 11, "event": "elected", "token": 2},
            {"t": 5.0, "name": "c1", "pid": 11, "event": "stopped", "reason": "deadline passed"},
            {"t": 9.0, "name": "c1", "pid": 12, "event": "elected", "token": 9},
        ],
    )
    write_lines(
        tmp_path / "c2.jsonl",
        [
            {"t": 3.0, "name": "c2", "pid": 21, "event": "elected", "token": 4},
            {"t": 8.0, "name": "c2", "pid": 21, "event": "stopped", "reason": "lease lost"},
        ],
    )
    write_lines(tmp_path / "chaos.jsonl", [{"t": 10.0, "event": "kill", "name": "c1", "pid": 12}])
    intervals = belief_intervals(tmp_path, end=99.0)
    assert sorted(intervals) == [("c1", 2, 1.0, 5.0), ("c1", 9, 9.0, 10.0), ("c2", 4, 3.0, 8.0)]
    overlaps = find_overlaps(intervals)
    assert [(o.first, o.second, o.start, o.end) for o in overlaps] == [("c1", "c2", 3.0, 5.0)]


def pids_of(folder):
    return {e["pid"] for e in map(json.loads, (folder / "chaos.jsonl").read_text().splitlines())}


def gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_a_short_fenced_run_accepts_no_stale_write_and_reaps_its_clients(etcd, tmp_path):  # noqa: F811
    report = run_chaos(etcd.url, tmp_path, clients=3, duration=6, ttl=1, seed=3, interval=0.6)
    assert report.pauses >= 3 and report.pauses_past_ttl == report.pauses
    assert report.writes_accepted > 0 and report.stale_accepted == []
    assert all(gone(pid) for pid in pids_of(tmp_path))


@pytest.mark.slow
def test_sixty_seconds_of_chaos(etcd, tmp_path):  # noqa: F811
    report = run_chaos(etcd.url, tmp_path, clients=3, duration=60, ttl=1, seed=1)
    assert report.pauses_past_ttl >= 30
    assert len(report.overlaps) >= 1
    assert report.stale_accepted == [] and report.writes_refused >= 1
