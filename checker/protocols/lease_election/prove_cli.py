"""`electkit prove --spec lease_election`: FencedWrites for every number of clients and every
revision, with z3 (spec/lease_logic.py).

Exit 0: proved (and not vacuously: two accepted writes are possible in the logic); 1: a
counterexample to induction (with ``--unfenced``, the resource that checks no token: the
proof must fail).
"""

from __future__ import annotations

import argparse
import json

from checker.errors import EXIT_FAIL, EXIT_OK
from spec.lease_logic import prove_fenced_writes


def configure(parser) -> None:
    parser.add_argument(
        "--unfenced",
        action="store_true",
        help="lease_election: prove it for a resource that checks no token (it must fail)",
    )


def run(args: argparse.Namespace) -> int:
    proof = prove_fenced_writes(fenced=not args.unfenced)
    for name, answer in proof.checks:
        print(f"{'ok' if answer == 'unsat' else answer:8} {name}")
    if proof.counterexample is not None:
        cti = proof.counterexample
        print(
            f"CTI after {cti['check']}: a write with token {cti['token']} is accepted after "
            f"the resource saw {cti['high']} ({cti['writes_before']} writes before)"
        )
    proved = proof.verdict == "proved" and proof.nonvacuous
    print(
        f"{'PROVED' if proved else 'NOT PROVED'}: FencedWrites for every number of clients "
        f"and every revision ({len(proof.checks)} checks, {proof.seconds:.2f}s"
        f"{'' if proof.nonvacuous else ', VACUOUS: no two writes possible'})"
    )
    if args.json:
        print(json.dumps(proof.to_json()))
    return EXIT_OK if proved else EXIT_FAIL


def gate() -> tuple[bool, str, dict]:
    """The gate's proof stage: (passed, summary, details)."""
    proof = prove_fenced_writes(fenced=True)
    passed = proof.verdict == "proved" and proof.nonvacuous
    summary = (
        f"proved FencedWrites: {len(proof.checks)} checks, non-vacuous"
        if passed
        else f"{proof.verdict}: {proof.counterexample}"
    )
    return passed, summary, {"checks": len(proof.checks)}
