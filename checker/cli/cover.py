"""`electkit traces cover` and `electkit traces coverage`: transition-cover suites.

``cover --out DIR`` writes the fewest traces that together take every transition of the
model's state graph at the bound (checker/graph/cover.py); ``coverage DIR`` says how many
transitions of the graph a folder of traces takes, per model and bound found in it.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from checker.cli.graph import add_model_options, model_from_options
from checker.conformance.replay import collect_traces
from checker.errors import EXIT_OK, ElectkitError
from checker.graph.cover import cover_suite_with_report, edge_coverage
from checker.graph.statespace import GraphTooLarge, state_graph
from checker.protocols.bundle import shown
from checker.protocols.registry import user_model_errors
from checker.traces import read_trace, write_trace

SHOWN_MISSING = 5
COVERAGE_LIMIT = 20_000  # a folder may hold traces of large bounds: skip those in seconds


def configure_cover(parser: argparse.ArgumentParser) -> None:
    add_model_options(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="where to write the traces")
    parser.add_argument("--json", action="store_true", help="end with one JSON line on stdout")


def run_cover(args: argparse.Namespace) -> int:
    bundle, model = model_from_options(args)
    if model.parameters.get("variant"):
        raise ElectkitError(
            "variant: a cover suite is of the correct model (a variant's traces would not "
            "conform); `electkit check` gives a variant's counterexample"
        )
    start = time.perf_counter()
    with user_model_errors(bundle):
        suite, report = cover_suite_with_report(model, limit=args.limit)
    out = Path(args.out)
    bound = "-".join(f"{k}{v}" for k, v in model.parameters.items() if v not in (None, True))
    written = []
    for index, trace in enumerate(suite, start=1):
        trace.meta["expect"] = "conforms"
        name = f"cover-{bound}-{index:05d}.itf.json".replace("/", "_")
        written.append(str(write_trace(trace, out / name, "--out")))
    seconds = time.perf_counter() - start
    if args.json:
        print(
            json.dumps(
                {
                    "traces": report.traces,
                    "min_traces": report.min_traces,
                    "steps": report.steps,
                    "transitions": report.transitions,
                    "out": str(out),
                    "seconds": round(seconds, 3),
                }
            )
        )
    else:
        print(f"wrote {report.line()} under {out} in {seconds:.2f} s")
    return EXIT_OK


def configure_coverage(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="trace files or folders")
    parser.add_argument(
        "--limit",
        type=int,
        default=COVERAGE_LIMIT,
        metavar="STATES",
        help="skip bounds whose graph has more states (default: %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON line on stdout")


def run_coverage(args: argparse.Namespace) -> int:
    files = collect_traces(args.paths)
    missing_files = [f for f in files if not f.exists()]
    if missing_files:
        raise ElectkitError(f"{missing_files[0]}: no such file")
    if not files:
        raise ElectkitError(f"no trace files (*.json) under {' '.join(args.paths)}")
    groups: dict[str, list] = {}
    for path in files:
        trace = read_trace(path)  # a bad file: one line naming it, exit 2
        key = json.dumps([trace.model.name, dict(trace.model.parameters)], sort_keys=True)
        groups.setdefault(key, []).append(trace)
    rows = []
    for key in sorted(groups):
        traces = groups[key]
        model = traces[0].model
        row = {"spec": model.name, "parameters": dict(model.parameters), "traces": len(traces)}
        try:
            graph = state_graph(model, limit=args.limit)
        except GraphTooLarge:
            row["skipped"] = f"more than {args.limit:,} states"
        else:
            covered, total, missing = edge_coverage(model, traces, graph=graph)
            row.update(covered=covered, transitions=total)
            row["missing"] = [f"state {n}: {label}" for n, label in missing[:SHOWN_MISSING]]
        rows.append(row)
        if not args.json:
            print(_coverage_line(row))
    if args.json:
        print(json.dumps({"groups": rows}))
    return EXIT_OK


def _coverage_line(row: dict) -> str:
    bound = ", ".join(f"{k}={shown(v)}" for k, v in row["parameters"].items())
    head = f"{row['spec']} ({bound}): {row['traces']} traces"
    if "skipped" in row:
        return f"{head}: graph not built ({row['skipped']}; raise --limit)"
    share = 100.0 * row["covered"] / max(row["transitions"], 1)
    line = f"{head} take {row['covered']}/{row['transitions']} transitions ({share:.1f}%)"
    if row["missing"]:
        line += "; first missing: " + "; ".join(row["missing"])
    return line
