"""The raft_election corpus: what a trace covers, and how traces/raft_election/ is built.

``build`` writes, from the model alone, ``variants/`` (the shortest ElectionSafety
counterexample of each faulty variant, marked to diverge where it departs from the model) and
``correct/`` (a one-server election and random walks that together cover every action kind,
message type, restart and role change: :data:`REQUIRED_FEATURES`).
"""

from __future__ import annotations

from pathlib import Path

from checker.protocols.raft_election.bundle import REQUIRED_FEATURES, WALK_CHOICES
from checker.protocols.registry import bundle_named
from checker.traces.corpus import covering_walks, default_features, variant_trace
from checker.traces.itf import Trace, trace_from_actions, write_trace
from spec.actor import action_kind
from spec.raft_election import RaftElection

__all__ = ["REQUIRED_FEATURES", "WALK_CHOICES", "build", "features"]


def features(trace: Trace) -> set[str]:
    """What a trace exercises: action kinds, messages sent (votes granted or denied), and
    role changes by action."""
    found = default_features(trace)
    before = trace.init
    for step in trace.steps:
        kind = action_kind(step)
        for m in step.sends:
            if m.granted is not None:
                found.add(f"send {m.kind} {'granted' if m.granted else 'denied'}")
        s = step.params["m"].dst if "m" in step.params else step.params["s"]
        old, new = before.locals[s - 1].role, step.state.locals[s - 1].role
        if old != new or step.action in ("Timeout", "Restart"):
            found.add(f"{old}->{new} by {kind}")
        before = step.state
    return found


def build(out: Path) -> list[Path]:
    """Write the corpus under ``out``; returns the files written."""
    bundle = bundle_named("raft_election")
    written = []
    for case in bundle.gate.variants:
        if case.expected != "violation":
            continue
        servers = case.parameters["servers"]
        trace = variant_trace(bundle, case.variant, **case.parameters)
        path = (
            out / "variants" / f"{case.variant}-N{servers}-T{case.parameters['max_term']}.itf.json"
        )
        written.append(write_trace(trace, path))
    single = trace_from_actions(
        RaftElection(1, 2),
        [
            ("Timeout", {"s": 1}),
            ("Heartbeat", {"s": 1}),
            ("Restart", {"s": 1}),
            ("Timeout", {"s": 1}),
        ],
        {
            "verdict": "sample",
            "expect": "conforms",
            "description": "a cluster of one elects itself at once, twice across a restart",
        },
    )
    written.append(write_trace(single, out / "correct" / "single-server.itf.json"))
    for index, walk in enumerate(covering_walks(bundle), start=1):
        p = walk.model.parameters
        name = f"walk-{index:02d}-N{p['servers']}-T{p['max_term']}.itf.json"
        written.append(write_trace(walk, out / "correct" / name))
    return written
