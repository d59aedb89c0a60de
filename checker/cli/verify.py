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
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree as ET

from rich.table import Table

from checker.errors import EXIT_FAIL, EXIT_INTERRUPTED, EXIT_OK, ElectkitError
from checker.files import check_output_path, write_text
from checker.protocols.bundle import Bundle, shown
from checker.protocols.registry import DEFAULT, resolve
from checker.render.report import make_console
from checker.search.explore import explore


@dataclass
class Stage:
    """The outcome of one stage of the gate."""

    name: str
    passed: bool
    summary: str
    seconds: float = 0.0
    details: dict = field(default_factory=dict)


def _bound(parameters) -> str:
    return " ".join(f"{k}={shown(v)}" for k, v in parameters.items())


def stage_check(bundle: Bundle) -> Stage:
    """Every property holds at the gate's bound (symmetry on where the model declares it)."""
    parameters = dict(bundle.gate.parameters) if bundle.gate else {}
    result = explore(bundle.build(**parameters), symmetry=True)
    if result.verdict == "interrupted":
        raise KeyboardInterrupt
    passed = result.verdict == "ok"  # a never-witnessed `sometimes` is a (vacuous) violation
    summary = (
        f"{result.verdict}: {result.distinct_states:,} "
        f"{'orbits' if result.symmetry else 'states'}, depth {result.depth}"
        if passed
        else f"{result.verdict} of {result.property}" + (" (vacuous)" if result.vacuous else "")
    )
    return Stage(
        f"model check {_bound(parameters)}".strip(),
        passed,
        summary,
        details={
            "distinct_states": result.distinct_states,
            "depth": result.depth,
            "property": result.property,
        },
    )


def stage_variants(bundle: Bundle) -> Stage:
    """The checker can fail: each faulty variant gives the verdict the bundle expects."""
    wrong = []
    for case in bundle.gate.variants:
        checked = case.property or bundle.gate.headline
        model = bundle.build(**case.parameters, variant=case.variant)
        result = explore(model, symmetry=True, properties=frozenset({checked}) if checked else None)
        if result.verdict == "interrupted":
            raise KeyboardInterrupt
        if result.verdict != case.expected:
            wrong.append(
                f"{case.variant} {_bound(case.parameters)}: {result.verdict}, "
                f"expected {case.expected}"
            )
    cases = len(bundle.gate.variants)
    summary = f"{cases - len(wrong)}/{cases} variants as expected" + (
        f" ({'; '.join(wrong)})" if wrong else ""
    )
    return Stage("faulty variants caught", not wrong, summary)


def stage_prove(bundle: Bundle) -> Stage:
    """The protocol's proof for every size (z3)."""
    passed, summary, details = bundle.proof.gate()
    return Stage("proof (every size)", passed, summary, details=details)


def stage_replay(bundle: Bundle, traces: Path) -> Stage:
    """Every trace of the corpus conforms or diverges as its #meta says."""
    replay = importlib.import_module("checker.conformance.replay")
    outcome = replay.replay_for_gate(traces)
    return Stage(
        f"conformance ({traces.name}/)", outcome["passed"], outcome["summary"], details=outcome
    )


def stage_cover(bundle: Bundle) -> Stage:
    """Every transition of the state graph, at each cover bound, replays on the implementation."""
    replay = importlib.import_module("checker.conformance.replay")
    outcomes = [replay.replay_cover_for_gate(bundle.build(**p)) for p in bundle.gate.cover]
    failed = [o for o in outcomes if not o["passed"]]
    bounds = "; ".join(_bound(p) for p in bundle.gate.cover)
    summary = (
        failed[0]["summary"]
        if failed
        else f"{sum(o['traces'] for o in outcomes)} traces, {sum(o['steps'] for o in outcomes)} "
        f"steps conform ({bounds})"
    )
    return Stage("transition cover", not failed, summary)


def stage_mbt(bundle: Bundle, shrink: bool = True) -> Stage:
    """Random schedules (hypothesis, derandomized: the same ones every run) at the gate's
    bounds replay on the implementation; a divergence is shrunk and written as a trace."""
    mbt = importlib.import_module("checker.conformance.mbt")
    gate = bundle.gate
    passed, summary = mbt.mbt_for_gate(bundle, gate.mbt, gate.mbt_examples, shrink=shrink)
    return Stage("random schedules (mbt)", passed, summary)


def stage_chaos(bundle: Bundle) -> Stage:
    """A short real run under faults, its logs validated against the model."""
    passed, report = bundle.validation.run_validation_stage(seconds=CHAOS_SECONDS, seed=0)
    # One line for the gate: what was injected, and the verdict (the logs were temporary).
    lines = report.splitlines()
    keep = [
        line
        for line in lines
        if line.startswith(("chaos:", "verdict:", "misfit", "first", "liveness"))
        or "does not fit the model" in line  # the first misfit: file, line, node, reason
    ]
    summary = "; ".join(keep or lines[:2])
    return Stage(f"chaos run validated ({CHAOS_SECONDS:g} s)", passed, summary)


def stage_crash(bundle: Bundle) -> Stage:
    """Every state a crash can leave the implementation's storage in recovers correctly."""
    passed, summary, details = bundle.durability.crash_gate()
    return Stage("crash states recovered", passed, summary, details=details)


def stage_iofaults(bundle: Bundle) -> Stage:
    """The real server under an I/O error at every file-system call: safe, and one clear line."""
    passed, summary, details = bundle.durability.fault_gate()
    return Stage("I/O faults at every call", passed, summary, details=details)


CHAOS_SECONDS = 10.0
STAGE_NAMES = ("check", "variants", "prove", "replay", "cover", "mbt", "chaos", "crash", "iofaults")


def stages_of(
    bundle: Bundle, traces: Path | None, shrink: bool = True
) -> dict[str, Callable[[], Stage]]:
    """The stages that apply to ``bundle``: a stage needs the part of the bundle it runs.
    ``shrink=False`` reports a random schedule's divergence unshrunk (`electkit mutate`)."""
    stages: dict[str, Callable[[], Stage]] = {"check": functools.partial(stage_check, bundle)}
    if bundle.gate is not None and bundle.gate.variants:
        stages["variants"] = functools.partial(stage_variants, bundle)
    if bundle.proof is not None:
        stages["prove"] = functools.partial(stage_prove, bundle)
    if bundle.adapter is not None and traces is not None:
        stages["replay"] = functools.partial(stage_replay, bundle, traces)
    if bundle.adapter is not None and bundle.gate is not None and bundle.gate.cover:
        stages["cover"] = functools.partial(stage_cover, bundle)
    if bundle.adapter is not None and bundle.gate is not None and bundle.gate.mbt:
        stages["mbt"] = functools.partial(stage_mbt, bundle, shrink)
    if bundle.validation is not None:
        stages["chaos"] = functools.partial(stage_chaos, bundle)
    if bundle.durability is not None:
        stages["crash"] = functools.partial(stage_crash, bundle)
        stages["iofaults"] = functools.partial(stage_iofaults, bundle)
    return stages


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--junit", metavar="PATH", help="write JUnit XML, one case per stage")
    parser.add_argument("--json", action="store_true", help="end with one JSON line on stdout")
    parser.add_argument(
        "--spec",
        default=DEFAULT,
        metavar="NAME",
        help=f"the protocol to gate (default: {DEFAULT}), or a bundle of your own as "
        "path/to/file.py:NAME",
    )
    parser.add_argument(
        "--traces",
        metavar="DIR",
        help="the corpus the conformance stage replays (default: the protocol's own)",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=list(STAGE_NAMES),
        metavar="STAGE",
        help=f"run only these stages (repeatable; {', '.join(STAGE_NAMES)})",
    )


def run_stage(name: str, stage_fn: Callable[[], Stage]) -> Stage:
    start = time.perf_counter()
    try:
        stage = stage_fn()
    except ElectkitError as exc:
        stage = Stage(name, False, f"error: {exc}")
    stage.seconds = time.perf_counter() - start
    return stage


def corpus_dir(bundle: Bundle, option: str | None) -> Path | None:
    """The corpus to replay: the option, else the protocol's own (None: it has none)."""
    if option is not None:
        path = Path(option)
    elif bundle.gate is not None and bundle.gate.corpus is not None:
        path = Path(bundle.gate.corpus)
    else:
        return None
    if not path.is_dir():
        raise ElectkitError(f"--traces: {path} is not a folder of trace files")
    return path


def run(args: argparse.Namespace) -> int:
    console = make_console(stderr=args.json)
    bundle = resolve(args.spec)
    traces = corpus_dir(bundle, args.traces)
    if args.junit:  # refuse an unwritable report path before minutes of work, not after
        junit = check_output_path(args.junit, "--junit")
        if junit.parent.exists() and not os.access(junit.parent, os.W_OK):
            raise ElectkitError(f"--junit: cannot write {junit}: permission denied")
    stage_fns = stages_of(bundle, traces)
    missing = [name for name in args.only or () if name not in stage_fns]
    if missing:
        raise ElectkitError(
            f"--only {missing[0]}: {bundle.name} has no such stage (it needs a part the "
            f"bundle does not have); its stages: {', '.join(stage_fns)}"
        )
    stages = []
    names = args.only or list(stage_fns)
    try:
        for name in names:
            with console.status(f"verify: {name} ...", spinner="dots"):
                stage = run_stage(name, stage_fns[name])
            mark = "[green]pass[/]" if stage.passed else "[red]FAIL[/]"
            console.print(f"{mark}  {stage.name:<26} {stage.summary}  ({stage.seconds:.1f} s)")
            stages.append(stage)
    except KeyboardInterrupt:
        # Stopped, not failed: say what ran, write no report (a partial gate is no verdict).
        done = ", ".join(s.name for s in stages) or "none"
        print(
            f"interrupted: verify stopped; stages finished: {done}; not run: "
            f"{', '.join(names[len(stages) :])}",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
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
                    "spec": bundle.name,
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
    xml = ET.tostring(suite, encoding="unicode", xml_declaration=True)
    write_text(path, xml + "\n", "--junit")
