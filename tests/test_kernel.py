"""The compiled kernel against the readable model: encoding, successors, symmetry."""

from __future__ import annotations

import copy

from hypothesis import given, settings
from hypothesis import strategies as st

from checker.search.compiled import compile_actor_model
from checker.search.generic import GenericKernel
from spec.raft_election import RaftElection
from tests.strategies import reachable_states

_KERNELS: dict = {}


def kernel_for(model: RaftElection, symmetric: bool = True):
    key = (tuple(model.parameters.items()), symmetric)
    if key not in _KERNELS:
        _KERNELS[key] = compile_actor_model(model, symmetric)
    return _KERNELS[key]


@given(reachable_states())
def test_encode_decode_round_trip(case):
    model, state = case
    kernel = kernel_for(model)
    assert kernel.decode(kernel.encode(state)) == state


@given(reachable_states())
def test_compiled_successors_are_the_models_successors(case):
    model, state = case
    kernel = kernel_for(model, symmetric=False)
    packed = kernel.encode(state)
    compiled = {(kernel.action_labels[aid], nxt) for aid, nxt in kernel.expand(packed)}
    readable = set()
    for step in model.steps(state):
        if step.state != state:
            label = step.action
            if step.action == "Receive":
                label = f"Receive({step.params['m'].kind})"
            readable.add((label, kernel.encode(step.state)))
    assert compiled == readable


@given(reachable_states(), st.randoms(use_true_random=False))
def test_canonical_form_is_the_same_for_every_permutation(case, rnd):
    model, state = case
    kernel = kernel_for(model)
    canonical = kernel.canonical(kernel.encode(state))
    for perm in model.permutations():
        renamed = model.permute(state, perm)
        assert kernel.canonical(kernel.encode(renamed)) == canonical
    # The representative is itself a member of the orbit.
    orbit = {kernel.encode(model.permute(state, p)) for p in model.permutations()}
    assert canonical in orbit


@settings(max_examples=50)
@given(reachable_states())
def test_generic_canonical_form_is_orbit_invariant(case):
    model, state = case
    kernel = GenericKernel(model, symmetric=True)
    forms = {kernel.canonical(model.permute(state, p)) for p in model.permutations()}
    assert len(forms) == 1


@given(reachable_states())
def test_successor_generation_never_mutates_its_input(case):
    model, state = case
    before = copy.deepcopy(state)
    steps = list(model.steps(state))
    assert state == before
    for step in steps:  # and a successor never shares mutable structure with its parent
        list(model.steps(step.state))
        assert state == before


@given(reachable_states())
def test_properties_on_packed_states_match_the_readable_properties(case):
    model, state = case
    kernel = kernel_for(model)
    readable_ok = all(p.holds(state) for p in model.properties() if p.kind == "always")
    assert kernel.violates(kernel.encode(state)) == (not readable_ok)
