"""`electkit check --simulate` and checker/search/simulate.py: random walks checking every
property, reproducible from the seed, violations written as traces, a coverage estimate."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import pytest

from checker.protocols.registry import bundle_named
from checker.search.explore import explore
from checker.search.simulate import estimate_states, simulate, walk
from checker.traces import read_trace
from tests.conftest import ELECTKIT, ROOT

RAFT = bundle_named("raft_election")
SIM = ("check", "--simulate", "--walks", "500", "--depth", "30", "--seed", "0")


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ELECTKIT, *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def violated_at_end(trace, prop: str) -> bool:
    holds = next(p.holds for p in trace.model.properties() if p.name == prop)
    return not holds(trace.states[-1]) and all(holds(s) for s in trace.states[:-1])


# --- the command ----------------------------------------------------------------------------


def test_finds_the_faulty_variants_violation_and_writes_a_real_walk(tmp_path):
    out = tmp_path / "walk.itf.json"
    proc = run(
        *SIM, "--variant", "stale_votes", "--property", "ElectionSafety", "--trace-out",
        str(out), "--json",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    result = last_json(proc.stdout)
    assert result["mode"] == "simulate"
    assert (result["verdict"], result["property"]) == ("violation", "ElectionSafety")
    assert result["trace"] == str(out)
    trace = read_trace(out)  # every state is where its action leads, from an initial state
    assert len(trace.steps) == result["trace_length"] > 0
    assert trace.model.parameters["variant"] == "stale_votes"
    assert violated_at_end(trace, "ElectionSafety")
    assert trace.meta["verdict"] == "violation" and trace.meta["property"] == "ElectionSafety"
    assert "walk" in proc.stderr and "trace written to" in proc.stderr


def test_the_correct_model_passes_and_says_it_is_not_a_proof():
    proc = run(*SIM, "--servers", "2")
    assert proc.returncode == 0, proc.stderr
    assert "not a proof" in proc.stdout
    assert "Receive(RequestVote)" in proc.stdout  # the actions-fired table


def test_same_seed_same_walks_trace_and_figures_whatever_the_hash_seed(tmp_path):
    runs = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"walk-{hash_seed}.itf.json"
        proc = run(
            *SIM, "--variant", "no_step_down", "--property", "ElectionSafety", "--trace-out",
            str(out), "--json", "--quiet", env={"PYTHONHASHSEED": hash_seed},
        )  # fmt: skip
        assert proc.returncode == 1, proc.stderr
        result = last_json(proc.stdout)
        del result["seconds"], result["trace"], result["violations"][0]["trace"]
        runs.append((result, out.read_bytes()))
    assert runs[0] == runs[1]


def test_bounds_past_an_exhaustive_search_are_simulated():
    # max_term=25 is refused by an exhaustive search (its bound is 20), but a walk needs memory
    # only for the states it has seen.
    proc = run(
        "check", "--simulate", "--walks", "20", "--depth", "60", "--seed", "3", "--max-term",
        "25", "--json", "--quiet",
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    result = last_json(proc.stdout)
    assert result["parameters"]["max_term"] == 25 and result["walks"] == 20
    assert result["depth"] == 60 and result["steps"] == 20 * 60
    assert run("check", "--max-term", "25").returncode == 2


def test_continue_collects_several_violated_properties_each_with_its_trace():
    proc = run(*SIM, "--variant", "no_step_down", "--continue", "--json", "--quiet")
    assert proc.returncode == 1, proc.stderr
    result = last_json(proc.stdout)
    found = {v["property"] for v in result["violations"]}
    assert {"ElectionSafety", "CandidateVotedForSelf"} <= found
    assert result["property"] == result["violations"][0]["property"]
    for v in result["violations"]:
        trace = read_trace(v["trace"])
        assert len(trace.steps) == v["trace_length"]
        assert not next(p for p in trace.model.properties() if p.name == v["property"]).holds(
            trace.states[-1]
        )


USER_MODEL = """
from spec.model import Model, Property, Step

class Grid(Model):
    name = "grid"
    def init_states(self): return [(0, 0)]
    def steps(self, p):
        x, y = p
        moves = [("Right", (x + 1, y)), ("Up", (x, y + 1)), ("Left", (x - 1, y))]
        return iter([Step(a, {}, q) for a, q in moves if 0 <= q[0] <= 4 and q[1] <= 4])
    def properties(self):
        return [Property("NotTheCorner", "always", lambda p: p != (4, 4)),
                Property("Climbed", "sometimes", lambda p: p[1] > 0)]
    def to_json(self, p): return {"x": p[0], "y": p[1]}
    def from_json(self, v): return (v["x"], v["y"])
"""


def test_a_users_own_model_is_simulated(tmp_path):
    (tmp_path / "grid.py").write_text(USER_MODEL)
    out = tmp_path / "corner.itf.json"
    proc = run(
        "check", "--spec", f"{tmp_path / 'grid.py'}:Grid", "--simulate", "--walks", "200",
        "--depth", "30", "--seed", "5", "--trace-out", str(out), "--json", "--quiet",
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr
    result = last_json(proc.stdout)
    assert result["property"] == "NotTheCorner" and result["witnessed"] == ["Climbed"]
    doc = json.loads(out.read_text())
    assert doc["states"][-1]["x"] == doc["states"][-1]["y"] == 4
    assert len(doc["states"]) == result["trace_length"] + 1 >= 9  # at least 8 moves to (4, 4)
    assert set(result["fired"]) <= {"Right", "Up", "Left"} and "Up" in result["fired"]


def test_no_sometimes_witnessed_is_a_vacuous_pass():
    # Depth 0: only the initial state, where no leader was elected yet.
    proc = run("check", "--simulate", "--walks", "3", "--depth", "0", "--seed", "0", "--json")
    assert proc.returncode == 4, proc.stderr
    result = last_json(proc.stdout)
    assert (result["verdict"], result["property"]) == ("vacuous", "LeaderElected")


def test_a_walk_trace_replays_and_views(tmp_path):
    out = tmp_path / "walk.itf.json"
    assert run(*SIM, "--variant", "volatile_vote", "--trace-out", str(out)).returncode == 1
    # A trace of the faulty variant: the implementation refuses to follow it (exit 1, never
    # exit 2 for an invalid trace), at a step that the report names.
    replay = run("replay", str(out))
    assert replay.returncode == 1 and "diverges at step" in replay.stdout, replay.stderr
    page = tmp_path / "walk.html"
    view = run("view", str(out), "-o", str(page))
    assert view.returncode == 0, view.stderr
    assert page.stat().st_size > 1000


def test_ctrl_c_ends_the_walks_with_130_and_reports_what_was_walked():
    argv = [ELECTKIT, "check", "--simulate", "--walks", "1000000000", "--depth", "60",
            "--seed", "0", "--max-term", "25", "--json"]  # fmt: skip
    proc = subprocess.Popen(
        argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        line = proc.stderr.readline()  # the first progress line: the walks are running
        assert "walks" in line and "distinct" in line, line
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 130, err
    result = last_json(out)
    assert result["verdict"] == "interrupted" and 0 < result["walks"] < 10**9
    assert "Traceback" not in err and "interrupted" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--walks", "0", "--depth", "5", "--seed", "0"), "--walks must be from 1"),
        (("--walks", "5", "--depth", "-1", "--seed", "0"), "--depth must be from 0"),
        (("--walks", "5", "--depth", "5"), "(missing: --seed)"),
        (("--walks", "5", "--seed", "1", "--depth", "5", "--workers", "2"), "--workers does not"),
        (("--walks", "5", "--seed", "1", "--depth", "5", "--liveness"), "--liveness does not"),
        (("--walks", "5", "--seed", "1", "--depth", "5", "--continue", "--trace-out", "x.json"),
         "--trace-out names one file"),
        (("--walks", "5", "--seed", "1", "--depth", "5", "--property", "Nope"),
         "'Nope' is not an always-property"),
        (("--walks", "five", "--seed", "1", "--depth", "5"), "--walks"),
    ],
)  # fmt: skip
def test_bad_simulation_options_get_one_line_and_exit_2(args, message):
    proc = run("check", "--simulate", *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr


@pytest.mark.parametrize("option", [("--walks", "5"), ("--seed", "1"), ("--depth", "3")])
def test_simulation_options_without_simulate_are_refused(option):
    proc = run("check", "--servers", "2", *option)
    assert proc.returncode == 2
    assert f"{option[0]} goes with --simulate" in proc.stderr


# --- the walks -------------------------------------------------------------------------------


def test_walk_i_is_the_same_whatever_the_number_of_walks():
    model = RAFT.build(variant="no_step_down")
    many = simulate(model, walks=1000, depth=30, seed=7, properties=frozenset({"ElectionSafety"}))
    assert many.verdict == "violation" and many.violations[0].walk > 0
    index = many.violations[0].walk
    exactly = simulate(
        model, walks=index + 1, depth=30, seed=7, properties=frozenset({"ElectionSafety"})
    )
    assert exactly.walks == index + 1 and exactly.violations[0].path == many.violations[0].path
    alone = walk(model, seed=7, index=index, depth=30)
    assert alone.path[: len(many.violations[0].path)] == many.violations[0].path


def test_different_seeds_walk_differently():
    model = RAFT.build()
    labels = {
        seed: [[s.label() for s in walk(model, seed, i, 20).path] for i in range(5)]
        for seed in (0, 1)
    }
    assert labels[0] != labels[1]
    assert simulate(model, 50, 20, seed=0).fired != simulate(model, 50, 20, seed=1).fired


def test_coverage_figures_agree_with_the_walks_and_the_exhaustive_count():
    model = RAFT.build(servers=2)
    reachable = explore(model, symmetry=False).distinct_states  # 513 concrete states
    sim = simulate(model, walks=3000, depth=30, seed=0)
    assert sim.verdict == "ok" and sim.unwitnessed == []
    assert sim.distinct_states == reachable  # enough walks on a small space see every state
    assert sum(sim.fired.values()) == sim.steps and sim.longest <= 30
    assert sim.generated > sim.steps  # every enabled step counted, not only the one taken
    assert sim.estimate.states == pytest.approx(reachable, rel=0.02)


def test_the_estimate_sees_what_the_walks_missed():
    model = RAFT.build(servers=2)
    reachable = explore(model, symmetry=False).distinct_states
    sim = simulate(model, walks=1000, depth=30, seed=0)
    # 1000 walks miss some states; Chao2 estimates them from the states seen once or twice.
    assert sim.distinct_states < reachable
    assert sim.distinct_states < sim.estimate.states <= reachable * 1.02
    assert sim.estimate.fraction == pytest.approx(sim.distinct_states / sim.estimate.states)


def test_estimator_on_known_counts():
    # Five states seen by one walk, none by two: the bias-corrected form stays finite.
    e = estimate_states([1, 1, 1, 1, 1], walks=5)
    assert e.states == pytest.approx(5 + 4 / 5 * 5 * 4 / 2)
    # Every state seen by every walk: nothing is left to find.
    full = estimate_states([10] * 7, walks=10)
    assert (full.states, full.fraction, full.sample_coverage) == (7, 1.0, 1.0)


def test_bad_arguments_to_simulate_are_refused():
    with pytest.raises(ValueError, match="walks must be >= 1"):
        simulate(RAFT.build(), walks=0, depth=3, seed=0)
