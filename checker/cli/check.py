"""`electkit check`: exhaustively model-check a spec at a bound."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console

from checker.cli.options import add_model_options, model_from_args
from checker.errors import EXIT_FAIL, EXIT_OK, EXIT_VACUOUS, ElectkitError
from checker.files import check_output_path, scratch_dir
from checker.protocols.registry import user_model_errors
from checker.render.report import (
    LiveProgress,
    counterexample_table,
    coverage_table,
    make_console,
    summary_table,
)
from checker.search.explore import Result, explore
from checker.traces import Trace, write_trace
from spec.model import ModelError

EPILOG = """exit codes: 0 every property holds; 1 a property is violated (its shortest
counterexample is written as a trace); 4 vacuous: every invariant held but a `sometimes`
property was never witnessed (raise the bound); 2 bad usage or input; 3 an electkit bug;
130 interrupted."""


def configure(parser: argparse.ArgumentParser) -> None:
    add_model_options(parser)
    parser.epilog = EPILOG
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
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
    parser.add_argument(
        "--liveness",
        action="store_true",
        help="after the safety search, check the model's liveness properties on its state "
        "graph (no symmetry; each lasso written as a trace; see docs/graph.md)",
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON line on stdout")
    parser.add_argument("--quiet", action="store_true", help="no tables, only the JSON line")
    from checker.cli.simulate import add_simulation_options  # lazy: it imports this module

    add_simulation_options(parser)


def default_trace_path(model, prop: str) -> Path:
    """<scratch>/<spec>-<parameters>-<property>.itf.json, where scratch is
    :func:`checker.files.scratch_dir` (the project's git-ignored traces/counterexamples/)."""
    parts = [model.name]
    for key, value in model.parameters.items():
        if value is False:
            parts.append(f"no{key}")
        elif value is not None and value is not True:
            parts.append(f"{key}{value}")
    name = "-".join(parts).replace("/", "_") + f"-{prop}.itf.json"
    return scratch_dir() / name


def check_model(args: argparse.Namespace, console: Console):
    """Check the model the options name; returns (model, result, trace path or None)."""
    if args.trace_out is not None:  # refused before the search, not after it
        check_output_path(args.trace_out, "--trace-out")
    bundle, model = model_from_args(args, search=True)
    with user_model_errors(bundle):
        names = frozenset(p.name for p in model.properties() if p.kind == "always")
    if args.property:
        unknown = sorted(set(args.property) - names)
        if unknown:
            raise ElectkitError(
                f"--property: {unknown[0]!r} is not an always-property of {bundle.name}; "
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
    progress = LiveProgress(make_console(stderr=True))
    if not args.quiet:
        progress.begin()
    try:
        with user_model_errors(bundle):
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
        trace = Trace(model, result.init_state, result.path, meta)
        trace_path = str(write_trace(trace, path, "--trace-out"))
    if not args.quiet:
        console.print(summary_table(model, result))
        console.print(coverage_table(result))
        if result.vacuous:
            console.print(
                f"{result.property} was never true in any reachable state: every invariant "
                "held, but vacuously. Raise the bound (see --list-params)."
            )
        elif result.verdict == "violation":
            console.print(counterexample_table(model, result.init_state, result.path))
            console.print(f"trace written to {trace_path}", soft_wrap=True)
            console.print(f"replay it: electkit replay {trace_path}", soft_wrap=True)
    return model, result, trace_path


def run(args: argparse.Namespace) -> int:
    console = make_console(stderr=args.json or args.quiet)
    from checker.cli.simulate import refuse_bad_simulation_options, run_simulation

    if args.simulate:
        return run_simulation(args, console)
    refuse_bad_simulation_options(args)
    model, result, trace_path = check_model(args, console)
    if args.json:
        print(json.dumps(result_json(model, result, trace_path)))
        sys.stdout.flush()
    if result.verdict == "interrupted":
        return 130
    if args.liveness and result.verdict == "ok":
        return EXIT_OK if check_liveness_of(model, console) else EXIT_FAIL
    if result.vacuous:
        return EXIT_VACUOUS
    return EXIT_OK if result.verdict == "ok" else EXIT_FAIL


def check_liveness_of(model, console: Console) -> bool:
    """Check the model's liveness properties on its state graph; print each verdict and write
    each lasso in the scratch folder. Returns whether all hold."""
    from checker.graph.liveness import check_liveness
    from checker.graph.statespace import GraphTooLarge, state_graph

    try:
        graph = state_graph(model)
    except GraphTooLarge as exc:
        raise ElectkitError(f"--liveness: {exc}") from None
    results = check_liveness(model, graph)
    if not results:
        console.print(f"{model.name} declares no liveness properties")
    for outcome in results:
        verdict = "[green]holds[/]" if outcome.holds else "[red]FAILS[/]"
        fair = f" under {', '.join(outcome.fairness)}" if outcome.fairness else ""
        console.print(f"{outcome.kind} {outcome.name}{fair}: {verdict}")
        if outcome.trace is not None:
            path = default_trace_path(model, outcome.name)
            console.print(
                f"  lasso of {len(outcome.trace.steps)} steps written to "
                f"{write_trace(outcome.trace, path, '--liveness')}",
                soft_wrap=True,
            )
    return all(outcome.holds for outcome in results)


def result_json(model, result: Result, trace_path: str | None) -> dict:
    """The one JSON line of ``check --json``: what was checked, the verdict, the figures."""
    return {
        "verdict": "vacuous" if result.vacuous else result.verdict,
        "property": result.property,
        "spec": model.name,
        "parameters": dict(model.parameters),
        "properties": result.checked,
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
