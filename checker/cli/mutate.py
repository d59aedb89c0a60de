"""`electkit mutate`: run the gate against mutants of the implementation.

A bundle whose ``mutation`` names a ``package`` is mutated whole (every module, I/O included)
and each mutant runs the gate's stages in a subprocess (checker/conformance/mutate_gate.py);
otherwise the methods of one class are mutated in memory and checked by the corpus and random
walks (checker/conformance/mutate.py)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.table import Table

from checker.conformance.mutate import mutate
from checker.conformance.mutate_gate import module_files
from checker.conformance.mutate_gate import mutate as mutate_gate
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
        "--file",
        action="append",
        metavar="FILE",
        help="only mutants of this file of the package, e.g. storage.py (repeatable)",
    )
    parser.add_argument(
        "--jobs",
        type=int,
        default=1,
        metavar="J",
        help="mutants run at once, each in its own subprocess (default: 1)",
    )
    parser.add_argument(
        "--sample",
        type=int,
        default=1,
        metavar="K",
        help="only every K-th mutant of each file, for a quicker estimate (default: 1, all)",
    )
    parser.add_argument(
        "--chaos-seconds",
        type=float,
        metavar="S",
        help="length of each mutant's chaos stage (default: the gate's own, 10 s)",
    )
    parser.add_argument(
        "--tests-first",
        action="store_true",
        help="run each mutant's unit tests before the gate, not after: the same mutants "
        "are killed, in a fraction of the time, but the gate's own share goes unmeasured",
    )
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
    if args.jobs < 1:
        raise ElectkitError(f"--jobs must be at least 1, got {args.jobs}")
    if args.sample < 1:
        raise ElectkitError(f"--sample must be at least 1, got {args.sample}")
    if args.chaos_seconds is not None and not 0 < args.chaos_seconds <= 3600:
        raise ElectkitError(f"--chaos-seconds must be in (0, 3600], got {args.chaos_seconds:g}")
    whole = bundle.mutation.package is not None
    if args.file and not whole:
        raise ElectkitError(f"--file: {bundle.name} mutates one class, not a package's files")
    if whole:
        known = module_files(bundle)
        for name in args.file or ():
            if name not in known:
                raise ElectkitError(
                    f"--file {name}: not a mutated file of {bundle.mutation.package}; "
                    f"valid: {', '.join(known)}"
                )
        outcomes_of = mutate_gate(
            bundle,
            Path(traces) if args.traces else None,
            args.only,
            args.file or (),
            args.jobs,
            args.chaos_seconds,
            args.sample,
            args.tests_first,
        )
        target = f"{bundle.mutation.package}/ against stages {', '.join(bundle.mutation.stages)}"
    else:
        outcomes_of = mutate(bundle, Path(traces), args.walks, args.only)
        target = f"{bundle.mutation.module}.{bundle.mutation.class_name}"
    console = make_console(stderr=args.json)
    outcomes: list = []
    try:
        for outcome in outcomes_of:
            outcomes.append(outcome)
            if whole:  # minutes of work: show each verdict as it comes
                console.print(
                    f"{len(outcomes)} {outcome.mutant}: "
                    f"{outcome.by or '[yellow]SURVIVED[/]'}",
                    highlight=False,
                )
    except KeyboardInterrupt:
        killed = sum(o.killed for o in outcomes)
        print(f"interrupted: {len(outcomes)} mutants run, {killed} killed", file=sys.stderr)
        return EXIT_INTERRUPTED
    if not outcomes:
        raise ElectkitError(f"--only: no mutant name contains {args.only!r}")
    killed = sum(o.killed for o in outcomes)
    table = Table(title=f"mutants of {target}", title_justify="left")
    for column in ("mutant", "killed by", "how"):
        table.add_column(column)
    for o in outcomes:
        table.add_row(o.mutant, o.by or "[yellow]SURVIVED[/]", o.detail)
    console.print(table)
    score = 100.0 * killed / len(outcomes)
    by_module = per_module(outcomes) if whole else {}
    for module, (done, total) in by_module.items():
        console.print(f"{module}: {done} of {total} killed ({100.0 * done / total:.0f}%)")
    console.print(f"{killed} of {len(outcomes)} mutants killed ({score:.0f}%)")
    if args.json:
        print(
            json.dumps(
                {
                    "total": len(outcomes),
                    "killed": killed,
                    "modules": {m: {"killed": d, "total": t} for m, (d, t) in by_module.items()},
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


def per_module(outcomes: list) -> dict[str, tuple[int, int]]:
    """module -> (killed, total), in the order the modules were mutated."""
    table: dict[str, tuple[int, int]] = {}
    for o in outcomes:
        killed, total = table.get(o.module, (0, 0))
        table[o.module] = (killed + o.killed, total + 1)
    return table
