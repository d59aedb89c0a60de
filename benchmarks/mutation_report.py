"""The mutation score over impl/, per module, from `electkit mutate --json` outputs.

Reads one or more JSON lines written by `electkit mutate --json` (e.g. two runs over
different `--file` sets, run side by side), runs the gate again on each mutant a chaos stage
killed by a liveness bound alone (or without a detail kept), runs the module's unit tests
(the bundle's ``Mutation.tests``, what `electkit mutate` itself runs on a mutant every stage
let pass) against each survivor that a run made without them, and prints the score per module as a
Markdown table (by the gate's stages alone, and with the unit tests), then every survivor.
A file not ending in .json is read as the progress lines (stderr) of a run stopped early.
Usage: .venv/bin/python benchmarks/mutation_report.py OUT.json [OUT.json|PROGRESS.err ...]
"""

from __future__ import annotations

import json
import sys
from collections import defaultdict

from checker.conformance.mutate_gate import mutants, run_gate, run_tests
from checker.conformance.overlay import Overlay, package_dir
from checker.protocols.registry import bundle_named

BUNDLE = bundle_named("raft_election")


def main() -> None:
    outcomes = []
    for path in sys.argv[1:]:
        with open(path) as file:
            text = file.read().strip()
        if path.endswith(".json"):
            outcomes += json.loads(text.splitlines()[-1])["mutants"]
        else:  # the progress lines of a run stopped early: "N name: stage" or "...: SURVIVED"
            for line in text.splitlines():
                name, _, by = line.split(" ", 1)[1].rpartition(": ")
                survived = by == "SURVIVED"
                outcomes.append({"name": name, "killed": not survived,
                                 "by": None if survived else by, "detail": ""})
    root = package_dir(BUNDLE.mutation.package)
    by_name = {}
    for module in {o["name"].split(":", 1)[0] for o in outcomes}:
        for mutant in mutants((root / module).read_text(), module):
            by_name[mutant.name] = mutant
    for o in outcomes:
        if o["killed"] and o["by"].startswith("chaos") and not _misfit(o["detail"]):
            # Killed by a liveness bound alone (or no detail kept): run the gate again, at this
            # commit's bounds, so a flake on a loaded machine is not counted as a kill.
            mutant = by_name[o["name"]]
            by, detail = run_gate(BUNDLE, mutant, BUNDLE.mutation.stages, None)
            o.update(killed=bool(by), by=by or None, detail=detail, rechecked=True)
            print(f"recheck {o['name']}: {by or 'SURVIVED'} {detail[-160:]}", file=sys.stderr,
                  flush=True)
    for o in outcomes:
        if not o["killed"]:
            mutant = by_name[o["name"]]
            source = mutant.source + "\n\ndef _mutant_identity(value):\n    return value\n"
            with Overlay(BUNDLE.mutation.package, {mutant.module: source}) as overlay:
                by, detail = run_tests(BUNDLE, mutant, overlay)
            if by:
                o.update(killed=True, by=by, detail=detail)
            print(f"{o['name']}: {by or 'SURVIVED'} {detail}", file=sys.stderr, flush=True)
    table = defaultdict(lambda: [0, 0, 0])  # module -> [total, killed by the gate, with tests]
    for o in outcomes:
        row = table[o["name"].split(":", 1)[0]]
        row[0] += 1
        row[1] += o["killed"] and o["by"] != "tests"
        row[2] += o["killed"]
    print("| module | mutants | killed by the gate | + unit tests | survivors |")
    print("| --- | --- | --- | --- | --- |")
    total = [0, 0, 0]
    for module in [m for m in BUNDLE.mutation.files if m in table]:
        n, gate, tests = table[module]
        total = [a + b for a, b in zip(total, (n, gate, tests), strict=True)]
        print(f"| {module} | {n} | {gate} ({100 * gate / n:.0f}%) | {tests} "
              f"({100 * tests / n:.0f}%) | {n - tests} |")
    n, gate, tests = total
    print(f"| **impl/** | {n} | {gate} ({100 * gate / n:.1f}%) | {tests} "
          f"({100 * tests / n:.1f}%) | {n - tests} |")
    stages = defaultdict(int)
    for o in outcomes:
        stages[o["by"] or "survived"] += 1
    print("\nkilled by: " + ", ".join(f"{k} {v}" for k, v in sorted(stages.items())))
    print("\nsurvivors:")
    for o in outcomes:
        if not o["killed"]:
            print(f"- {o['name']}")


def _misfit(detail: str) -> bool:
    """Whether a chaos stage's summary shows a validation failure (not only a liveness one)."""
    return ("does not fit" in detail or "NOT a behaviour" in detail or "incomplete" in detail
            or detail.startswith("error:"))


if __name__ == "__main__":
    main()
