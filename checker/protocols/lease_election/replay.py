"""Replay a lease_election trace through impl/lease on a live etcd; the first divergence.

Each step is applied through :class:`LeaseAdapter`, then the implementation is observed and
compared with the model's state, field by field in a fixed order; the first field that
differs is the divergence (step, action, field, expected, actual).

>>> from spec.lease_election import LeaseElection
>>> from checker.traces import trace_from_actions
>>> trace = trace_from_actions(LeaseElection(clients=1), [("Session", {"c": 1})])
>>> replay(trace, etcd.url, tmp).conforms  # doctest: +SKIP
True
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checker.errors import ElectkitError
from checker.protocols.lease_election.adapter import LeaseAdapter, model_view
from checker.traces import Trace, TraceError, trace_from_actions
from impl.lease.etcd_client import EtcdError
from spec.lease_election import LeaseElection
from spec.model import ModelError


@dataclass(frozen=True)
class Divergence:
    """Where the implementation first differs from the trace."""

    step: int
    action: str
    field: str
    expected: Any
    actual: Any

    def __str__(self) -> str:
        return (
            f"step {self.step} ({self.action}): {self.field}: expected {self.expected!r}, "
            f"implementation has {self.actual!r}"
        )


@dataclass(frozen=True)
class ReplayResult:
    """The steps replayed and the first divergence, if any."""

    steps: int
    divergence: Divergence | None

    @property
    def conforms(self) -> bool:
        return self.divergence is None


def first_difference(expected: dict[str, Any], actual: dict[str, Any]) -> tuple | None:
    """The first ``(field, expected, actual)`` that differs; per-client fields as ``phase[2]``."""
    for name, want in expected.items():
        have = actual[name]
        if want == have:
            continue
        if name != "resource" and isinstance(want, list):
            for c, (a, b) in enumerate(zip(want, have, strict=True), start=1):
                if a != b:
                    return f"{name}[{c}]", a, b
        return name, want, have
    return None


def replay(
    trace: Trace, etcd_url: str, workdir: str | os.PathLike | None = None, fenced: bool = True
) -> ReplayResult:
    """Run ``trace`` step by step on impl/lease against the etcd at ``etcd_url``."""
    model = trace.model
    if not isinstance(model, LeaseElection):
        raise ElectkitError(f"not a lease_election trace (spec {model.name!r})")
    with tempfile.TemporaryDirectory(prefix="electkit-lease-") as scratch:
        adapter = LeaseAdapter(model, etcd_url, workdir or scratch, fenced=fenced)
        try:
            label = "initial state"
            diff = first_difference(model_view(model, trace.init), adapter.observe())
            if diff is not None:
                return ReplayResult(0, Divergence(0, label, *diff))
            for index, step in enumerate(trace.steps, start=1):
                adapter.apply(step.action, step.params)
                diff = first_difference(model_view(model, step.state), adapter.observe())
                if diff is not None:
                    return ReplayResult(index, Divergence(index, step.label(), *diff))
            return ReplayResult(len(trace.steps), None)
        except EtcdError as exc:
            raise ElectkitError(f"replay needs a live etcd: {exc}") from None
        finally:
            adapter.close()


def as_expected(trace: Trace, result: ReplayResult, fenced: bool = True) -> bool:
    """Whether ``result`` is what the trace's #meta expects in that resource mode."""
    suffix = "" if fenced else "_unfenced"
    expect = trace.meta.get("expect" + suffix, "conforms")
    if result.conforms:
        return expect == "conforms"
    step = trace.meta.get(f"expect{suffix}_step")
    return expect == "diverges" and (step is None or step == result.divergence.step)


def replay_file(
    path: str | os.PathLike, etcd_url: str | None = None, fenced: bool = True
) -> tuple[Trace, ReplayResult]:
    """Read a lease trace and replay it, on ``etcd_url`` or on an etcd started for it."""
    trace = read_lease_trace(path)
    if etcd_url is not None:
        return trace, replay(trace, etcd_url, fenced=fenced)
    from impl.lease.etcd_server import EtcdServer, EtcdUnavailable

    try:
        with EtcdServer() as etcd:
            return trace, replay(trace, etcd.url, fenced=fenced)
    except EtcdUnavailable as exc:
        raise ElectkitError(str(exc)) from None


def read_lease_trace(path: str | os.PathLike) -> Trace:
    """Read a lease_election ITF trace and check every recorded state against the model."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text())
        meta = doc["#meta"]
        if meta.get("spec") != "lease_election":
            raise TraceError(f"{path}: #meta.spec is {meta.get('spec')!r}, not lease_election")
        model = LeaseElection(**meta.get("parameters", {}))
        states = doc["states"]
        actions = [model.action_from_json(raw["#meta"]) for raw in states[1:]]
    except (OSError, ValueError, KeyError, TypeError, ModelError) as exc:
        raise TraceError(f"{path}: not a lease_election trace ({exc})") from None
    trace = trace_from_actions(model, actions, {k: v for k, v in meta.items() if k != "spec"})
    for index, (raw, state) in enumerate(zip(states, trace.states, strict=True)):
        recorded = {k: v for k, v in raw.items() if k != "#meta"}
        if model.to_json(state) != recorded:
            raise TraceError(f"{path}: step {index}: the recorded state is not the model's")
    trace.meta.pop("parameters", None)
    return trace
