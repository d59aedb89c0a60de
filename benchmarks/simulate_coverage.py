"""How far random walks get (`electkit check --simulate`), and how good the coverage estimate is.

For bounds small enough to search exhaustively, the walks' distinct states and their Chao2
estimate are set beside the true number of reachable (concrete) states; for each faulty
variant, the walk that first violates a property. Prints markdown tables and one JSON line.

    .venv/bin/python benchmarks/simulate_coverage.py
"""

from __future__ import annotations

import argparse
import json

from checker.protocols.registry import bundle_named
from checker.search.explore import explore
from checker.search.simulate import simulate

BOUNDS = [(2, 2, (100, 1000, 3000)), (3, 1, (100, 1000, 10000)), (3, 2, (1000, 10000, 30000))]
VARIANTS = ["grant_without_check", "stale_votes", "volatile_vote", "no_step_down"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--depth", type=int, default=40, help="steps per walk at most")
    parser.add_argument("--seed", type=int, default=0, help="the walks' seed")
    args = parser.parse_args()
    raft = bundle_named("raft_election")
    rows, out = [], {"coverage": [], "variants": []}
    for servers, max_term, walk_counts in BOUNDS:
        model = raft.build(servers=servers, max_term=max_term)
        reachable = explore(model, symmetry=False).distinct_states
        for walks in walk_counts:
            sim = simulate(model, walks, args.depth, args.seed)
            e = sim.estimate
            row = {
                "servers": servers,
                "max_term": max_term,
                "reachable": reachable,
                "walks": walks,
                "seen": sim.distinct_states,
                "chao2": round(e.states),
                "seen_of_reachable": sim.distinct_states / reachable,
                "estimated_fraction": e.fraction,
                "sample_coverage": e.sample_coverage,
                "seconds": sim.seconds,
                "steps_per_second": sim.steps / sim.seconds,
            }
            out["coverage"].append(row)
            rows.append(
                f"| {servers} | {max_term} | {reachable:,} | {walks:,} | {sim.distinct_states:,} "
                f"| {e.states:,.0f} | {row['seen_of_reachable']:.1%} | {e.fraction:.1%} "
                f"| {e.sample_coverage:.1%} | {sim.seconds:.1f} s | "
                f"{row['steps_per_second']:,.0f} |"
            )
    print(
        "| N | T | reachable | walks | seen | Chao2 | seen / reachable | seen / Chao2 "
        "| sample coverage | time | steps/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print()
    print("| variant | property | first violating walk | its length | shortest (check) | time |")
    print("|---|---|---|---|---|---|")
    for variant in VARIANTS:
        model = raft.build(variant=variant)
        for only in (None, frozenset({"ElectionSafety"})):
            sim = simulate(model, 100_000, args.depth, args.seed, properties=only)
            v = sim.violations[0]
            shortest = explore(model, properties=frozenset({v.property}))
            out["variants"].append(
                {"variant": variant, "walk": v.walk, "property": v.property,
                 "length": len(v.path), "shortest": len(shortest.path), "seconds": sim.seconds}
            )  # fmt: skip
            print(
                f"| {variant} | {v.property}{'' if only else ' (any)'} | {v.walk:,} "
                f"| {len(v.path)} | {len(shortest.path)} | {sim.seconds:.2f} s |"
            )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
