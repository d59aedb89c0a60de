"""Per-module mutation results over impl/, from `electkit mutate --json` runs, as committed files.

Reads the JSON line of one or more `electkit mutate --json` runs (or the progress lines of a
run stopped early), runs each module's unit tests (the bundle's ``Mutation.tests``, what
`electkit mutate` runs on a mutant every stage let pass) again, as they are now, against every
survivor (so a run made before a test was added counts that test) and every mutant the gate
timed out on (a survivor if they pass, or with --recheck-gate the gate again with a longer
timeout), writes one file per module to ``--out`` (default benchmarks/results/mutation/) and
prints the rows of docs/benchmarks.md's table, then every survivor. A run made with
``--tests-first`` (unit tests before the gate) is marked so: its gate column counts only the
mutants the unit tests let pass.
Usage: .venv/bin/python benchmarks/mutation_results.py [--out DIR] [--tests-first RUN.json ...]
    RUN.json ...
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from checker.conformance import mutate_gate
from checker.conformance.mutate_gate import Mutant, mutants, run_tests
from checker.conformance.overlay import Overlay, package_dir
from checker.protocols.registry import bundle_named

BUNDLE = bundle_named("raft_election")
OUT = Path(__file__).resolve().parent / "results" / "mutation"
RECHECK_TIMEOUT = 400.0  # seconds: a gate run alone that still takes this long hangs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="*", type=Path,
                        help="runs made gate first (the default): JSON, or progress lines")
    parser.add_argument("--tests-first", nargs="*", type=Path, default=[],
                        help="runs made with `electkit mutate --tests-first`")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--jobs", type=int, default=3, help="rechecks run at once")
    parser.add_argument("--recheck-gate", action="store_true",
                        help="run the gate again (timeout 400 s) on a timed-out mutant the unit "
                        "tests let pass, instead of counting it as a survivor")
    args = parser.parse_args()
    runs = []
    for path, tests_first in [(p, False) for p in args.runs] + [
            (p, True) for p in args.tests_first]:
        run = [dict(o, tests_first=tests_first) for o in _read_run(path)]
        seen: dict[str, int] = defaultdict(int)
        for o in run:  # two mutants may share a name (two 1000s on one line): number them
            o["key"] = (o["name"], seen[o["name"]])
            seen[o["name"]] += 1
        runs.append(run)
    # a mutant run again (after a test was fixed) counts by its last run
    outcomes = [o for i, run in enumerate(runs) for o in run
                if not any(o["key"] in {p["key"] for p in later} for later in runs[i + 1:])]
    root = package_dir(BUNDLE.mutation.package)
    by_name = {}
    for module in {o["name"].split(":", 1)[0] for o in outcomes}:
        seen = defaultdict(int)
        for m in mutants((root / module).read_text(), module):
            by_name[(m.name, seen[m.name])] = m
            seen[m.name] += 1
    mutate_gate.GATE_TIMEOUT = RECHECK_TIMEOUT  # only rechecks run the gate here
    again = [o for o in outcomes if not o["killed"] or o["by"] == "timeout"]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        verdicts = pool.map(
            lambda o: _recheck(by_name[o["key"]], o, args.recheck_gate), again)
        for o, (by, detail) in zip(again, verdicts, strict=True):
            o.update(killed=bool(by), by=by or None, detail=detail,
                     rechecked=o["by"] or "survivor")
            print(f"{o['name']}: {by or 'SURVIVED'} {detail[:120]}", file=sys.stderr,
                  flush=True)
    modules = defaultdict(list)
    for o in outcomes:
        modules[o["name"].split(":", 1)[0]].append(o)
    args.out.mkdir(parents=True, exist_ok=True)
    print("| module | mutants | killed by the gate | + unit tests | survivors |")
    print("| --- | --- | --- | --- | --- |")
    for module in [m for m in BUNDLE.mutation.files if m in modules]:
        rows = modules[module]
        n, killed = len(rows), sum(o["killed"] for o in rows)
        gate = sum(o["killed"] and o["by"] != "tests" for o in rows)
        first = all(o["tests_first"] for o in rows)
        for o in rows:
            o.pop("key", None)
        (args.out / f"{module.removesuffix('.py')}.json").write_text(json.dumps({
            "module": module, "total": n, "killed": killed, "killed_by_gate": gate,
            "tests_first": first, "mutants": rows}, indent=1) + "\n")
        gate_cell = (f"{gate} of the {n - (killed - gate)} the tests let pass" if first
                     else f"{gate} ({100 * gate / n:.0f}%)")
        print(f"| {module} | {n} | {gate_cell} | {killed} ({100 * killed / n:.0f}%) "
              f"| {n - killed} |")
    print("\nsurvivors:")
    for o in outcomes:
        if not o["killed"]:
            print(f"- {o['name']}")


def _read_run(path: Path) -> list[dict]:
    """The mutants of a run: its JSON line, or for a run stopped early (a file not ending in
    .json) its progress lines, "N name: stage" or "N name: SURVIVED"."""
    text = path.read_text().strip()
    if path.suffix == ".json":
        return json.loads(text.splitlines()[-1])["mutants"]
    found = []
    for line in text.splitlines():
        if not line[:1].isdigit():
            continue  # "interrupted: ...", "exit 130"
        name, _, by = line.split(" ", 1)[1].rpartition(": ")
        survived = by == "SURVIVED"
        found.append({"name": name, "killed": not survived, "by": None if survived else by,
                      "detail": ""})
    return found


def _recheck(mutant: Mutant, outcome: dict, recheck_gate: bool) -> tuple[str, str]:
    """A survivor meets the unit tests as they are now. So does a mutant the gate did not
    judge in time: on a loaded machine (load 10-15 on 2 cores) a surviving mutant's gate can
    outlast GATE_TIMEOUT, so a timeout is no kill: it is a survivor unless the unit tests kill
    it, or (``recheck_gate``) the gate, run again with RECHECK_TIMEOUT, hangs again."""
    source = mutant.source + "\n\ndef _mutant_identity(value):\n    return value\n"
    with Overlay(BUNDLE.mutation.package, {mutant.module: source}) as overlay:
        by, detail = run_tests(BUNDLE, mutant, overlay)
    if by or outcome["by"] != "timeout" or not recheck_gate:
        return by, detail  # a timeout the tests do not kill: counted as a survivor
    return mutate_gate.run_gate(BUNDLE, mutant, BUNDLE.mutation.stages, None, tests=False)


if __name__ == "__main__":
    main()
