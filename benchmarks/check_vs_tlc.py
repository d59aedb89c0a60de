"""electkit check against TLC on the same model, in one run, on this machine.

Runs, one after the other (never side by side, so neither steals the other's core):
TLC ``-workers 1`` without and with symmetry, then ``electkit check`` in one process without
and with symmetry, all on the same bound and checking the same invariants (ElectionSafety and
the eight lemmas). Each is a whole process, timed by wall clock from start to exit (JVM and
Python start-up included); peak RSS comes from ``os.wait4`` on that one process. Prints a
table, the ratios, and one JSON line.

    .venv/bin/python benchmarks/check_vs_tlc.py                 # N=3, T=2, restart on
    .venv/bin/python benchmarks/check_vs_tlc.py --servers 2 --max-term 2 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from tlc import run_tlc  # noqa: E402

ELECTKIT = str(Path(sys.executable).with_name("electkit"))


def run_electkit(servers: int, max_term: int, symmetry: bool) -> dict:
    """One `electkit check --json` process: its JSON line, wall seconds and peak RSS."""
    args = [
        ELECTKIT,
        "check",
        "--servers",
        str(servers),
        "--max-term",
        str(max_term),
        "--json",
        "--quiet",
    ]
    if not symmetry:
        args.append("--no-symmetry")
    start = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"electkit check failed: {out[-400:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["wall_seconds"] = wall
    result["peak_rss_mb"] = usage.ru_maxrss / 1024
    return result


def best_of(repeat: int, run) -> dict:
    runs = [run() for _ in range(repeat)]
    return min(runs, key=lambda r: r["wall_seconds"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=3)
    parser.add_argument("--max-term", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=1, help="best of this many runs each")
    args = parser.parse_args()
    n, t = args.servers, args.max_term

    def tlc(symmetry: bool) -> dict:
        r = run_tlc(n, t, restart=True, symmetry=symmetry, workers=1)
        r["wall_seconds"] = r["seconds"]
        return r

    rows = {
        "TLC -workers 1, no symmetry": best_of(args.repeat, lambda: tlc(False)),
        "TLC -workers 1, symmetry": best_of(args.repeat, lambda: tlc(True)),
        "electkit check, no symmetry": best_of(args.repeat, lambda: run_electkit(n, t, False)),
        "electkit check, symmetry": best_of(args.repeat, lambda: run_electkit(n, t, True)),
    }
    print(f"N={n}, T={t}, restart on, every invariant checked, best of {args.repeat}")
    print(f"{'run':32} {'distinct':>10} {'generated':>12} {'depth':>5} {'wall s':>8} {'RSS MB':>8}")
    for name, r in rows.items():
        print(
            f"{name:32} {r['distinct_states']:>10,} {r['generated_states']:>12,} "
            f"{r['depth']:>5} {r['wall_seconds']:>8.2f} {r['peak_rss_mb']:>8.0f}"
        )
    tlc_plain = rows["TLC -workers 1, no symmetry"]["wall_seconds"]
    ratios = {
        "no_symmetry_speedup": tlc_plain / rows["electkit check, no symmetry"]["wall_seconds"],
        "symmetry_speedup": tlc_plain / rows["electkit check, symmetry"]["wall_seconds"],
        "symmetry_vs_tlc_symmetry": rows["TLC -workers 1, symmetry"]["wall_seconds"]
        / rows["electkit check, symmetry"]["wall_seconds"],
    }
    same = (
        rows["TLC -workers 1, no symmetry"]["distinct_states"]
        == rows["electkit check, no symmetry"]["distinct_states"]
    )
    print(f"same distinct-state count as TLC without symmetry: {same}")
    print(
        f"electkit (no symmetry) vs TLC -workers 1 (no symmetry): "
        f"{ratios['no_symmetry_speedup']:.1f}x faster"
    )
    print(
        f"electkit (symmetry)    vs TLC -workers 1 (no symmetry): "
        f"{ratios['symmetry_speedup']:.1f}x faster"
    )
    print(
        f"electkit (symmetry)    vs TLC -workers 1 (symmetry):    "
        f"{ratios['symmetry_vs_tlc_symmetry']:.1f}x faster"
    )
    print(
        json.dumps(
            {
                "servers": n,
                "max_term": t,
                "same_count": same,
                **ratios,
                "runs": {
                    k: {
                        key: v[key]
                        for key in (
                            "distinct_states",
                            "generated_states",
                            "depth",
                            "wall_seconds",
                            "peak_rss_mb",
                        )
                    }
                    for k, v in rows.items()
                },
            }
        )
    )
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
