"""spec/lease_election: each property's verdict, its shortest counterexample, the JSON view."""

from __future__ import annotations

from collections import deque

import pytest

from checker.search.explore import explore
from spec.lease_election import ACTIONS, LEADER, VARIANTS, LeaseElection
from spec.model import ModelError, find_step

ALWAYS = ("StoreExclusion", "BeliefExclusion", "FencedWrites", "CampaignSound")

# (options, {property: shortest counterexample length}); every property not named holds.
CASES = [
    ({}, {"BeliefExclusion": 10}),
    ({"pauses": False}, {}),
    ({"pauses": False, "late_replies": True}, {"BeliefExclusion": 11}),
    ({"variant": "unfenced_resource"}, {"BeliefExclusion": 10, "FencedWrites": 13}),
    ({"variant": "no_step_down", "pauses": False}, {"BeliefExclusion": 9}),
    (
        {"variant": "no_step_down", "pauses": False, "fencing": False},
        {"BeliefExclusion": 9, "FencedWrites": 11},
    ),
    ({"variant": "campaign_ignores_expiry"}, {"BeliefExclusion": 10, "CampaignSound": 8}),
]


def verdicts(model: LeaseElection) -> dict:
    """Each property's verdict and shortest counterexample length: search with every property
    not yet violated until the rest hold (a later one's shortest is never shorter)."""
    out, remaining = {}, set(ALWAYS)
    while remaining:
        result = explore(model, symmetry=True, properties=frozenset(remaining))
        if result.verdict == "ok":
            assert not result.unwitnessed, result.unwitnessed  # never a vacuous pass
            out.update(dict.fromkeys(remaining, ("ok", None)))
            break
        out[result.property] = ("violation", len(result.path))
        remaining.discard(result.property)
    return out


@pytest.mark.parametrize("options, failures", CASES, ids=lambda v: str(v))
def test_each_property_at_two_clients(options, failures):
    model = LeaseElection(clients=2, ttl=2, max_revision=3, **options)
    expected = {p: ("violation", failures[p]) if p in failures else ("ok", None) for p in ALWAYS}
    assert verdicts(model) == expected


@pytest.mark.slow
@pytest.mark.parametrize("options, failures", CASES, ids=lambda v: str(v))
def test_each_property_at_three_clients(options, failures):
    model = LeaseElection(clients=3, ttl=2, max_revision=4, **options)
    expected = {p: ("violation", failures[p]) if p in failures else ("ok", None) for p in ALWAYS}
    assert verdicts(model) == expected


def test_the_pause_counterexample_reexecuted_step_by_step():
    """BeliefExclusion's counterexample: each step enabled, only the last state violates it."""
    model = LeaseElection(clients=2, ttl=2, max_revision=4)
    result = explore(model, symmetry=True, properties=frozenset({"BeliefExclusion"}))
    labels = [step.label() for step in result.path]
    assert labels[3] == "Pause(c=1)" and "Expire(c=1)" in labels and labels[-1] == "Elected(c=2)"
    belief = next(p for p in model.properties() if p.name == "BeliefExclusion")
    state = model.init_states()[0]
    for step in result.path:
        assert belief.holds(state)
        again = find_step(model, state, step.action, step.params)
        assert again is not None and again.state == step.state
        state = again.state
    assert not belief.holds(state)
    assert [me.phase for me in state.clients] == [LEADER, LEADER]


def test_with_fencing_the_stale_write_of_the_unfenced_trace_is_disabled():
    unfenced = LeaseElection(clients=2, variant="unfenced_resource")
    result = explore(unfenced, symmetry=True, properties=frozenset({"FencedWrites"}))
    *prefix, last = result.path
    assert last.label() == "Act(c=1)"
    fenced = LeaseElection(clients=2)
    state = fenced.init_states()[0]
    for step in prefix:
        state = find_step(fenced, state, step.action, step.params).state
    assert find_step(fenced, state, "Act", {"c": 1}) is None  # the resource refuses it


def reachable(model: LeaseElection, limit: int = 3000) -> list:
    seen, queue = set(model.init_states()), deque(model.init_states())
    while queue and len(seen) < limit:
        for step in model.steps(queue.popleft()):
            if step.state not in seen:
                seen.add(step.state)
                queue.append(step.state)
    return list(seen)


@pytest.mark.parametrize("options", [{}, {"observe": True, "late_replies": True}])
def test_json_round_trip_and_symmetry(options):
    model = LeaseElection(clients=3, **options)
    states = reachable(model)
    assert len(states) >= 3000
    for state in states:
        assert model.from_json(model.to_json(state)) == state
        swapped = model.permute(state, (0, 2, 1, 3))
        assert model.permute(swapped, (0, 2, 1, 3)) == state
        for step in model.steps(state):
            action, params = model.action_from_json(model.action_to_json(step))
            assert find_step(model, state, action, params) == step
            moved = {k: (0, 2, 1, 3)[v] for k, v in params.items()}
            assert find_step(model, swapped, action, moved).state == model.permute(
                step.state, (0, 2, 1, 3)
            )


def test_symmetry_changes_counts_not_verdicts():
    model = LeaseElection(clients=2, ttl=2, max_revision=3, pauses=False)
    plain, reduced = explore(model, symmetry=False), explore(model, symmetry=True)
    assert plain.verdict == reduced.verdict == "ok"
    assert reduced.distinct_states < plain.distinct_states


def test_from_json_names_what_is_wrong():
    model = LeaseElection(clients=2)
    view = model.to_json(model.init_states()[0])
    view["phase"] = {"#map": [[1, "boss"], [2, "none"]]}
    with pytest.raises(ValueError, match="phase 'boss' is not one of"):
        model.from_json(view)
    with pytest.raises(ValueError, match="unknown action 'Fly'"):
        model.action_from_json({"action": "Fly", "params": {}})
    assert "Tick" in ACTIONS


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"clients": 0}, "clients must be a whole number >= 1"),
        ({"ttl": True}, "ttl must be a whole number"),
        ({"pauses": "yes"}, "pauses must be true or false"),
        ({"variant": "nope"}, "unknown variant 'nope' of lease_election; valid: "),
    ],
)
def test_bad_parameters_are_refused_in_one_line(kwargs, message):
    with pytest.raises(ModelError, match=message):
        LeaseElection(**kwargs)
    assert set(VARIANTS) == {"unfenced_resource", "no_step_down", "campaign_ignores_expiry"}


@pytest.mark.parametrize("module", ["spec.lease_election", "spec.lease_logic"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module))
    assert result.failed == 0 and result.attempted > 0
