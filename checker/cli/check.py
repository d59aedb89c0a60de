"""`electkit check`: exhaustively model-check a spec at a bound."""

from __future__ import annotations

import argparse
import json
import re
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
    parser.add_argument(
        "--max-depth",
        type=int,
        metavar="D",
        help="a bounded search: keep the states at depth D, expand none of them ('ok' then "
        "holds up to depth D)",
    )
    scale = parser.add_argument_group(
        "the partitioned search (any of these options runs it; same counts and counterexample "
        "as the default search; see docs/scale.md)"
    )
    scale.add_argument(
        "--workers",
        type=int,
        metavar="K",
        help="K partitions, each in a process of its own, each owning its share of the states",
    )
    scale.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run the partitions on a Dask cluster: 'local' (a local cluster of --workers "
        "processes) or a scheduler address such as tcp://host:8786 (needs "
        "electkit[distributed])",
    )
    scale.add_argument(
        "--checkpoint",
        metavar="DIR",
        help="keep the run in DIR (a new folder): a checkpoint after every round",
    )
    scale.add_argument(
        "--resume",
        metavar="DIR",
        help="carry on the run checkpointed in DIR (with the options that started it)",
    )
    scale.add_argument(
        "--memory-limit",
        metavar="SIZE",
        help="visited set in memory up to SIZE (e.g. 512M, 8G), the rest in sorted runs on disk",
    )
    scale.add_argument(
        "--continue",
        dest="keep_going",
        action="store_true",
        help="do not stop at a violation: report each violated property's shortest "
        "counterexample (with --simulate: the first walk that violates each property)",
    )
    scale.add_argument(
        "--round-size",
        type=int,
        metavar="N",
        help="states expanded per round, the unit of work between checkpoints (default 50000)",
    )
    scale.add_argument(
        "--stats", metavar="PATH", help="append progress to PATH as JSON lines (see docs/scale.md)"
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
    search_options = scale_options(args)
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
                spec=args.spec,
                on_progress=None if args.quiet else progress,
                **search_options,
            )
    except ModelError as exc:
        raise ElectkitError(f"{model.name}: {exc}") from None
    except ConnectionError as exc:
        raise ElectkitError(f"--scheduler: {exc}") from None
    finally:
        progress.stop()
    trace_path = None
    result.traces = {}  # --continue: each violated property's trace
    for prop, init, path in result.violations[1:]:
        trace = Trace(model, init, path, _meta(model, prop))
        written = write_trace(trace, default_trace_path(model, prop), "--trace-out")
        result.traces[prop] = str(written)
        if not args.quiet:
            console.print(f"{prop}: counterexample of {len(path)} steps written to {written}")
    if result.verdict == "violation" and not result.vacuous:
        path = (
            Path(args.trace_out) if args.trace_out else default_trace_path(model, result.property)
        )
        trace = Trace(model, result.init_state, result.path, _meta(model, result.property))
        trace_path = str(write_trace(trace, path, "--trace-out"))
        result.traces = {result.property: trace_path, **result.traces}
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


def _meta(model, prop: str) -> dict:
    return {
        "property": prop,
        "verdict": "violation",
        "expect": "diverges" if model.parameters.get("variant") else "conforms",
        "description": f"shortest counterexample to {prop}, found by electkit check",
    }


SIZE = re.compile(r"(\d+(?:\.\d+)?)\s*([KMGT]?)(?:I?B)?", re.IGNORECASE)


def parse_size(text: str, option: str) -> int:
    """Bytes of a size such as 512M or 8G (powers of 1024); ElectkitError if it is none."""
    match = SIZE.fullmatch(text.strip())
    if not match:
        raise ElectkitError(f"{option}: {text!r} is not a size (write it as 512M or 8G)")
    number, unit = float(match.group(1)), match.group(2).upper()
    size = int(number * 1024 ** " KMGT".index(unit or " "))
    if size < 1 << 20:
        raise ElectkitError(f"{option}: {text!r} is less than 1M")
    return size


def scale_options(args: argparse.Namespace) -> dict:
    """The keyword arguments of explore() that the search options ask for, checked."""
    if args.workers is not None and not 1 <= args.workers <= 256:
        raise ElectkitError(f"--workers must be from 1 to 256, got {args.workers}")
    if args.round_size is not None and not 1 <= args.round_size <= 10**8:
        raise ElectkitError(f"--round-size must be from 1 to 100000000, got {args.round_size}")
    if args.max_depth is not None and args.max_depth < 0:
        raise ElectkitError(f"--max-depth must be 0 or more, got {args.max_depth}")
    if args.resume and args.checkpoint and Path(args.resume) != Path(args.checkpoint):
        raise ElectkitError("--resume DIR carries on the checkpoint in DIR: drop --checkpoint")
    folder = args.resume or args.checkpoint
    if folder is not None:
        where = Path(folder)
        if where.exists() and not where.is_dir():
            option = "--resume" if args.resume else "--checkpoint"
            raise ElectkitError(f"{option}: {where} is not a folder")
    if args.stats is not None:  # appended to: an existing regular file is fine
        if not Path(args.stats).exists():
            check_output_path(args.stats, "--stats")
        elif not Path(args.stats).is_file():
            raise ElectkitError(f"--stats: {args.stats} is not a file")
    return {
        "workers": args.workers,
        "scheduler": args.scheduler,
        "max_depth": args.max_depth,
        "checkpoint": Path(folder) if folder is not None else None,
        "resume": args.resume is not None,
        "memory_limit": parse_size(args.memory_limit, "--memory-limit")
        if args.memory_limit
        else None,
        "keep_going": args.keep_going,
        "stats": Path(args.stats) if args.stats else None,
        "round_size": args.round_size,
    }


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
        "bounded": result.bounded,
        "workers": result.workers,
        "peak_memory": result.peak_memory,
        "violations": [
            {"property": prop, "trace": where, "trace_length": len(path)}
            for (prop, _, path), where in zip(
                result.violations, getattr(result, "traces", {}).values(), strict=False
            )
        ],
        "coverage": {
            c.action: {"enabled": c.fired, "changed": c.changed, "new": c.new_states}
            for c in result.coverage
        },
    }
