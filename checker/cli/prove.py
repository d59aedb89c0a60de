"""`electkit prove`: a protocol's safety for every size, with z3.

Exit 0: proved; 1: a counterexample to induction (CTI) or a failed side check; 2: bad usage.
The options after ``--spec`` are the protocol's own (``electkit prove --help`` lists them).
"""

from __future__ import annotations

import argparse

from checker.protocols.registry import DEFAULT, KIT_BUNDLES, bundle_named


def proofs() -> dict[str, object]:
    """The kit's protocols that have a proof: name -> the proof's CLI module."""
    found = {}
    for name in KIT_BUNDLES:
        proof = bundle_named(name).proof
        if proof is not None:
            found[name] = proof
    return found


def configure(parser: argparse.ArgumentParser) -> None:
    available = proofs()
    parser.add_argument(
        "--spec",
        default=DEFAULT,
        choices=list(available),
        help="the protocol whose proof runs (default: %(default)s)",
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON line on stdout")
    for name, proof in available.items():
        proof.configure(parser.add_argument_group(f"{name} proof options"))


def run(args: argparse.Namespace) -> int:
    return bundle_named(args.spec).proof.run(args)
