"""`electkit check --simulate`: random walks where an exhaustive search cannot finish.

Its options are added to `check` by :func:`add_simulation_options`; `check` hands a
``--simulate`` run to :func:`run_simulation`. The walks are checker/search/simulate.py's.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from checker.cli.check import default_trace_path
from checker.cli.options import model_from_args
from checker.errors import (
    EXIT_FAIL,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_VACUOUS,
    ElectkitError,
)
from checker.files import check_output_path
from checker.protocols.bundle import shown
from checker.protocols.registry import user_model_errors
from checker.render.report import counterexample_table, make_console
from checker.search.simulate import Simulation, Violation, simulate
from checker.traces import Trace, write_trace
from spec.model import ModelError

MAX_DEPTH = 99_999  # a trace holds at most 100,000 states (checker/traces/itf.py)
MAX_WALKS = 10**9

EPILOG = """
with --simulate: 0 no violation in the walks (evidence, not a proof); 1 a walk violated a
property (the walk is written as a trace); 4 a `sometimes` property was never witnessed by
any walk (more or longer walks); 2, 3 and 130 as above."""


def add_simulation_options(parser: argparse.ArgumentParser) -> None:
    """Add ``--simulate``, ``--walks``, ``--depth`` and ``--seed`` (``--continue`` is check's
    own: with --simulate it keeps the first walk that violates each property)."""
    group = parser.add_argument_group(
        "simulation", "random walks instead of an exhaustive search (docs/checker.md)"
    )
    group.add_argument(
        "--simulate",
        action="store_true",
        help="check random walks instead of every state: for bounds an exhaustive search "
        "cannot finish; finding no violation is not a proof",
    )
    group.add_argument(
        "--walks",
        type=int,
        metavar="W",
        help=f"with --simulate (required): number of walks, 1 to {MAX_WALKS:,}",
    )
    group.add_argument(
        "--depth",
        type=int,
        metavar="D",
        help=f"with --simulate (required): steps per walk at most, 0 to {MAX_DEPTH:,}",
    )
    group.add_argument(
        "--seed",
        type=int,
        metavar="X",
        help="with --simulate (required): the seed; walk i is the same for a seed whatever W",
    )
    parser.epilog = (parser.epilog or "") + EPILOG


def refuse_bad_simulation_options(args: argparse.Namespace) -> None:
    """One clear line (exit 2) for a simulation option that is missing, out of range, or
    given with an option it cannot go with."""
    given = [
        flag
        for flag, value in (("--walks", args.walks), ("--depth", args.depth), ("--seed", args.seed))
        if value is not None
    ]
    if not args.simulate:
        if given:
            raise ElectkitError(f"{given[0]} goes with --simulate (random walks)")
        return
    missing = [flag for flag in ("--walks", "--depth", "--seed") if flag not in given]
    if missing:
        raise ElectkitError(
            f"--simulate needs --walks W, --depth D and --seed X (missing: {', '.join(missing)})"
        )
    if not 1 <= args.walks <= MAX_WALKS:
        raise ElectkitError(f"--walks must be from 1 to {MAX_WALKS:,}, got {args.walks}")
    if not 0 <= args.depth <= MAX_DEPTH:
        raise ElectkitError(f"--depth must be from 0 to {MAX_DEPTH:,}, got {args.depth}")
    for flag, clash in (
        ("--workers", args.workers is not None),
        ("--scheduler", args.scheduler is not None),
        ("--liveness", args.liveness),
        ("--checkpoint", args.checkpoint is not None),
        ("--resume", args.resume is not None),
        ("--memory-limit", args.memory_limit is not None),
        ("--round-size", args.round_size is not None),
        ("--stats", args.stats is not None),
        ("--max-depth", args.max_depth is not None),
    ):
        if clash:
            raise ElectkitError(
                f"{flag} does not go with --simulate (the walks run in one process)"
            )
    if args.keep_going and args.trace_out is not None:
        raise ElectkitError(
            "--trace-out names one file; with --continue each violated property's walk is "
            "written to its own default path (see --help)"
        )


def run_simulation(args: argparse.Namespace, console: Console) -> int:
    """Run the walks the options ask for, report them, write each violating walk as a trace."""
    bundle, model = model_from_args(args, search=False)  # first: --list-params lists and exits
    refuse_bad_simulation_options(args)
    if args.trace_out is not None:  # refused before the walks, not after them
        check_output_path(args.trace_out, "--trace-out")
    with user_model_errors(bundle):
        names = [p.name for p in model.properties() if p.kind == "always"]
    unknown = sorted(set(args.property or ()) - set(names))
    if unknown:
        raise ElectkitError(
            f"--property: {unknown[0]!r} is not an always-property of {bundle.name}; "
            f"valid: {', '.join(sorted(names))}"
        )
    progress = _progress_printer(make_console(stderr=True), args.walks)
    try:
        with user_model_errors(bundle):
            sim = simulate(
                model,
                args.walks,
                args.depth,
                args.seed,
                properties=frozenset(args.property) if args.property else None,
                keep_going=args.keep_going,
                on_progress=None if args.quiet else progress,
            )
    except ModelError as exc:
        raise ElectkitError(f"{model.name}: {exc}") from None
    traces = [_write_walk(model, args, sim, v) for v in sim.violations]
    if not args.quiet:
        _report(console, model, args, sim, traces)
    if args.json:
        print(json.dumps(simulation_json(model, sim, traces)))
        sys.stdout.flush()
    if sim.verdict == "interrupted":
        return EXIT_INTERRUPTED
    if sim.violations:
        return EXIT_FAIL
    return EXIT_VACUOUS if sim.unwitnessed else EXIT_OK


def _write_walk(model, args: argparse.Namespace, sim: Simulation, v: Violation) -> str:
    path = Path(args.trace_out) if args.trace_out else default_trace_path(model, v.property)
    meta = {
        "property": v.property,
        "verdict": "violation",
        "expect": "diverges" if model.parameters.get("variant") else "conforms",
        "description": f"random walk {v.walk} (seed {sim.seed}, depth {sim.depth_bound}) that "
        f"violates {v.property} at its last state, found by electkit check --simulate",
    }
    return str(write_trace(Trace(model, v.init, v.path, meta), path, "--trace-out"))


def simulation_json(model, sim: Simulation, traces: list[str]) -> dict:
    """The one JSON line of ``check --simulate --json``: check's keys, and the walks'."""
    first = sim.violations[0] if sim.violations else None
    vacuous = not sim.violations and bool(sim.unwitnessed) and sim.verdict == "ok"
    e = sim.estimate
    return {
        "mode": "simulate",
        "verdict": "vacuous" if vacuous else sim.verdict,
        "property": first.property if first else (sim.unwitnessed[0] if vacuous else None),
        "spec": model.name,
        "parameters": dict(model.parameters),
        "properties": sim.checked,
        "distinct_states": sim.distinct_states,
        "generated_states": sim.generated,
        "depth": sim.longest,
        "seconds": round(sim.seconds, 3),
        "trace": traces[0] if traces else None,
        "trace_length": len(first.path) if first else None,
        "symmetry": False,
        "seed": sim.seed,
        "walks": sim.walks,
        "walk_depth": sim.depth_bound,
        "steps": sim.steps,
        "stuck_walks": sim.stuck,
        "witnessed": sim.witnessed,
        "unwitnessed": sim.unwitnessed,
        "vacuous": vacuous,
        "fired": sim.fired,
        "estimate": {
            "states": round(e.states, 1),
            "fraction": round(e.fraction, 4),
            "sample_coverage": round(e.sample_coverage, 4),
            "singletons": e.singletons,
            "doubletons": e.doubletons,
        },
        "violations": [
            {"property": v.property, "walk": v.walk, "trace": t, "trace_length": len(v.path)}
            for v, t in zip(sim.violations, traces, strict=True)
        ],
    }


def _report(console: Console, model, args, sim: Simulation, traces: list[str]) -> None:
    params = ", ".join(f"{k}={shown(v)}" for k, v in model.parameters.items())
    table = Table(
        title=f"{model.name} ({params}): simulation", show_header=False, title_justify="left"
    )
    table.add_column(style="bold")
    table.add_column()
    verdict = {
        "ok": "[green]no violation found (a simulation is evidence, not a proof)[/]",
        "violation": f"[red]violation of {', '.join(v.property for v in sim.violations)}[/]",
        "interrupted": "[yellow]interrupted: not every walk was run[/]",
    }[sim.verdict]
    table.add_row("verdict", verdict)
    table.add_row("walks", f"{sim.walks:,} of {args.walks:,} (seed {sim.seed})")
    table.add_row(
        "steps",
        f"{sim.steps:,}; longest walk {sim.longest} of at most {sim.depth_bound}; "
        f"{sim.stuck:,} walks ended early (no step changes the state)",
    )
    e = sim.estimate
    table.add_row("distinct states", f"{sim.distinct_states:,} (concrete, no symmetry)")
    table.add_row(
        "estimated reachable",
        f"≈ {e.states:,.0f} by Chao2 (seen {e.fraction:.1%} of them; a lower bound, "
        f"see docs/checker.md); {e.singletons:,} states seen in one walk only, "
        f"{e.doubletons:,} in two",
    )
    table.add_row("sample coverage", f"{e.sample_coverage:.1%} of visits were to a known state")
    table.add_row(
        "time", f"{sim.seconds:.2f} s ({sim.steps / max(sim.seconds, 1e-9):,.0f} steps/s)"
    )
    if sim.witnessed or sim.unwitnessed:
        table.add_row("sometimes, witnessed", ", ".join(sim.witnessed) or "-")
        if sim.unwitnessed:
            table.add_row("[yellow]sometimes, NOT witnessed[/]", ", ".join(sim.unwitnessed))
    console.print(table)
    fired = Table(title="actions fired", title_justify="left")
    fired.add_column("action")
    fired.add_column("fired", justify="right")
    for action, count in sim.fired.items():
        fired.add_row(action, f"{count:,}")
    console.print(fired)
    for v, path in zip(sim.violations, traces, strict=True):
        title = f"walk {v.walk}: violates {v.property} after {len(v.path)} steps"
        console.print(counterexample_table(model, v.init, v.path, title=title))
        console.print(f"trace written to {path}", soft_wrap=True)
        console.print(f"replay it: electkit replay {path}", soft_wrap=True)
    if sim.verdict == "ok" and sim.unwitnessed:
        console.print(
            f"{sim.unwitnessed[0]} was never true in any walk: the pass is vacuous. Run more "
            "or longer walks."
        )
    elif sim.verdict == "ok":
        console.print(
            "no walk violated a property; states no walk visited may. For a proof at this "
            "bound run `electkit check` without --simulate."
        )


def _progress_printer(console: Console, total: int):
    """A plain progress line about every 10 s (walks done, distinct states), after 1 s."""
    next_line = [1.0]

    def report(done: int, distinct: int, seconds: float) -> None:
        if seconds >= next_line[0]:
            next_line[0] = seconds + 10.0
            console.print(
                f"  walks {done:>12,} of {total:,}   distinct {distinct:>12,}   {seconds:6.1f} s",
                style="cyan",
            )

    return report
