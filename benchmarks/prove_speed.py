"""The unbounded proof's cost: `electkit prove` on the correct model, and BMC per variant.

    .venv/bin/python benchmarks/prove_speed.py [--repeat R]

Prints the proof's wall time (median of R runs, in-process), its slowest (lemma, action)
check, and for each faulty variant the BMC depth, cluster size, queries and time.
"""

from __future__ import annotations

import argparse
import statistics
import time

from checker.protocols.raft_election import proof as P
from spec import raft_logic as L


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    times, checks = [], []
    for _ in range(args.repeat):
        started = time.perf_counter()
        checks = P.prove_invariant()
        P.majority_check()
        P.nonvacuity()
        times.append(time.perf_counter() - started)
    assert all(c.verdict == "ok" for c in checks)
    slowest = max(checks, key=lambda c: c.seconds)
    print(f"proof, correct model: {len(checks)} checks, median {statistics.median(times):.2f}s "
          f"over {args.repeat} runs (min {min(times):.2f}s, max {max(times):.2f}s)")
    print(f"slowest check: {slowest.label()} {slowest.seconds:.3f}s")
    print(f"{'variant':22} {'depth':>5} {'N':>3} {'queries':>7} {'seconds':>8}")
    for variant in L.VARIANTS:
        r = P.bmc(variant, 8)
        print(f"{variant:22} {r.depth:>5} {r.servers:>3} {r.queries:>7} {r.seconds:>8.2f}")
    r = P.bmc(None, 7)
    print(f"{'(correct, none found)':22} {r.depth:>5} {'-':>3} {r.queries:>7} {r.seconds:>8.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
