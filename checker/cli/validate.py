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
from pathlib import Path

from checker.conformance.validate import (
    LogError,
    Validation,
    find_bundle,
    prefix_steps,
    report,
    validate_dir,
)
from checker.errors import EXIT_FAIL, EXIT_OK, ElectkitError
from checker.traces import Trace, write_trace

DEFAULT_TRACE_STEPS = 400


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of `electkit validate`."""
    parser.add_argument("logdir", metavar="LOGDIR",
                        help="folder holding the nodes' event logs (*.jsonl, searched below)")
    parser.add_argument("--protocol", default=None,
                        help="protocol bundle whose log mapping to use (default: the only "
                             "bundle that has one)")
    parser.add_argument("--trace-out", default=None, metavar="PATH",
                        help="where to write the validated prefix as an ITF trace "
                             "(default LOGDIR/validated.itf.json)")
    parser.add_argument("--trace-steps", default=DEFAULT_TRACE_STEPS, type=int, metavar="K",
                        help=f"write at most the first K validated actions (default "
                             f"{DEFAULT_TRACE_STEPS}; 0: no trace); each state carries the "
                             f"whole network, so traces grow fast")
    parser.add_argument("--json", action="store_true",
                        help="end with one JSON line: verdict, events, per_node, misfit, ...")


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
        print(f"validated prefix: {shown} of {len(result.prefix())} model actions written to "
              f"{trace_path} (electkit replay {trace_path}; electkit view {trace_path} -o "
              f"page.html)")
    if args.json:
        print(json.dumps(summary_json(result, seconds, trace_path)))
    return EXIT_OK if result.ok else EXIT_FAIL


def write_prefix(result: Validation, path: Path, limit: int, logs: str) -> Path:
    """The first ``limit`` validated actions as an ITF trace at ``path``."""
    init, steps = prefix_steps(result.model, result.prefix(), limit)
    meta = {"source": "electkit validate", "logs": logs,
            "verdict": "validated" if result.ok else "misfit"}
    try:
        return write_trace(Trace(result.model, init, steps, meta), path)
    except OSError as exc:
        raise ElectkitError(f"{path}: cannot write the trace ({exc.strerror or exc}); "
                            f"choose another --trace-out") from None


def summary_json(result: Validation, seconds: float, trace: Path | None) -> dict:
    """The --json summary."""
    misfit = None
    if result.misfit is not None:
        ev = result.misfit.event
        misfit = {"file": ev.file, "line": ev.line, "node": ev.node, "event": ev.event,
                  "reason": result.misfit.reason, "allowed": result.misfit.allowed}
    return {"verdict": "validated" if result.ok else ("misfit" if misfit else "incomplete"),
            "events": result.total, "per_node": {str(k): v for k, v in result.validated.items()},
            "misfit": misfit, "unmatched": result.unmatched, "incomplete": result.incomplete,
            "crashed": result.crashed,
            "spec": result.model.name, "parameters": dict(result.model.parameters),
            "seconds": round(seconds, 3), "trace": str(trace) if trace else None}
