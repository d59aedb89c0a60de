"""`electkit graph`: the reachable state graph at a small bound, its figures, liveness, pictures.

Writes the graph as GraphML, DOT, JSON, or an SVG picture (drawn by electkit itself) in
which a counterexample is highlighted: the shortest one to a safety property, found by the
exhaustive search, or the trace given with ``--highlight``. ``--liveness`` checks the model's
liveness properties on the graph and writes each lasso as a trace.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from checker.cli.options import add_model_options as add_spec_options
from checker.cli.options import model_from_args
from checker.errors import EXIT_FAIL, EXIT_OK, ElectkitError
from checker.files import write_text
from checker.graph.liveness import check_liveness, liveness_properties
from checker.graph.picture import to_svg
from checker.graph.statespace import (
    DEFAULT_LIMIT,
    FORMATS,
    state_graph,
    summarize,
    write_graph,
)
from checker.protocols.bundle import shown
from checker.protocols.registry import user_model_errors
from checker.search.explore import explore
from checker.traces import read_trace, write_trace
from spec.model import ModelError


def add_model_options(parser: argparse.ArgumentParser) -> None:
    """The options that name a model and its bound (as `electkit check` has them), and the
    size limit of the graph."""
    add_spec_options(parser)
    parser.add_argument(
        "--limit",
        type=int,
        default=DEFAULT_LIMIT,
        metavar="STATES",
        help="refuse graphs with more states than this (default: %(default)s)",
    )


def model_from_options(args: argparse.Namespace):
    """The bundle and model the options name; bad values become one clear line (exit 2)."""
    if args.limit < 1:
        raise ElectkitError(f"--limit must be at least 1, got {args.limit}")
    return model_from_args(args)


def configure(parser: argparse.ArgumentParser) -> None:
    add_model_options(parser)
    parser.add_argument(
        "--symmetry",
        action="store_true",
        help="one node per orbit under renaming of servers (liveness is refused then)",
    )
    parser.add_argument("--format", choices=(*FORMATS, "svg"), help="what to write to -o")
    parser.add_argument("-o", "--out", metavar="PATH", help="where to write the graph")
    parser.add_argument(
        "--highlight", metavar="TRACE", help="an SVG shows this trace instead of a counterexample"
    )
    parser.add_argument(
        "--liveness", action="store_true", help="check the model's liveness properties"
    )
    parser.add_argument(
        "--trace-out", metavar="DIR", help="with --liveness: write each lasso there as ITF"
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON line on stdout")


def run(args: argparse.Namespace) -> int:
    bundle, model = model_from_options(args)
    fmt = args.format or (Path(args.out).suffix.lstrip(".") if args.out else None)
    if args.out and fmt not in (*FORMATS, "svg"):
        raise ElectkitError(
            f"-o {args.out}: say --format ({', '.join((*FORMATS, 'svg'))}); the suffix "
            "does not name one"
        )
    if args.format and not args.out:
        raise ElectkitError("--format needs -o PATH (where to write the graph)")
    if args.highlight and fmt != "svg":
        raise ElectkitError("--highlight draws a path on a picture: it needs --format svg")
    if args.trace_out and not args.liveness:
        raise ElectkitError("--trace-out needs --liveness")
    with user_model_errors(bundle):
        try:
            graph = state_graph(model, symmetry=args.symmetry, limit=args.limit)
        except ModelError as exc:
            raise ElectkitError(f"{model.name}: {exc}") from None
        summary = summarize(graph)
        report: dict = {"spec": model.name, "parameters": dict(model.parameters)}
        report["summary"] = summary.__dict__
        if not args.json:
            print(f"state graph of {model.name} {_bound(model)}, symmetry {_on(args.symmetry)}")
            for line in summary.lines():
                print(f"  {line}")
        if args.out:
            _write(model, graph, Path(args.out), fmt, args)
            report["out"] = args.out
            if not args.json:
                print(f"wrote {args.out} ({fmt})")
        failed = False
        if args.liveness:
            results = check_liveness(model, graph)
            if not liveness_properties(model) and not args.json:
                print(f"{model.name} declares no liveness properties")
            report["liveness"] = []
            for result in results:
                entry = {"name": result.name, "kind": result.kind, "holds": result.holds}
                if result.trace is not None and args.trace_out:
                    path = Path(args.trace_out) / f"{model.name}-{result.name}.itf.json"
                    entry["trace"] = str(_write_trace(result.trace, path))
                report["liveness"].append(entry)
                failed |= not result.holds
                if not args.json:
                    verdict = "holds" if result.holds else "FAILS"
                    print(f"  {result.kind} {result.name}: {verdict}")
                    if result.trace is not None:
                        _print_lasso(result)
                        if "trace" in entry:
                            print(f"    written to {entry['trace']}")
    if args.json:
        print(json.dumps(report))
    return EXIT_FAIL if failed else EXIT_OK


def _write(model, graph, path: Path, fmt: str, args: argparse.Namespace) -> None:
    if fmt != "svg":
        try:
            write_graph(graph, path, fmt)
        except OSError as exc:
            raise ElectkitError(f"-o: cannot write {path}: {exc.strerror}") from None
        return
    nodes, steps, what = _highlight(model, graph, args)
    title = [f"the state graph of {model.name} {_bound(model)}"] + ([what] if what else [])
    invariants = [p.holds for p in model.properties() if p.kind == "always"]
    bad = [n for n, s in graph.nodes(data="state") if not all(ok(s) for ok in invariants)]
    write_text(path, to_svg(graph, nodes, title, steps, bad), "-o")


def _highlight(model, graph, args) -> tuple[list[int], list[str], str]:
    """The nodes and step labels of the path to draw in red, and what it is."""
    if args.symmetry:
        raise ElectkitError("--format svg draws concrete states: leave out --symmetry")
    if args.highlight:
        trace = read_trace(args.highlight)
        what = f"the trace {Path(args.highlight).name}"
        init, steps = trace.init, trace.steps
    else:
        result = explore(model, symmetry=False)
        if result.verdict != "violation" or not result.path:
            return [], [], ""
        what = f"in red: the shortest counterexample to {result.property}, found by the search"
        init, steps = result.init_state, result.path
    node_of = {state: n for n, state in graph.nodes(data="state")}
    states = [init] + [step.state for step in steps]
    if any(state not in node_of for state in states):
        raise ElectkitError(
            f"--highlight {args.highlight}: the trace is not a path of this model at this bound"
        )
    return [node_of[s] for s in states], [step.label() for step in steps], what


def _write_trace(trace, path: Path) -> Path:
    return write_trace(trace, path, "--trace-out")


def _print_lasso(result) -> None:
    loop = result.loop
    if result.fairness:
        print(f"    under {', '.join(result.fairness)}")
    for index, step in enumerate(result.trace.steps, start=1):
        mark = "  <- the cycle starts here" if loop is not None and index == loop + 1 else ""
        print(f"    {index:3}. {step.label()}{mark}")
    if loop is not None and loop == len(result.trace.steps):
        print("    (then no step is enabled: it stays there forever)")
    elif loop == 0:
        print("    (then back to the initial state, forever)")
    elif loop is not None:
        print(f"    (then back to the state after step {loop}, forever)")


def _bound(model) -> str:
    return "(" + ", ".join(f"{k}={shown(v)}" for k, v in model.parameters.items()) + ")"


def _on(flag: bool) -> str:
    return "on" if flag else "off"
