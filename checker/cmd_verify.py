"""`electkit verify`: the CI gate — model check, faulty-variant self-test, proof, conformance.

Each stage runs at the project's default bounds and reports pass or fail with its figures;
the gate exits 0 only if every stage passes. ``--junit PATH`` writes JUnit XML (one test case
per stage) for CI systems; ``--json`` ends with one JSON line.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

from rich.console import Console
from rich.table import Table

from checker.errors import EXIT_FAIL, EXIT_OK, ElectkitError
from checker.explore import explore
from spec.raft_election import VARIANTS, RaftElection

DEFAULT_SERVERS, DEFAULT_MAX_TERM = 3, 2
PROJECT_TRACES = Path(__file__).resolve().parent.parent / "traces"


@dataclass
class Stage:
    """The outcome of one stage of the gate."""

    name: str
    passed: bool
    summary: str
    seconds: float = 0.0
    details: dict = field(default_factory=dict)


def stage_check() -> Stage:
    """Every property holds at the default bound (N=3, T=2, restart on, symmetry on)."""
    result = explore(RaftElection(DEFAULT_SERVERS, DEFAULT_MAX_TERM), symmetry=True)
    passed = result.verdict == "ok"  # a never-witnessed `sometimes` is a (vacuous) violation
    summary = (
        f"{result.verdict}: {result.distinct_states:,} orbits, depth {result.depth}"
        if passed
        else f"{result.verdict} of {result.property}" + (" (vacuous)" if result.vacuous else "")
    )
    return Stage(
        "model check N=3 T=2",
        passed,
        summary,
        details={
            "distinct_states": result.distinct_states,
            "depth": result.depth,
            "property": result.property,
        },
    )


def expected_variant_verdicts() -> list[tuple[str, int, str]]:
    """(variant, servers, expected verdict): each faulty variant must be caught."""
    cases = [(v, DEFAULT_SERVERS, "violation") for v in VARIANTS if v != "quorum_off_by_one"]
    return cases + [
        ("quorum_off_by_one", 2, "violation"),
        ("quorum_off_by_one", 3, "ok"),
        ("quorum_off_by_one", 4, "violation"),
    ]


def stage_variants() -> Stage:
    """The checker can fail: each faulty variant gives a two-leader counterexample."""
    wrong = []
    for variant, servers, expected in expected_variant_verdicts():
        model = RaftElection(servers, DEFAULT_MAX_TERM, variant=variant)
        result = explore(model, symmetry=True, properties=frozenset({"ElectionSafety"}))
        if result.verdict != expected:
            wrong.append(f"{variant} N={servers}: {result.verdict}, expected {expected}")
    cases = len(expected_variant_verdicts())
    summary = f"{cases - len(wrong)}/{cases} variants as expected" + (
        f" ({'; '.join(wrong)})" if wrong else ""
    )
    return Stage("faulty variants caught", not wrong, summary)


def stage_prove() -> Stage:
    """ElectionSafety for every N and T (z3): quorum axiom, induction, non-vacuity."""
    prove = importlib.import_module("checker.prove")
    majority = prove.majority_check(None)
    checks = prove.prove_invariant(None, ())
    failed = [c for c in checks if c.verdict != "ok"]
    vacuous = [c for c in prove.nonvacuity(None) if c.verdict != "ok"]
    passed = majority.holds and not failed and not vacuous
    if passed:
        summary = f"proved: {len(checks)} checks, quorum axiom, non-vacuity"
    elif failed:
        summary = f"counterexample to induction: {failed[0].label()}"
    elif vacuous:
        summary = f"vacuous: {vacuous[0].lemma} is unsatisfiable"
    else:
        summary = f"the quorum axiom fails: {majority.rule}"
    return Stage("proof (all N, T)", passed, summary, details={"checks": len(checks)})


def stage_replay(traces: Path) -> Stage:
    """Every trace of the corpus conforms or diverges as its #meta says."""
    replay = importlib.import_module("checker.replay")
    outcome = replay.replay_for_gate(traces)
    return Stage("conformance (traces/)", outcome["passed"], outcome["summary"], details=outcome)


STAGES: dict[str, Callable[..., Stage]] = {
    "check": stage_check,
    "variants": stage_variants,
    "prove": stage_prove,
    "replay": stage_replay,
}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--junit", metavar="PATH", help="write JUnit XML, one case per stage")
    parser.add_argument("--json", action="store_true", help="end with one JSON line on stdout")
    parser.add_argument(
        "--traces",
        metavar="DIR",
        help="the corpus the conformance stage replays (default: ./traces if it exists, "
        "else the project's traces/)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=list(STAGES),
        metavar="STAGE",
        help=f"run only these stages (repeatable; {', '.join(STAGES)})",
    )


def run_stage(name: str, stage_fn: Callable[[], Stage]) -> Stage:
    start = time.perf_counter()
    try:
        stage = stage_fn()
    except ElectkitError as exc:
        stage = Stage(name, False, f"error: {exc}")
    stage.seconds = time.perf_counter() - start
    return stage


def corpus_dir(option: str | None) -> Path:
    """The corpus to replay: the option, else ./traces, else the project's own traces/."""
    if option is not None:
        path = Path(option)
    else:
        path = Path("traces") if Path("traces").is_dir() else PROJECT_TRACES
    if not path.is_dir():
        raise ElectkitError(f"--traces: {path} is not a folder of trace files")
    return path


def run(args: argparse.Namespace) -> int:
    console = Console(stderr=args.json, highlight=False)
    traces = corpus_dir(args.traces)
    if args.junit:  # refuse an unwritable report path before minutes of work, not after
        junit = Path(args.junit)
        if junit.is_dir() or (junit.parent.exists() and not os.access(junit.parent, os.W_OK)):
            raise ElectkitError(f"--junit: cannot write {junit}")
    stage_fns = {**STAGES, "replay": functools.partial(stage_replay, traces)}
    stages = []
    for name in args.only or list(STAGES):
        with console.status(f"verify: {name} ...", spinner="dots"):
            stage = run_stage(name, stage_fns[name])
        mark = "[green]pass[/]" if stage.passed else "[red]FAIL[/]"
        console.print(f"{mark}  {stage.name:<26} {stage.summary}  ({stage.seconds:.1f} s)")
        stages.append(stage)
    passed = all(s.passed for s in stages)
    table = Table(show_header=False, box=None)
    table.add_row(
        "[bold]verify[/]",
        "[green]PASSED[/]" if passed else "[red]FAILED[/]",
        f"{sum(s.seconds for s in stages):.1f} s",
    )
    console.print(table)
    if args.junit:
        write_junit(stages, Path(args.junit))
    if args.json:
        print(
            json.dumps(
                {
                    "verdict": "pass" if passed else "fail",
                    "seconds": round(sum(s.seconds for s in stages), 3),
                    "stages": [
                        {
                            "name": s.name,
                            "passed": s.passed,
                            "summary": s.summary,
                            "seconds": round(s.seconds, 3),
                        }
                        for s in stages
                    ],
                }
            )
        )
    return EXIT_OK if passed else EXIT_FAIL


def write_junit(stages: list[Stage], path: Path) -> None:
    """JUnit XML: one <testcase> per stage, a <failure> where it failed."""
    suite = ET.Element(
        "testsuite",
        name="electkit verify",
        tests=str(len(stages)),
        failures=str(sum(not s.passed for s in stages)),
        time=f"{sum(s.seconds for s in stages):.3f}",
    )
    for stage in stages:
        case = ET.SubElement(
            suite,
            "testcase",
            classname="electkit.verify",
            name=stage.name,
            time=f"{stage.seconds:.3f}",
        )
        if not stage.passed:
            ET.SubElement(case, "failure", message=stage.summary).text = stage.summary
        else:
            ET.SubElement(case, "system-out").text = stage.summary
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        ET.ElementTree(suite).write(path, encoding="utf-8", xml_declaration=True)
    except OSError as exc:
        raise ElectkitError(f"--junit: cannot write {path}: {exc.strerror}") from None
