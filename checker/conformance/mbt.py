"""Model-based testing for any protocol: random schedules of its model, replayed against its
implementation through its adapter; a divergence shrinks (hypothesis) to a short schedule.

A schedule is a list of choices, each naming an action kind among those enabled and one of
its enabled instances (by index, modulo their number): deleting a choice leaves the others'
meaning nearly intact, so a failing schedule shrinks well. :func:`run_conformance_test` is the
ready-made test a plug-in author runs against their own bundle (as Hypothesis offers
``run_conformance_test`` for its providers; tests/test_example_ring.py runs it).
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis import strategies as st

from checker.conformance.replay import ReplayResult, replay_trace
from checker.protocols.bundle import Bundle, shown
from checker.protocols.registry import spec_option
from checker.traces import Trace, dumps, to_itf, write_trace
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


def find_divergence(
    bundle: Bundle,
    parameters: Mapping[str, Any] | None = None,
    *,
    max_examples: int = 100,
    max_steps: int = 40,
    shrink: bool = True,
    **options: Any,
) -> tuple[Trace, ReplayResult] | None:
    """The first random schedule of ``bundle``'s model at ``parameters`` that its adapter does
    not follow (shrunk unless ``shrink=False``), cut after the diverging step, with its
    replay; None when every schedule conforms. ``options`` go to the adapter."""
    model = bundle.build(**dict(parameters or {}))
    phases = tuple(p for p in Phase if shrink or p not in (Phase.shrink, Phase.explain))
    found: list[tuple[Trace, ReplayResult]] = []

    @settings(
        max_examples=max_examples,
        database=None,
        deadline=None,
        derandomize=True,  # the same schedules every run: a gate must be deterministic
        phases=phases,
        verbosity=Verbosity.quiet,  # the caller reports the divergence its own way
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(schedules(model, max_steps))
    def conforms(trace: Trace) -> None:
        result = replay_trace(trace, "<schedule>", **options)
        if result.verdict != "conforms":
            trace.steps = trace.steps[: result.step]  # the schedule up to its divergence
            found.append((trace, result))  # the last one is hypothesis's final (shrunk) run
            raise AssertionError(result.report())

    try:
        conforms()
    except AssertionError:
        return found[-1]
    return None


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
    found = find_divergence(
        bundle, parameters, max_examples=max_examples, max_steps=max_steps, **options
    )
    if found is not None:
        raise AssertionError(found[1].report())


def mbt_for_gate(
    bundle: Bundle,
    bounds: Sequence[Mapping[str, Any]],
    examples: int,
    shrink: bool = True,
    out: Path | None = None,
    **options: Any,
) -> tuple[bool, str]:
    """Random schedules at each bound, in order, until one diverges: (passed, one-line
    summary). A divergence is written as a trace file under ``out`` (default: a temporary
    folder), so that ``electkit replay`` reruns it as is. ``options`` go to the adapter."""
    for parameters in bounds:
        found = find_divergence(
            bundle, parameters, max_examples=examples, shrink=shrink, **options
        )
        if found is None:
            continue
        trace, result = found
        text = dumps(to_itf(trace))
        folder = out or Path(tempfile.gettempdir()) / "electkit-mbt"
        digest = hashlib.sha256(text.encode()).hexdigest()[:12]
        path = write_trace(trace, folder / f"mbt-{digest}.itf.json")
        where = " ".join(f"{k}={shown(v)}" for k, v in parameters.items())
        first = result.diff[0].line() if result.diff else ""
        return False, (
            f"{where}: diverges at step {result.step}: {result.action}; {first}; "
            f"rerun: electkit replay {spec_option(bundle.name)}{path}"
        )
    bounds_shown = "; ".join(" ".join(f"{k}={shown(v)}" for k, v in p.items()) for p in bounds)
    return True, f"{examples} schedules per bound conform ({bounds_shown})"
