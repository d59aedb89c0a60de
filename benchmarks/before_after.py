"""The checker before and after a change, in one run: same bound, interleaved, whole processes.

    .venv/bin/python benchmarks/before_after.py BEFORE_DIR [--repeat 5]

BEFORE_DIR is a checkout of the older commit (``git worktree add --detach /tmp/before REV``);
the current checkout is "after". Each repeat runs, one after the other (never side by side),
``explore`` at N=3, T=2 (restart on, all properties) with and without symmetry in a fresh
Python process of each checkout, so that load on the machine falls on both alike. Reports the
median wall time of the search itself and peak RSS per side, and the after/before ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

AFTER = Path(__file__).resolve().parent.parent
PROGRAM = """
import importlib, json, sys, time, resource
# Name the module the checkout has: an editable install of the other checkout would serve a
# missing submodule from there, and the run would mix the two.
search = importlib.import_module(sys.argv[2])
explore = search.explore
import spec.raft_election
from spec.raft_election import RaftElection
symmetry = sys.argv[1] == "on"
start = time.perf_counter()
result = explore(RaftElection(3, 2), symmetry=symmetry)
seconds = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"distinct": result.distinct_states, "generated": result.generated_states,
                  "depth": result.depth, "seconds": seconds, "peak_bytes": peak,
                  "files": [search.__file__, spec.raft_election.__file__]}))
"""


def run(checkout: Path, symmetry: str) -> dict:
    """One search in a fresh process of ``checkout``; its figures."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    old_layout = (checkout / "checker" / "explore.py").is_file()
    module = "checker.explore" if old_layout else "checker.search.explore"
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM, symmetry, module],
        cwd=checkout,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    result = json.loads(out.stdout.strip().splitlines()[-1])
    strays = [f for f in result["files"] if not f.startswith(str(checkout.resolve()))]
    assert not strays, f"{checkout}: imported from elsewhere: {strays}"
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rows = {}
    for symmetry in ("off", "on"):
        runs: dict[str, list[dict]] = {"before": [], "after": []}
        for _ in range(args.repeat):
            runs["before"].append(run(args.before, symmetry))
            runs["after"].append(run(AFTER, symmetry))
        sides = {}
        for side, results in runs.items():
            counts = {(r["distinct"], r["generated"], r["depth"]) for r in results}
            assert len(counts) == 1, f"{side}: counts differ between runs: {counts}"
            sides[side] = {
                "distinct": results[0]["distinct"],
                "generated": results[0]["generated"],
                "depth": results[0]["depth"],
                "median_seconds": round(statistics.median(r["seconds"] for r in results), 3),
                "peak_mb": round(max(r["peak_bytes"] for r in results) / 2**20, 1),
            }
        same = all(
            sides["before"][k] == sides["after"][k] for k in ("distinct", "generated", "depth")
        )
        ratio = sides["after"]["median_seconds"] / sides["before"]["median_seconds"]
        rows[symmetry] = {**sides, "same_counts": same, "time_ratio_after_before": round(ratio, 3)}
        print(
            f"symmetry {symmetry}: before {sides['before']}, after {sides['after']}, "
            f"same counts: {same}, time after/before: {ratio:.3f}"
        )
    print(json.dumps(rows))
    return 0 if all(r["same_counts"] for r in rows.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
