"""`electkit validate LOGDIR`: a real run's event logs checked against the model.

Exit 0: every event fits (the run is a behaviour of the model); 1: an event does not fit, or
the logs are incomplete; 2: a log cannot be read (a line that is not JSON in the middle of a
file, an unknown event), named with its file and line. The validated prefix is written as an
ITF trace that `electkit replay` and `electkit view` take.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from checker.conformance.eventlogs import LogError
from checker.conformance.validate import RECEIVE, Validation, validate_dir
from checker.errors import EXIT_FAIL, EXIT_OK, ElectkitError
from checker.protocols.bundle import shown
from checker.protocols.registry import KIT_BUNDLES, bundle_named, resolve
from checker.traces import Trace, write_trace
from spec.actor import ActorModel, ActorState
from spec.model import Step

DEFAULT_TRACE_STEPS = 400


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of `electkit validate`."""
    parser.epilog = (
        "exit 0: every event fits the model; 1: an event does not fit, or the logs "
        "are incomplete; 2: a log cannot be read (file and line named); 130: "
        "interrupted. Format and checks: docs/validation.md"
    )
    parser.add_argument(
        "logdir",
        metavar="LOGDIR",
        help="folder holding the nodes' event logs (*.jsonl, searched below)",
    )
    parser.add_argument(
        "--protocol",
        default=None,
        help="protocol bundle whose log mapping to use (default: the only bundle that has one)",
    )
    parser.add_argument(
        "--trace-out",
        default=None,
        metavar="PATH",
        help="where to write the validated prefix as an ITF trace "
        "(default LOGDIR/validated.itf.json)",
    )
    parser.add_argument(
        "--trace-steps",
        default=DEFAULT_TRACE_STEPS,
        type=int,
        metavar="K",
        help=f"write at most the first K validated actions (default "
        f"{DEFAULT_TRACE_STEPS}; 0: no trace); each state carries the "
        f"whole network, so traces grow fast",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="end with one JSON line: verdict, events, per_node, misfit, ...",
    )


def run(args: argparse.Namespace) -> int:
    """Validate LOGDIR; print the report; write the trace."""
    if args.trace_steps < 0:
        raise LogError(f"--trace-steps must be >= 0, got {args.trace_steps}")
    bundle = find_bundle(args.protocol)
    start = time.perf_counter()
    result = validate_dir(args.logdir, bundle.log_mapping())
    seconds = time.perf_counter() - start
    trace_path = None
    if args.trace_steps:
        trace_path = Path(args.trace_out or Path(args.logdir) / "validated.itf.json")
        write_prefix(result, trace_path, args.trace_steps, str(args.logdir))
    print(report(result, seconds))
    if trace_path is not None:
        shown = min(args.trace_steps, len(result.prefix()))
        print(
            f"validated prefix: {shown} of {len(result.prefix())} model actions written to "
            f"{trace_path} (electkit replay {trace_path}; electkit view {trace_path} -o "
            f"page.html)"
        )
    if args.json:
        print(json.dumps(summary_json(result, seconds, trace_path)))
    return EXIT_OK if result.ok else EXIT_FAIL


def write_prefix(result: Validation, path: Path, limit: int, logs: str) -> Path:
    """The first ``limit`` validated actions as an ITF trace at ``path``."""
    init, steps = prefix_steps(result.model, result.prefix(), limit)
    meta = {
        "source": "electkit validate",
        "logs": logs,
        "verdict": "validated" if result.ok else "misfit",
    }
    try:
        return write_trace(Trace(result.model, init, steps, meta), path)
    except OSError as exc:
        raise ElectkitError(
            f"{path}: cannot write the trace ({exc.strerror or exc}); choose another --trace-out"
        ) from None


def summary_json(result: Validation, seconds: float, trace: Path | None) -> dict:
    """The --json summary."""
    misfit = None
    if result.misfit is not None:
        ev = result.misfit.event
        misfit = {
            "file": ev.file,
            "line": ev.line,
            "node": ev.node,
            "event": ev.event,
            "reason": result.misfit.reason,
            "allowed": result.misfit.allowed,
        }
    return {
        "verdict": "validated" if result.ok else ("misfit" if misfit else "incomplete"),
        "events": result.total,
        "per_node": {str(k): v for k, v in result.validated.items()},
        "misfit": misfit,
        "unmatched": result.unmatched,
        "incomplete": result.incomplete,
        "crashed": result.crashed,
        "spec": result.model.name,
        "parameters": dict(result.model.parameters),
        "seconds": round(seconds, 3),
        "trace": str(trace) if trace else None,
    }


def prefix_steps(
    model: ActorModel, actions: Sequence[tuple[str, Mapping[str, Any]]], limit: int
) -> tuple[ActorState, list[Step]]:
    """The first ``limit`` validated actions as model steps with full states (for a trace)."""
    handlers = dict(model.local_actions())
    init = model.init_states()[0]
    state, steps = init, []
    for action, params in actions[:limit]:
        if action == RECEIVE:
            m = params["m"]
            s, outcome = m.dst, model.receive(state.locals[m.dst - 1], m)
        else:
            s = params["s"]
            outcome = handlers[action](s, state.locals[s - 1])
        assert outcome is not None, "a validated action is enabled"
        state = model.apply(state, s, outcome)
        steps.append(Step(action, dict(params), state, outcome.sends))
    return init, steps


def report(result: Validation, seconds: float | None = None) -> str:
    """The human report: events per node, the verdict, the first misfit, what is unmatched."""
    per_node = ", ".join(f"node {n}: {k}" for n, k in sorted(result.validated.items()))
    speed = f" in {seconds:.2f} s" if seconds is not None else ""
    params = ", ".join(f"{k}={shown(v)}" for k, v in result.model.parameters.items())
    lines = [f"validated {result.total} events{speed} ({per_node})"]
    undone, kept = result.crashed.get("undone", 0), result.crashed.get("kept", 0)
    if undone or kept:
        lines.append(
            f"killed between an event and its persist line: {undone} event(s) "
            f"undone (the fsync had not finished), {kept} kept (it had)"
        )
    lines += [f"could not be matched: {u}" for u in result.unmatched[:20]]
    if len(result.unmatched) > 20:
        lines.append(f"... and {len(result.unmatched) - 20} more")
    if result.misfit is not None:
        lines.append(result.misfit.describe())
        lines.append(f"verdict: NOT a behaviour of {result.model.name}({params})")
    elif result.incomplete is not None:
        lines.append(f"verdict: incomplete: {result.incomplete}")
    else:
        rest = " (the rest validates)" if result.unmatched else ""
        lines.append(f"verdict: every event fits {result.model.name}({params}){rest}")
    return "\n".join(lines)


def find_bundle(protocol: str | None = None) -> ModuleType:
    """The log validation of a protocol's bundle (its ``validation``: ``log_mapping()`` and,
    for `electkit chaos`, ``run_chaos(directory, **options)``). Without a name: the only
    protocol of the kit that has one."""
    if protocol is not None:
        bundle = resolve(protocol)
        if bundle.validation is None:
            raise LogError(f"--protocol: {bundle.name} has no log validation")
        return bundle.validation
    found = [bundle_named(name) for name in KIT_BUNDLES]
    found = [bundle for bundle in found if bundle.validation is not None]
    if len(found) != 1:
        raise LogError(
            "no single protocol validates logs (kit protocols: "
            f"{', '.join(KIT_BUNDLES)}); name one with --protocol"
        )
    return found[0].validation
