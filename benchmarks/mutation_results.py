"""One small JSON file per mutated module from `electkit mutate --json` runs, unit tests re-run.

Reads the JSON line of one or more `electkit mutate --json` runs (or, from a file not ending
in .json, the progress lines of a run cut short), runs the module's unit tests
(the bundle's ``Mutation.tests``) once more against every mutant that survived the run (tests
added while a long run was going on count, as they would in a new run: a survivor's gate
verdict does not depend on them), and writes ``OUT_DIR/<module>.json`` per module: the
command, the totals (killed by the gate, by the tests), and every mutant with what killed it.
Prints a Markdown row per module for docs/benchmarks.md.

A test found flaky and fixed during a run is named with ``--recheck TEST``: every mutant it
was first to kill is tested again, and run through the gate if the tests now let it pass.

Usage: .venv/bin/python benchmarks/mutation_results.py [--recheck TEST ...] OUT_DIR "COMMAND"
    RUN.json [RUN.json ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from checker.conformance.mutate_gate import mutants, run_gate, run_tests
from checker.conformance.overlay import Overlay, package_dir
from checker.protocols.registry import bundle_named

BUNDLE = bundle_named("raft_election")


def main() -> int:
    """Retest survivors, write one file per module, print the table rows."""
    parser = argparse.ArgumentParser(description="one JSON per mutated module")
    parser.add_argument("--recheck", action="append", default=[], metavar="TEST")
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("command")
    parser.add_argument("runs", nargs="+")
    args = parser.parse_args()
    out_dir, command = args.out_dir, args.command
    outcomes: list[dict] = []
    for path in args.runs:
        text = Path(path).read_text().strip()
        if path.endswith(".json"):
            found = json.loads(text.splitlines()[-1])["mutants"]
        else:  # the progress lines (stderr) of a run cut short: "N name: stage" or "...: SURVIVED"
            found = []
            for line in text.splitlines():
                name, _, by = line.split(" ", 1)[1].rpartition(": ")
                found.append({"name": name, "killed": by != "SURVIVED",
                              "by": None if by == "SURVIVED" else by, "detail": ""})
        # A mutant run again by a later file (a run cut short, then finished; a recheck): the
        # later verdict replaces the earlier. Two mutants of one line may share a name: the
        # n-th of a file replaces the n-th before it.
        seen: dict[str, int] = defaultdict(int)
        for o in found:
            earlier = [i for i, e in enumerate(outcomes) if e["name"] == o["name"]]
            if seen[o["name"]] < len(earlier):
                outcomes[earlier[seen[o["name"]]]] = o
            else:
                outcomes.append(o)
            seen[o["name"]] += 1
    root = package_dir(BUNDLE.mutation.package)
    by_name = {}
    for module in {o["name"].split(":", 1)[0] for o in outcomes}:
        by_name.update((m.name, m) for m in mutants((root / module).read_text(), module))
    for o in outcomes:
        if o["name"] not in by_name:
            print(f"{o['name']}: not a mutant of the current source (was impl/ changed "
                  "since the run?)", file=sys.stderr)
            return 2
        recheck = o["by"] == "tests" and any(t in (o["detail"] or "") for t in args.recheck)
        if not o["killed"] or recheck:
            mutant = by_name[o["name"]]
            source = mutant.source + "\n\ndef _mutant_identity(value):\n    return value\n"
            with Overlay(BUNDLE.mutation.package, {mutant.module: source}) as overlay:
                by, detail = run_tests(BUNDLE, mutant, overlay, timeout=600)
            if recheck and not by:  # tests-first: it never met the gate
                by, detail = run_gate(BUNDLE, mutant, BUNDLE.mutation.stages, None, tests=False,
                                      timeout=600)
            o.update(killed=bool(by), by=by or None, detail=detail)
            print(f"retest {o['name']}: {by or 'SURVIVED'}", file=sys.stderr, flush=True)
    modules: dict[str, list[dict]] = defaultdict(list)
    for o in outcomes:
        modules[o["name"].split(":", 1)[0]].append(o)
    out_dir.mkdir(parents=True, exist_ok=True)
    for module, rows in modules.items():
        tests = sum(o["by"] == "tests" for o in rows)
        killed = sum(o["killed"] for o in rows)
        record = {
            "module": module,
            "command": command,
            "mutants": len(rows),
            "killed": killed,
            "killed_by_tests": tests,
            "killed_by_gate": killed - tests,
            "survivors": [o["name"] for o in rows if not o["killed"]],
            "outcomes": [{"name": o["name"], "by": o["by"], "detail": (o["detail"] or "")[:160]}
                         for o in rows],
        }
        path = out_dir / f"{module.removesuffix('.py')}.json"
        path.write_text(json.dumps(record, indent=1) + "\n")
        share = 100.0 * killed / len(rows)
        print(f"| {module} | {len(rows)} | {killed - tests} | {tests} | {killed} ({share:.0f}%) "
              f"| {len(rows) - killed} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
