"""Model-based testing for any protocol: random schedules of its model, replayed against its
implementation through its adapter; a divergence shrinks (hypothesis) to a short schedule.

A schedule is a list of choices, each naming an action kind among those enabled and one of
its enabled instances (by index, modulo their number): deleting a choice leaves the others'
meaning nearly intact, so a failing schedule shrinks well. :func:`run_conformance_test` is the
ready-made test a plug-in author runs against their own bundle (as Hypothesis offers
``run_conformance_test`` for its providers; tests/test_example_ring.py runs it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker.conformance.replay import replay_trace
from checker.protocols.bundle import Bundle
from checker.traces import Trace
from spec.model import Model


def schedules(model: Model, max_steps: int = 40) -> st.SearchStrategy[Trace]:
    """Traces of ``model`` from its initial state, drawn as lists of (kind, instance) choices."""
    choice = st.tuples(st.integers(0, 7), st.integers(0, 15))

    def build(choices: list[tuple[int, int]]) -> Trace:
        state = model.init_states()[0]
        init, steps = state, []
        for kind_index, instance in choices:
            options = list(model.steps(state))
            if not options:
                break
            kinds = sorted({step.action for step in options})
            kind = kinds[kind_index % len(kinds)]
            same_kind = [step for step in options if step.action == kind]
            step = same_kind[instance % len(same_kind)]
            steps.append(step)
            state = step.state
        return Trace(
            model,
            init,
            steps,
            {"expect": "conforms", "description": "found by model-based testing"},
        )

    return st.lists(choice, max_size=max_steps).map(build)


def run_conformance_test(
    bundle: Bundle,
    parameters: Mapping[str, Any] | None = None,
    *,
    max_examples: int = 100,
    max_steps: int = 40,
    **options: Any,
) -> None:
    """Replay random schedules of ``bundle``'s model at ``parameters`` against its adapter
    (``options`` go to the adapter); AssertionError with the shrunk divergence if one does
    not conform."""
    model = bundle.build(**dict(parameters or {}))

    @settings(
        max_examples=max_examples,
        database=None,
        deadline=None,
        derandomize=True,  # the same schedules every run: a gate must be deterministic
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(schedules(model, max_steps))
    def conforms(trace: Trace) -> None:
        result = replay_trace(trace, "<schedule>", **options)
        assert result.verdict == "conforms", result.report()

    conforms()
