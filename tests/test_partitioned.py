"""The partitioned search: the in-memory search's counts and counterexample for any number of
partitions; checkpoints that survive SIGKILL; spilling; --max-depth and --continue."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from checker.search.explore import explore
from checker.search.fpset import FingerprintSet
from checker.search.stats import levels_left
from spec.model import Model, Property, Step
from spec.raft_election import RaftElection
from tests.conftest import search_summary

ELECTKIT = str(Path(sys.executable).with_name("electkit"))
ROOT = Path(__file__).resolve().parents[1]


class Walk(Model):
    """A model the compiled kernel does not run (not an actor model): two counters."""

    name = "walk"

    def __init__(self, limit: int = 6) -> None:
        self.limit = limit

    def init_states(self):
        return [(0, 0)]

    def steps(self, s):
        a, b = s
        if a < self.limit:
            yield Step("IncA", {}, (a + 1, b))
        if b < self.limit:
            yield Step("IncB", {}, (a, b + 1))
        if a and b:
            yield Step("Swap", {}, (b, a))

    def properties(self):
        return [
            Property("Bounded", "always", lambda s: s[0] + s[1] < 2 * self.limit - 1),
            Property("Far", "always", lambda s: abs(s[0] - s[1]) < self.limit),
        ]

    def to_json(self, s):
        return {"a": s[0], "b": s[1]}

    def from_json(self, v):
        return (v["a"], v["b"])


MODELS = {
    "N3T1": (RaftElection(3, 1), True),
    "N2T3-no-symmetry": (RaftElection(2, 3), False),
    "stale_votes": (RaftElection(3, 2, variant="stale_votes"), True),
    "no_step_down": (RaftElection(3, 2, variant="no_step_down"), False),
    "generic-walk": (Walk(), False),
}


@pytest.mark.parametrize("name", list(MODELS))
def test_any_number_of_partitions_gives_the_in_memory_result(name):
    model, symmetry = MODELS[name]
    expected = search_summary(explore(model, symmetry=symmetry))
    for workers in (1, 2, 3):
        # Small rounds: a level spans many rounds, so ranks cross round boundaries.
        got = explore(model, symmetry=symmetry, workers=workers, round_size=37)
        assert search_summary(got) == expected, f"{workers} workers"


def test_the_result_does_not_depend_on_the_round_size():
    model = RaftElection(3, 2, variant="stale_votes")
    sizes = (1, 10, 50_000)
    results = [search_summary(explore(model, workers=2, round_size=size)) for size in sizes]
    assert results[0] == results[1] == results[2]


def test_max_depth_bounds_both_searches_alike():
    model = RaftElection(3, 2)
    for depth in (0, 3, 8):
        memory = explore(model, max_depth=depth)
        parts = explore(model, max_depth=depth, workers=2)
        assert search_summary(memory) == search_summary(parts)
        assert memory.bounded and memory.depth == depth and memory.verdict == "ok"
    assert explore(model, max_depth=3).distinct_states < explore(model, max_depth=8).distinct_states


def test_continue_reports_each_violated_property_with_a_shortest_trace():
    model = Walk(4)
    result = explore(model, symmetry=False, keep_going=True)
    assert result.verdict == "violation"
    found = {name: len(path) for name, _, path in result.violations}
    assert set(found) == {"Bounded", "Far"}
    for name in found:  # each trace is as short as the search for that property alone
        alone = explore(model, symmetry=False, properties=frozenset({name}))
        assert found[name] == len(alone.path)
    # The whole space is searched: every pair of counters from 0 to 4.
    assert result.distinct_states == 25


def test_memory_limit_spills_to_disk_and_changes_nothing(tmp_path):
    model = RaftElection(3, 2)
    expected = search_summary(explore(model))
    spilled = explore(model, workers=2, memory_limit=300_000, checkpoint=tmp_path / "run")
    assert search_summary(spilled) == expected
    runs = list((tmp_path / "run").glob("part-*/visited-run-*.npy"))
    assert runs, "the visited set never spilled"


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(1, 2**64 - 1), max_size=300), max_size=8))
def test_fingerprint_set_agrees_with_a_python_set(batches):
    seen, reference = FingerprintSet(), set()
    for batch in batches:
        distinct = list(dict.fromkeys(batch))
        new = seen.add_new(np.array(distinct, dtype=np.uint64))
        assert new.tolist() == [x not in reference for x in distinct]
        reference.update(distinct)
        assert len(seen) == len(reference)
    probe = np.array(sorted(reference)[:50] + [12345], dtype=np.uint64)
    assert seen.contains(probe).tolist() == [x in reference for x in probe.tolist()]


def test_fingerprint_set_spills_into_sorted_runs(tmp_path):
    seen = FingerprintSet(memory_limit=64 * 1024, spill_dir=tmp_path)
    rng = np.random.default_rng(7)
    keys = np.unique(rng.integers(1, 2**63, size=60_000, dtype=np.uint64))
    for chunk in np.array_split(keys, 20):
        assert seen.add_new(chunk).all()
    assert seen.runs and len(seen) == len(keys)
    assert not seen.add_new(keys[::7]).any()
    assert seen.nbytes < 64 * 1024 * 8


def test_levels_left_is_estimated_once_levels_shrink():
    assert levels_left([1, 5, 20]) is None
    assert levels_left([1, 5, 20, 10, 5]) == 3
    assert levels_left([1, 50, 100, 97]) is None  # barely shrinking: no estimate


# --- checkpoints, from the command line ------------------------------------------------------
CHECK = [ELECTKIT, "check", "--servers", "3", "--max-term", "2", "--json", "--quiet"]


def _json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def _counts(d: dict) -> tuple:
    return (
        d["verdict"],
        d["distinct_states"],
        d["generated_states"],
        d["depth"],
        d["coverage"],
        d["trace_length"],
    )


GRID = """
from spec.model import Model, Property, Step


class Grid(Model):
    name = "grid"

    def init_states(self):
        return [(0, 0, 0)]

    def steps(self, s):
        for i in range(3):
            if s[i] < 9:
                yield Step(f"Inc{i}", {}, s[:i] + (s[i] + 1,) + s[i + 1 :])

    def properties(self):
        return [Property("NotCorner", "always", lambda s: s != (9, 9, 9))]

    def to_json(self, s):
        return {"cell": list(s)}

    def from_json(self, v):
        return tuple(v["cell"])
"""


@pytest.mark.parametrize("case", ["ok", "violation", "python then native"])
def test_sigkill_at_any_moment_then_resume_gives_the_uninterrupted_result(tmp_path, case):
    """``python then native``: a run of the Python kernel (ELECTKIT_NATIVE=0) resumed by
    the native one, which stores the same states under the same fingerprints."""
    if case != "violation":
        check = CHECK
    else:  # a violation 27 levels down, in rounds of 20 states
        (tmp_path / "grid.py").write_text(GRID)
        check = [ELECTKIT, "check", "--spec", f"{tmp_path / 'grid.py'}:Grid", "--json", "--quiet"]
    plain = subprocess.run(check, capture_output=True, text=True, timeout=300)
    assert plain.returncode == (1 if case == "violation" else 0), plain.stderr
    expected = _counts(_json(plain.stdout))
    run = tmp_path / "run"
    args = [*check, "--workers", "2", "--round-size", "20" if case == "violation" else "500"]
    proc = subprocess.Popen(
        [*args, "--checkpoint", str(run), "--stats", str(tmp_path / "stats.jsonl")],
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env={**os.environ, "ELECTKIT_NATIVE": "0"} if case == "python then native" else None,
    )
    deadline = time.monotonic() + 120
    manifest = run / "manifest.json"
    while time.monotonic() < deadline:  # wait until some rounds are checkpointed
        try:
            if json.loads(manifest.read_text())["tallies"]["level"] >= 4:
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.005)
    os.killpg(proc.pid, signal.SIGKILL)  # the coordinator and its workers, mid-round
    proc.wait()
    proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL, "the run ended before it was killed"
    resumed = subprocess.run(
        [*args, "--resume", str(run)], capture_output=True, text=True, timeout=300
    )
    assert resumed.returncode == plain.returncode, resumed.stderr
    assert _counts(_json(resumed.stdout)) == expected
    lines = [json.loads(x) for x in (tmp_path / "stats.jsonl").read_text().splitlines()]
    assert "level" in {line["event"] for line in lines}


def test_a_checkpoint_of_another_run_is_refused_in_one_line(tmp_path):
    run = tmp_path / "run"
    first = subprocess.run(
        [*CHECK, "--max-term", "1", "--workers", "1", "--checkpoint", str(run)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert first.returncode == 0, first.stderr
    cases = [
        (["--max-term", "2", "--workers", "1", "--resume", str(run)], "of another run"),
        (["--max-term", "1", "--workers", "2", "--resume", str(run)], "--workers 1"),
        (["--max-term", "1", "--checkpoint", str(run)], "already holds a checkpoint"),
        (["--max-term", "1", "--resume", str(tmp_path / "none")], "no checkpoint there"),
        (["--memory-limit", "lots"], "is not a size"),
        (["--max-depth", "-1"], "--max-depth must be 0 or more"),
        (["--round-size", "0"], "--round-size must be from 1"),
    ]
    for extra, words in cases:
        bad = subprocess.run([*CHECK, *extra], capture_output=True, text=True, timeout=300)
        assert bad.returncode == 2, (extra, bad.stderr)
        assert words in bad.stderr and len(bad.stderr.strip().splitlines()) == 1, bad.stderr
        assert "Traceback" not in bad.stderr


def test_workers_end_when_their_coordinator_is_killed(tmp_path):
    """SIGKILL of the coordinator alone (no cleanup runs): its workers see the pipe close."""
    psutil = pytest.importorskip("psutil")
    proc = subprocess.Popen(
        [*CHECK, "--max-term", "3", "--workers", "2", "--checkpoint", str(tmp_path / "run")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(psutil.Process(proc.pid).children()) < 2:
        time.sleep(0.05)
    workers = psutil.Process(proc.pid).children()
    assert len(workers) == 2
    proc.kill()
    proc.wait()
    gone, alive = psutil.wait_procs(workers, timeout=20)
    for p in alive:
        p.kill()
    assert not alive, "workers outlived their coordinator"


def test_the_visited_set_holds_at_most_16_bytes_a_state():
    seen = FingerprintSet()
    rng = np.random.default_rng(3)
    keys = rng.permutation(np.unique(rng.integers(1, 2**64 - 1, size=400_000, dtype=np.uint64)))
    for chunk in np.array_split(keys, 40):
        seen.add_new(chunk)
        assert seen.nbytes / len(seen) <= 16.0 or len(seen) < 20_000
    assert len(seen) == len(keys) and seen.nbytes / len(seen) <= 16.0
