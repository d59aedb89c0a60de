"""Replay model traces against the implementation and report the first divergence.

Each trace runs on fresh nodes (checker/conformance.py). After every step the engine compares
every server's term, voted_for, role and votes, the durable term and vote on disk, and the
messages the step sent, with the trace's next state and the action's sends. The first
difference is a divergence, reported with the step, the action, a field-by-field diff
(expected vs actual) classified as missing message, unexpected message or state mismatch, and
the command that reruns exactly that trace. An exception inside the implementation is a
divergence carrying its message.

>>> from spec.raft_election import RaftElection
>>> from checker.traces import trace_from_actions
>>> trace = trace_from_actions(RaftElection(3, 1), [("Timeout", {"s": 1})])
>>> replay_trace(trace).verdict
'conforms'
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checker.conformance import RaftCluster, default_data_root
from checker.traces import Trace, read_trace
from spec.raft_election import Message, Server

MISSING, UNEXPECTED, MISMATCH = "missing message", "unexpected message", "state mismatch"
RAISED = "implementation raised"


@dataclass(frozen=True)
class Difference:
    """One field where the implementation and the model disagree."""

    kind: str  # MISSING | UNEXPECTED | MISMATCH | RAISED
    field: str
    expected: str
    actual: str

    def line(self) -> str:
        return f"{self.kind:<20} {self.field}: expected {self.expected}, actual {self.actual}"


@dataclass
class ReplayResult:
    """The outcome of one trace: conforms, or the first step that diverges and how."""

    trace: str
    verdict: str  # "conforms" | "diverges"
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
        lines.append(f"  rerun: electkit replay {shlex.quote(self.trace)}")
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


def replay_file(path: str | Path, data_root: str | None = None, node_class=None) -> ReplayResult:
    """Read (and validate) a trace file, then replay it."""
    trace = read_trace(path)
    return replay_trace(trace, str(path), data_root, node_class)


def replay_trace(
    trace: Trace, name: str = "<trace>", data_root: str | None = None, node_class=None
) -> ReplayResult:
    """Replay ``trace`` step by step on fresh nodes; stop at the first divergence."""
    start = time.perf_counter()
    result = ReplayResult(
        name,
        "conforms",
        expect=trace.meta.get("expect", "conforms"),
        expect_step=trace.meta.get("expect_step"),
    )
    servers = trace.model.parameters["servers"]
    extra = {"node_class": node_class} if node_class is not None else {}
    with RaftCluster(servers, data_root or default_data_root(), **extra) as cluster:
        diff = compare(trace.init.locals, frozenset(), cluster.observe(frozenset()), None)
        if diff:
            return _diverged(result, 0, "(initial state)", diff, start)
        before, known = trace.init, [None] * servers
        for index, step in enumerate(trace.steps, start=1):
            try:
                sends = cluster.apply(step.action, dict(step.params))
                observed = cluster.observe(sends)
            except Exception as exc:  # noqa: BLE001 - the implementation's failure is a finding
                error = Difference(
                    RAISED, step.label(), "no exception", f"{type(exc).__name__}: {exc}"
                )
                return _diverged(result, index, step.label(), [error], start)
            diff = compare(step.state.locals, step.sends, observed, step)
            known = known_leaders(known, before, step)
            diff += compare_notifications(before, step, observed, known)
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


def compare(
    expected: tuple[Server, ...], expected_sends: frozenset[Message], observed, step
) -> list[Difference]:
    """Field-by-field differences between the model's prediction and what the node did."""
    diff = []
    want, got = set(expected_sends), set(observed.sends)
    diff += [Difference(MISSING, "sends", str(m), "not sent") for m in _sorted(want - got)]
    diff += [Difference(UNEXPECTED, "sends", "not sent", str(m)) for m in _sorted(got - want)]
    for s, (model_srv, impl_srv) in enumerate(zip(expected, observed.servers, strict=True), 1):
        for name in Server._fields:
            a, b = getattr(model_srv, name), getattr(impl_srv, name)
            if a != b:
                diff.append(Difference(MISMATCH, f"{name}[{s}]", _show(a), _show(b)))
    for s, (model_srv, (term, voted_for)) in enumerate(
        zip(expected, observed.durable, strict=True), 1
    ):
        if (model_srv.term, model_srv.voted_for) != (term, voted_for):
            diff.append(
                Difference(
                    MISMATCH,
                    f"durable[{s}]",
                    f"term {model_srv.term}, voted_for {_show(model_srv.voted_for)}",
                    f"term {term}, voted_for {_show(voted_for)} on disk",
                )
            )
    return diff


def known_leaders(known: list[int | None], before, step) -> list[int | None]:
    """Whom each server should name as leader after ``step`` (the application's leader hint).

    Not a model variable, but fixed by the trace: a leader names itself; a server that
    received a Heartbeat of its current term names its sender; a new term, a Timeout or a
    Restart forgets the leader.
    """
    known = list(known)
    m = step.params.get("m")
    s = m.dst if m is not None else step.params["s"]
    old, new = before.locals[s - 1], step.state.locals[s - 1]
    if new.term != old.term or step.action in ("Timeout", "Restart"):
        known[s - 1] = None
    if m is not None and m.kind == "Heartbeat" and m.term == new.term and new.role != "leader":
        known[s - 1] = m.src
    if new.role == "leader":
        known[s - 1] = s
    return known


def compare_notifications(before, step, observed, known) -> list[Difference]:
    """What the node tells the application, against what the model's step implies.

    The model has no `leader` variable and no callbacks, but it fixes them: the acting server
    became leader iff its role changed to leader, stepped down iff its role left leader; Raft
    §5.2 resets the election timer on a Timeout, a granted vote and a current-term Heartbeat;
    and every server's leader hint is :func:`known_leaders`.
    """
    diff = []
    m = step.params.get("m")
    s = m.dst if m is not None else step.params["s"]
    old, new = before.locals[s - 1], step.state.locals[s - 1]
    if observed.notified is not None:
        granted_vote = any(x.kind == "Vote" and x.granted for x in step.sends)
        expected = {
            "became_leader": old.role != "leader" and new.role == "leader",
            "stepped_down": old.role == "leader" and new.role != "leader",
            "reset_election_timer": step.action == "Timeout"
            or (m is not None and m.kind == "RequestVote" and granted_vote)
            or (
                m is not None
                and m.kind == "Heartbeat"
                and m.term == new.term
                and new.role != "leader"
            ),
        }
        for name, want in expected.items():
            if observed.notified[name] != want:
                diff.append(
                    Difference(MISMATCH, f"{name}[{s}]", str(want), str(observed.notified[name]))
                )
    for server, (want, got) in enumerate(zip(known, observed.leaders, strict=True), 1):
        if want != got:
            diff.append(Difference(MISMATCH, f"leader[{server}]", _show(want), _show(got)))
    return diff


def _sorted(messages) -> list[Message]:
    return sorted(messages, key=lambda m: (m.kind, m.term, m.src, m.dst, bool(m.granted)))


def _show(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, frozenset):
        return "{" + ", ".join(str(v) for v in sorted(value)) + "}"
    return str(value)


def collect_traces(paths: list[str]) -> list[Path]:
    """The trace files named, folders searched recursively for ``*.json``, in sorted order."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*.json") if p.is_file())
        else:
            files.append(path)
    return files


def corpus_traces(folder: Path) -> list[Path]:
    """The regression corpus under ``folder``: every trace but the scratch output of
    ``electkit check`` / ``prove`` in ``counterexamples/`` (commit one elsewhere to keep it)."""
    return [p for p in collect_traces([str(folder)]) if "counterexamples" not in p.parts]


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
