"""`electkit check`: exhaustively model-check a spec at a bound."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console

from checker.errors import EXIT_FAIL, EXIT_OK, ElectkitError
from checker.explore import Result, explore
from checker.report import LiveProgress, counterexample_table, coverage_table, summary_table
from checker.specs import load_model, user_model_errors
from checker.traces import Trace, write_trace
from spec.model import ModelError
from spec.registry import SPECS, VARIANTS


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--spec", default="raft_election", help="the model (default: %(default)s)")
    parser.add_argument("--servers", type=int, default=3, metavar="N", help="default: 3")
    parser.add_argument("--max-term", type=int, default=2, metavar="T", help="default: 2")
    parser.add_argument("--no-restart", action="store_true", help="disable the Restart action")
    parser.add_argument("--variant", help="a named faulty variant of the spec")
    parser.add_argument(
        "--no-symmetry", action="store_true", help="store every state, not one per orbit"
    )
    parser.add_argument(
        "--property",
        action="append",
        metavar="NAME",
        help="check only this always-property (repeatable; default: all)",
    )
    parser.add_argument("--workers", type=int, default=1, metavar="K", help="worker processes")
    parser.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="expand on a Dask cluster: 'local' (a local cluster of --workers processes) or "
        "a scheduler address such as tcp://host:8786 (needs electkit[distributed])",
    )
    parser.add_argument("--trace-out", metavar="PATH", help="where to write a counterexample")
    parser.add_argument("--json", action="store_true", help="end with one JSON line on stdout")
    parser.add_argument("--quiet", action="store_true", help="no tables, only the JSON line")


MAX_SERVERS, MAX_TERM, MAX_SYMMETRIC_SERVERS = 9, 20, 5
CLI_DEFAULTS = {"servers": 3, "max_term": 2, "restart": True, "variant": None}


def model_from_args(args: argparse.Namespace):
    """Build the model the options name; bad values become one clear line (exit 2)."""
    if args.spec not in SPECS and ":" not in args.spec:
        raise ElectkitError(
            f"--spec: unknown spec {args.spec!r}; valid: {', '.join(SPECS)}, "
            "or path/to/file.py:ClassName"
        )
    if args.servers < 1:
        raise ElectkitError(f"--servers must be at least 1, got {args.servers}")
    if args.max_term < 0:
        raise ElectkitError(f"--max-term must be at least 0, got {args.max_term}")
    if args.servers > MAX_SERVERS or args.max_term > MAX_TERM:
        raise ElectkitError(
            f"--servers {args.servers} --max-term {args.max_term}: an exhaustive search is "
            f"bounded here to N <= {MAX_SERVERS} and T <= {MAX_TERM} (the state space grows "
            "exponentially with N and T); `electkit prove` covers every N and T"
        )
    if args.servers > MAX_SYMMETRIC_SERVERS and not args.no_symmetry:
        raise ElectkitError(
            f"--servers {args.servers}: symmetry reduction renames servers in all "
            f"{args.servers}! ways; it is built for N <= {MAX_SYMMETRIC_SERVERS} "
            "(add --no-symmetry)"
        )
    variants = VARIANTS.get(args.spec, {})
    if args.variant is not None and args.variant not in variants:
        raise ElectkitError(
            f"--variant: unknown variant {args.variant!r} of {args.spec}; "
            f"valid: {', '.join(variants)}"
        )
    try:
        return load_model(
            args.spec,
            defaults=CLI_DEFAULTS,
            servers=args.servers,
            max_term=args.max_term,
            restart=not args.no_restart,
            variant=args.variant,
        )
    except ModelError as exc:
        raise ElectkitError(f"--spec {args.spec}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a user model's constructor failed
        raise ElectkitError(f"--spec {args.spec}: {type(exc).__name__}: {exc}") from None


def default_trace_path(model, prop: str) -> Path:
    p = model.parameters
    variant = p.get("variant") or "correct"
    restart = "" if p.get("restart", True) else "-norestart"
    name = f"{model.name}-{variant}-N{p['servers']}-T{p['max_term']}{restart}-{prop}.itf.json"
    return Path("traces") / "counterexamples" / name


def check_model(args: argparse.Namespace, console: Console) -> tuple[Result, str | None]:
    model = model_from_args(args)
    names = frozenset(p.name for p in model.properties() if p.kind == "always")
    if args.property:
        unknown = sorted(set(args.property) - names)
        if unknown:
            raise ElectkitError(
                f"--property: {unknown[0]!r} is not an always-property of {args.spec}; "
                f"valid: {', '.join(sorted(names))}"
            )
    if not 1 <= args.workers <= 256:
        raise ElectkitError(f"--workers must be from 1 to 256, got {args.workers}")
    if args.scheduler is not None:
        try:
            import distributed  # noqa: F401
        except ImportError:
            raise ElectkitError(
                "--scheduler needs Dask: pip install 'electkit[distributed]'"
            ) from None
    progress = LiveProgress(Console(stderr=True, highlight=False))
    if not args.quiet:
        progress.begin()
    try:
        with user_model_errors(args.spec):
            result = explore(
                model,
                symmetry=not args.no_symmetry,
                properties=frozenset(args.property) if args.property else None,
                workers=args.workers,
                scheduler=args.scheduler,
                spec=args.spec,
                on_progress=None if args.quiet else progress,
            )
    except ModelError as exc:
        raise ElectkitError(f"{model.name}: {exc}") from None
    except ConnectionError as exc:
        raise ElectkitError(f"--scheduler: {exc}") from None
    finally:
        progress.stop()
    trace_path = None
    if result.verdict == "violation" and not result.vacuous:
        path = (
            Path(args.trace_out) if args.trace_out else default_trace_path(model, result.property)
        )
        meta = {
            "property": result.property,
            "verdict": "violation",
            "expect": "diverges" if model.parameters.get("variant") else "conforms",
            "description": f"shortest counterexample to {result.property}, found by electkit check",
        }
        try:
            trace_path = str(write_trace(Trace(model, result.init_state, result.path, meta), path))
        except OSError as exc:
            raise ElectkitError(f"--trace-out: cannot write {path}: {exc.strerror}") from None
    if not args.quiet:
        console.print(summary_table(model, result))
        console.print(coverage_table(result))
        if result.vacuous:
            console.print(
                f"{result.property} was never true in any reachable state: every invariant "
                "held, but vacuously. Raise the bound (--servers, --max-term)."
            )
        elif result.verdict == "violation":
            console.print(counterexample_table(model, result.init_state, result.path))
            console.print(f"trace written to {trace_path}", soft_wrap=True)
            console.print(f"replay it: electkit replay {trace_path}", soft_wrap=True)
    return result, trace_path


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=args.json or args.quiet, highlight=False, width=_width())
    result, trace_path = check_model(args, console)
    if args.json:
        print(json.dumps(result_json(result, trace_path)))
        sys.stdout.flush()
    if result.verdict == "interrupted":
        return 130
    return EXIT_OK if result.verdict == "ok" else EXIT_FAIL


def _width() -> int | None:
    """Full width on a terminal; 110 columns in a log, so tables do not wrap at 80."""
    import shutil

    return None if sys.stdout.isatty() else max(110, shutil.get_terminal_size().columns)


def result_json(result: Result, trace_path: str | None) -> dict:
    return {
        "verdict": result.verdict,
        "property": result.property,
        "distinct_states": result.distinct_states,
        "generated_states": result.generated_states,
        "depth": result.depth,
        "seconds": round(result.seconds, 3),
        "trace": trace_path,
        "trace_length": len(result.path) if result.path is not None else None,
        "symmetry": result.symmetry,
        "exact": result.exact,
        "collision_probability": result.collision_probability,
        "states_per_second": round(result.states_per_second),
        "witnessed": result.witnessed,
        "unwitnessed": result.unwitnessed,
        "vacuous": result.vacuous,
        "coverage": {
            c.action: {"enabled": c.fired, "changed": c.changed, "new": c.new_states}
            for c in result.coverage
        },
    }
