"""`electkit mutate`: run the gate's conformance checks against mutants of the implementation."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.table import Table

from checker.conformance.mutate import mutate
from checker.errors import EXIT_FAIL, EXIT_INTERRUPTED, EXIT_OK, ElectkitError
from checker.protocols.registry import DEFAULT, resolve
from checker.render.report import make_console


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--spec",
        default=DEFAULT,
        metavar="NAME",
        help=f"the protocol (default: {DEFAULT}) or a bundle of your own, path/to/file.py:NAME",
    )
    parser.add_argument(
        "--traces",
        metavar="DIR",
        help="the corpus to replay (default: the protocol's own)",
    )
    parser.add_argument(
        "--walks",
        type=int,
        default=100,
        metavar="K",
        help="random walks per mutant after the corpus (default: 100)",
    )
    parser.add_argument("--only", metavar="TEXT", help="only mutants whose name contains TEXT")
    parser.add_argument(
        "--fail-under",
        type=float,
        metavar="PCT",
        help="exit 1 if fewer than PCT%% of the mutants are killed",
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON line on stdout")


def run(args: argparse.Namespace) -> int:
    if args.fail_under is not None and not 0 <= args.fail_under <= 100:
        raise ElectkitError(
            f"--fail-under must be a percentage from 0 to 100, got {args.fail_under:g}"
        )
    if args.walks < 0:
        raise ElectkitError(f"--walks must be at least 0, got {args.walks}")
    bundle = resolve(args.spec)
    if bundle.mutation is None or bundle.adapter is None:
        raise ElectkitError(
            f"--spec: {bundle.name} names no implementation to mutate (its bundle needs a "
            "`mutation` and an `adapter`)"
        )
    traces = Path(args.traces) if args.traces else bundle.gate.corpus
    if traces is None or not Path(traces).is_dir():
        raise ElectkitError(f"--traces: {traces} is not a folder")
    outcomes: list = []
    try:
        for outcome in mutate(bundle, Path(traces), args.walks, args.only):
            outcomes.append(outcome)
    except KeyboardInterrupt:
        killed = sum(o.killed for o in outcomes)
        print(f"interrupted: {len(outcomes)} mutants run, {killed} killed", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not outcomes:
        raise ElectkitError(f"--only: no mutant name contains {args.only!r}")
    killed = sum(o.killed for o in outcomes)
    console = make_console(stderr=args.json)
    target = f"{bundle.mutation.module}.{bundle.mutation.class_name}"
    table = Table(title=f"mutants of {target}", title_justify="left")
    for column in ("mutant", "killed by", "how"):
        table.add_column(column)
    for o in outcomes:
        table.add_row(o.mutant, o.by or "[yellow]SURVIVED[/]", o.detail)
    console.print(table)
    score = 100.0 * killed / len(outcomes)
    console.print(f"{killed} of {len(outcomes)} mutants killed ({score:.0f}%)")
    if args.json:
        print(
            json.dumps(
                {
                    "total": len(outcomes),
                    "killed": killed,
                    "mutants": [
                        {"name": o.mutant, "killed": o.killed, "by": o.by, "detail": o.detail}
                        for o in outcomes
                    ],
                }
            )
        )
    if args.fail_under is not None and score < args.fail_under:
        return EXIT_FAIL
    return EXIT_OK
