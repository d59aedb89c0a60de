"""Replay model traces against an implementation and report the first divergence.

Each trace runs on a fresh system under test, built by its protocol's conformance adapter
(checker/conformance/adapter.py). After every step the engine compares the messages the step
sent and every variable the adapter observes with the trace's next state, then runs the
adapter's own extra checks. The first difference is a divergence, reported with the step, the
action, a field-by-field diff (expected vs actual) classified as missing message, unexpected
message or state mismatch, and the command that reruns exactly that trace. An exception inside
the implementation is a divergence carrying its message.
"""

from __future__ import annotations

import contextlib
import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checker.conformance.adapter import (
    MISMATCH,
    MISSING,
    RAISED,
    UNEXPECTED,
    Difference,
    default_data_root,
)
from checker.errors import ElectkitError
from checker.protocols.registry import bundle_named, spec_option
from checker.traces import Trace, read_trace, show
from spec.model import Model

__all__ = ["MISMATCH", "MISSING", "RAISED", "UNEXPECTED", "Difference", "ReplayResult"]


@dataclass
class ReplayResult:
    """The outcome of one trace: conforms, or the first step that diverges and how."""

    trace: str
    verdict: str  # "conforms" | "diverges"
    spec: str = ""
    step: int | None = None
    action: str | None = None
    diff: list[Difference] = field(default_factory=list)
    steps: int = 0
    seconds: float = 0.0
    expect: str = "conforms"
    expect_step: int | None = None

    @property
    def as_expected(self) -> bool:
        """Whether the verdict (and, for an expected divergence, the step) is what #meta says."""
        if self.verdict != self.expect:
            return False
        return self.expect_step is None or self.step == self.expect_step

    def report(self) -> str:
        """The human report: the divergence, its diff, and the command that reruns it."""
        if self.verdict == "conforms":
            return f"{self.trace}: conforms ({self.steps} steps)"
        lines = [f"{self.trace}: diverges at step {self.step}: {self.action}"]
        lines += [f"  {d.line()}" for d in self.diff]
        lines.append(f"  rerun: electkit replay {spec_option(self.spec)}{shlex.quote(self.trace)}")
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        return {
            "trace": self.trace,
            "verdict": self.verdict,
            "step": self.step,
            "action": self.action,
            "diff": [d.__dict__ for d in self.diff],
            "expect": self.expect,
            "expect_step": self.expect_step,
            "as_expected": self.as_expected,
        }


def replay_file(path: str | Path, data_root: str | None = None, **options: Any) -> ReplayResult:
    """Read (and validate) a trace file, then replay it."""
    trace = read_trace(path)
    return replay_trace(trace, str(path), data_root, **options)


def replay_trace(
    trace: Trace, name: str = "<trace>", data_root: str | None = None, **options: Any
) -> ReplayResult:
    """Replay ``trace`` step by step on a fresh system; stop at the first divergence.

    ``options`` go to the protocol's adapter (``electkit mutate`` passes a mutant class).
    """
    start = time.perf_counter()
    result = ReplayResult(
        name,
        "conforms",
        trace.model.name,
        expect=trace.meta.get("expect", "conforms"),
        expect_step=trace.meta.get("expect_step"),
    )
    model = trace.model
    bundle = bundle_named(model.name)
    if bundle.adapter is None:
        raise ElectkitError(
            f"{name}: the protocol {model.name} has no conformance adapter, so there is no "
            "implementation to replay it against (see docs/tutorial.md, 'An adapter')"
        )
    options = {k: v for k, v in options.items() if v is not None}
    adapter = bundle.adapter(
        dict(model.parameters), data_root=data_root or default_data_root(), **options
    )
    with contextlib.closing(adapter):
        view = getattr(adapter, "view", model.to_json)  # what of a state the adapter can show
        diff = compare_view(model, trace.init, adapter.observe(), view)
        if diff:
            return _diverged(result, 0, "(initial state)", diff, start)
        before = trace.init
        extra_checks = getattr(adapter, "extra_checks", None)
        for index, step in enumerate(trace.steps, start=1):
            try:
                sends = frozenset(adapter.apply(step.action, dict(step.params)))
                diff = compare_sends(model, step.sends, sends)
                diff += compare_view(model, step.state, adapter.observe(), view)
                if extra_checks is not None:
                    diff += extra_checks(before, step)
            except Exception as exc:  # noqa: BLE001 - the implementation's failure is a finding
                error = Difference(
                    RAISED, step.label(), "no exception", f"{type(exc).__name__}: {exc}"
                )
                return _diverged(result, index, step.label(), [error], start)
            if diff:
                return _diverged(result, index, step.label(), diff, start)
            result.steps = index
            before = step.state
    result.seconds = time.perf_counter() - start
    return result


def _diverged(result: ReplayResult, index: int, label: str, diff, start: float) -> ReplayResult:
    result.verdict, result.step, result.action, result.diff = "diverges", index, label, diff
    result.steps = index
    result.seconds = time.perf_counter() - start
    return result


def compare_sends(model: Model, expected: frozenset, actual: frozenset) -> list[Difference]:
    """The messages the model's step sends that the implementation did not, and vice versa."""

    def ordered(messages):
        return sorted(messages, key=model.message_key)

    diff = [
        Difference(MISSING, "sends", model.describe(m), "not sent")
        for m in ordered(expected - actual)
    ]
    diff += [
        Difference(UNEXPECTED, "sends", "not sent", model.describe(m))
        for m in ordered(actual - expected)
    ]
    return diff


def compare_view(model: Model, state: Any, observed: Any, view=None) -> list[Difference]:
    """Entry-by-entry differences between the model's state and the observed view.

    Only the variables the adapter observes are compared; a per-server map (``#map``) is
    compared key by key and named ``var[key]``. ``view`` makes the expected view of a state
    (default: the model's JSON view; an adapter may show less, or show it otherwise).
    """
    expected = (view or model.to_json)(state)
    diff = []
    for var, got in observed.items():
        want = expected.get(var)
        if want == got:
            continue
        if isinstance(want, dict) and "#map" in want and isinstance(got, dict) and "#map" in got:
            wanted, gotten = dict(_keyed(want)), dict(_keyed(got))
            for key in sorted(set(wanted) | set(gotten), key=str):
                a, b = wanted.get(key), gotten.get(key)
                if a != b:
                    diff.append(Difference(MISMATCH, f"{var}[{key}]", _show(a), _show(b)))
        else:
            diff.append(Difference(MISMATCH, var, _show(want), _show(got)))
    return diff


def _keyed(value: dict) -> list[tuple[Any, Any]]:
    return [(k if not isinstance(k, dict) else show(k), v) for k, v in value["#map"]]


def _show(value: Any) -> str:
    return "absent" if value is None else show(value)


def collect_traces(paths: list[str]) -> list[Path]:
    """The trace files named, folders searched recursively for ``*.json``, in sorted order;
    a folder's ``counterexamples/`` (scratch output) is left out unless named itself."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        try:
            is_dir = path.is_dir()
        except OSError:  # a name too long, say: reading it will say so in one line
            is_dir = False
        if is_dir:
            files += sorted(
                p
                for p in path.rglob("*.json")
                if p.is_file() and "counterexamples" not in p.relative_to(path).parts
            )
        else:
            files.append(path)
    return files


def corpus_traces(folder: Path) -> list[Path]:
    """The regression corpus under ``folder``: every trace but the scratch output of
    ``electkit check`` / ``prove`` in ``counterexamples/`` (commit one elsewhere to keep it)."""
    return collect_traces([str(folder)])


def replay_for_gate(folder: Path) -> dict[str, Any]:
    """The verify gate's conformance stage: every trace in ``folder`` as its #meta says."""
    files = corpus_traces(folder)
    results = [replay_file(f) for f in files]
    wrong = [r for r in results if not r.as_expected]
    steps = sum(r.steps for r in results)
    summary = f"{len(results) - len(wrong)}/{len(results)} traces as expected, {steps} steps"
    if wrong:
        summary += "; first unexpected: " + wrong[0].report().replace("\n", " | ")
    return {"passed": bool(results) and not wrong, "summary": summary, "traces": len(results)}


def replay_cover_for_gate(model, **options) -> dict:
    """The verify gate's stage: the model's cover suite replayed against the implementation.

    Returns ``passed``, ``summary``, ``traces``, ``steps`` (the shape of
    :func:`replay_for_gate`); ``options`` go to the adapter.
    """
    from checker.graph.cover import cover_suite_with_report

    suite, report = cover_suite_with_report(model)
    results = [replay_trace(t, f"cover trace {i}", **options) for i, t in enumerate(suite, start=1)]
    wrong = [r for r in results if r.verdict != "conforms"]
    summary = (
        f"{len(results) - len(wrong)}/{len(results)} cover traces conform, "
        f"{report.transitions} transitions, {sum(r.steps for r in results)} steps"
    )
    if wrong:
        summary += "; first divergence: " + wrong[0].report().replace("\n", " | ")
    return {
        "passed": not wrong,
        "summary": summary,
        "traces": len(results),
        "steps": report.steps,
    }
