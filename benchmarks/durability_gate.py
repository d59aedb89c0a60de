"""The gate's durability stages, timed: `crash` and `iofaults`, and optionally `make verify`.

Each stage runs in-process, ``--repeat`` times; the table gives its figures (crash states,
faulty runs) and the best and median wall time. ``--whole`` also times the whole gate as
`make verify` runs it (`electkit verify` for each protocol, one process each).

    .venv/bin/python benchmarks/durability_gate.py [--repeat 5] [--whole]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from checker.protocols.raft_election.durability import crash_gate, fault_gate  # noqa: E402

ELECTKIT = str(Path(sys.executable).with_name("electkit"))


def timed(fn) -> tuple[float, tuple]:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--whole", action="store_true", help="also time `make verify`")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    rows = {}
    for name, gate in (("crash", crash_gate), ("iofaults", fault_gate)):
        times = []
        for _ in range(args.repeat):
            seconds, (passed, summary, details) = timed(gate)
            if not passed:
                print(f"{name}: FAILED: {summary}")
                return 1
            times.append(seconds)
        rows[name] = {"best": min(times), "median": statistics.median(times), "summary": summary}
        print(f"{name:<9} best {min(times):6.2f} s  median {statistics.median(times):6.2f} s  "
              f"({summary[:110]})")
    if args.whole:
        stages = {}
        start = time.perf_counter()
        for spec in ("raft_election", "lease_election"):
            proc = subprocess.run([ELECTKIT, "verify", "--spec", spec, "--json"],
                                  capture_output=True, text=True)
            if proc.returncode != 0:
                print(f"verify --spec {spec}: exit {proc.returncode}\n{proc.stdout[-2000:]}")
                return 1
            report = json.loads(proc.stdout.strip().splitlines()[-1])
            stages[spec] = {s["name"]: s["seconds"] for s in report["stages"]}
        whole = time.perf_counter() - start
        rows["make verify"] = {"seconds": whole, "stages": stages}
        print(f"make verify (both protocols, wall): {whole:.1f} s")
        for spec, times in stages.items():
            print(f"  {spec}: " + "; ".join(f"{n} {s:.1f} s" for n, s in times.items()))
    print(json.dumps({"repeat": args.repeat, **rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
