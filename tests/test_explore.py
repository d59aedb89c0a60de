"""The exhaustive search: reference figures, verdicts, shortest counterexamples."""

from __future__ import annotations

import pytest

from checker.search.explore import explore
from checker.traces import read_trace, trace_from_actions, write_trace
from spec.model import find_step
from spec.raft_election import VARIANTS, RaftElection

REFERENCE = [  # docs/model.md: (N, T, distinct states, orbits, depth)
    (2, 2, 513, 263, 10),
    (3, 1, 1002, 191, 12),
]


@pytest.mark.parametrize("generic", [False, True], ids=["compiled", "generic"])
@pytest.mark.parametrize(("n", "t", "distinct", "orbits", "depth"), REFERENCE)
def test_reference_figures(n, t, distinct, orbits, depth, generic):
    plain = explore(RaftElection(n, t), symmetry=False, generic=generic)
    reduced = explore(RaftElection(n, t), symmetry=True, generic=generic)
    assert (plain.verdict, plain.distinct_states, plain.depth) == ("ok", distinct, depth)
    assert (reduced.verdict, reduced.distinct_states, reduced.depth) == ("ok", orbits, depth)
    assert plain.witnessed == ["LeaderElected"]


@pytest.mark.parametrize("symmetry", [False, True])
def test_default_bound_every_property_holds(symmetry):
    result = explore(RaftElection(3, 2), symmetry=symmetry)
    assert result.verdict == "ok"
    assert result.property is None
    assert result.distinct_states == (151_784 if symmetry else 907_808)
    assert result.depth == 21
    assert result.unwitnessed == []
    fired = {c.action: c.fired for c in result.coverage}
    assert all(fired[action] > 0 for action in fired), fired


@pytest.mark.parametrize(("n", "t"), [(2, 2), (3, 1), (2, 3)])
@pytest.mark.parametrize("restart", [True, False])
def test_compiled_kernel_agrees_with_generic(n, t, restart):
    for symmetry in (False, True):
        fast = explore(RaftElection(n, t, restart), symmetry=symmetry)
        slow = explore(RaftElection(n, t, restart), symmetry=symmetry, generic=True)
        assert (fast.distinct_states, fast.generated_states, fast.depth) == (
            slow.distinct_states,
            slow.generated_states,
            slow.depth,
        )
        assert {c.action: c.fired for c in fast.coverage if c.fired} == {
            c.action: c.fired for c in slow.coverage
        }


CAUGHT = [(v, 3) for v in VARIANTS if v != "quorum_off_by_one"] + [
    ("quorum_off_by_one", 2),
    ("quorum_off_by_one", 4),
]


def _replays(model, result) -> None:
    """Each step of the counterexample is an enabled action leading to the recorded state."""
    state = result.init_state
    assert state in model.init_states()
    for step in result.path:
        again = find_step(model, state, step.action, step.params)
        assert again is not None, f"{step.label()} is not enabled"
        assert again.state == step.state
        state = step.state
    assert any(p.kind == "always" and not p.holds(state) for p in model.properties())


@pytest.mark.parametrize(("variant", "n"), CAUGHT)
@pytest.mark.parametrize("only", [None, frozenset({"ElectionSafety"})], ids=["all", "safety"])
def test_faulty_variant_caught_with_shortest_counterexample(variant, n, only):
    model = RaftElection(n, 2, variant=variant)
    reduced = explore(model, symmetry=True, properties=only)
    plain = explore(model, symmetry=False, properties=only)
    assert reduced.verdict == plain.verdict == "violation"
    assert reduced.property == plain.property
    if only:
        assert reduced.property == "ElectionSafety"
    # Breadth first: no shorter counterexample exists, with or without symmetry.
    assert len(reduced.path) == len(plain.path) == reduced.depth
    _replays(model, reduced)
    _replays(model, plain)


def test_quorum_off_by_one_holds_at_three_servers():
    assert explore(RaftElection(3, 2, variant="quorum_off_by_one")).verdict == "ok"


def test_counterexample_is_deterministic():
    model = RaftElection(3, 2, variant="volatile_vote")
    first = explore(model, properties=frozenset({"ElectionSafety"}))
    second = explore(model, properties=frozenset({"ElectionSafety"}))
    assert [s.label() for s in first.path] == [s.label() for s in second.path]


def test_counterexample_trace_file_replays_in_the_model(tmp_path):
    model = RaftElection(3, 2, variant="no_step_down")
    result = explore(model, properties=frozenset({"ElectionSafety"}))
    trace = trace_from_actions(model, [(s.action, s.params) for s in result.path])
    path = write_trace(trace, tmp_path / "cex.itf.json")
    again = read_trace(path)
    assert again.states == [result.init_state] + [s.state for s in result.path]


def test_no_restart_is_smaller_and_safe():
    with_restart = explore(RaftElection(3, 1), symmetry=False)
    without = explore(RaftElection(3, 1, restart=False), symmetry=False)
    assert without.verdict == "ok"
    assert without.distinct_states < with_restart.distinct_states
    assert "Restart" not in {c.action for c in without.coverage if c.fired}


@pytest.mark.parametrize("symmetry", [False, True])
def test_workers_give_the_same_result(symmetry):
    for model in (
        RaftElection(3, 1),
        RaftElection(2, 3),
        RaftElection(3, 2, variant="stale_votes"),
    ):
        one = explore(model, symmetry=symmetry)
        two = explore(model, symmetry=symmetry, workers=2)
        assert (
            two.verdict,
            two.property,
            two.distinct_states,
            two.generated_states,
            two.depth,
        ) == (one.verdict, one.property, one.distinct_states, one.generated_states, one.depth)
        assert [(c.action, c.fired, c.changed, c.new_states) for c in two.coverage] == [
            (c.action, c.fired, c.changed, c.new_states) for c in one.coverage
        ]
        if one.path is not None:
            assert [s.label() for s in two.path] == [s.label() for s in one.path]


def test_a_bound_where_no_leader_can_exist_is_a_vacuous_pass_not_ok():
    result = explore(RaftElection(3, 0))
    assert result.verdict == "violation" and result.vacuous
    assert result.property == "LeaderElected" and result.path is None
    assert result.unwitnessed == ["LeaderElected"]
