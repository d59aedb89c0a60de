"""The lease election model checked exhaustively in each configuration docs/lease.md reports.

For each configuration: every `always` property's verdict, the shortest counterexample of each
one that fails (with its length), and the states explored when the rest hold. Prints a
Markdown table; `--clients`, `--ttl`, `--max-revision` set the bound.

    .venv/bin/python benchmarks/lease_check.py --clients 3 --ttl 2 --max-revision 4
    .venv/bin/python benchmarks/lease_check.py --clients 4 --only "etcd's election, pauses"
"""

from __future__ import annotations

import argparse
import time

from checker.search.explore import explore
from spec.lease_election import LeaseElection

CONFIGS = [
    ("etcd's election, pauses", {}),
    ("no pauses", {"pauses": False}),
    ("no pauses, late keep-alive replies", {"pauses": False, "late_replies": True}),
    ("unfenced_resource", {"variant": "unfenced_resource"}),
    ("no_step_down, no pauses, fenced", {"variant": "no_step_down", "pauses": False}),
    (
        "no_step_down, no pauses, unfenced",
        {"variant": "no_step_down", "pauses": False, "fencing": False},
    ),
    ("campaign_ignores_expiry", {"variant": "campaign_ignores_expiry"}),
]
ALWAYS = ("StoreExclusion", "BeliefExclusion", "FencedWrites", "CampaignSound")


def check(bound: dict, options: dict) -> tuple[list[str], dict[str, list[str]], int, float]:
    """Verdicts of one configuration: (holding properties, counterexamples, states, seconds)."""
    model = LeaseElection(**bound, **options)
    remaining, failures = set(ALWAYS), {}
    start = time.perf_counter()
    while True:
        result = explore(model, symmetry=True, properties=frozenset(remaining))
        if result.verdict == "ok":
            return sorted(remaining), failures, result.distinct_states, time.perf_counter() - start
        failures[result.property] = [step.label() for step in result.path]
        remaining.discard(result.property)
        if not remaining:
            return [], failures, result.distinct_states, time.perf_counter() - start


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=3)
    parser.add_argument("--ttl", type=int, default=2)
    parser.add_argument("--max-revision", type=int, default=4)
    parser.add_argument("--only", nargs="*", help="configurations by name (default: all)")
    args = parser.parse_args()
    bound = {"clients": args.clients, "ttl": args.ttl, "max_revision": args.max_revision}
    print(f"bound: {bound}")
    print("| configuration | holds | fails (shortest counterexample length) | states | s |")
    print("|---|---|---|---:|---:|")
    for name, options in CONFIGS:
        if args.only and name not in args.only:
            continue
        holds, failures, states, seconds = check(bound, options)
        fails = ", ".join(f"{p} ({len(path)})" for p, path in failures.items()) or "-"
        print(f"| {name} | {', '.join(holds) or '-'} | {fails} | {states} | {seconds:.0f} |")
        for prop, path in failures.items():
            print(f"<!-- {name}: {prop}: {' '.join(path)} -->")


if __name__ == "__main__":
    main()
