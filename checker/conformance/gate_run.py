"""Run some of `electkit verify`'s stages in order, stopping at the first that fails; print
one JSON line ``{"stage": name or null, "summary": ...}``.

A stage written ``chaos:3`` is the chaos stage run for 3 seconds instead of the gate's 10: a
quick pre-filter before the full stage (a short run is a weaker test, never a stronger one).

`electkit mutate` starts this in a subprocess against a changed copy of the implementation
(checker/conformance/mutate_gate.py); random schedules report their first divergence
unshrunk, which is all a mutant's verdict needs.
"""

from __future__ import annotations

import argparse
import json
import sys

from checker.cli import verify
from checker.cli.verify import corpus_dir, run_stage, stages_of
from checker.errors import EXIT_OK, ElectkitError
from checker.protocols.registry import resolve


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, run the stages, print the verdict line."""
    parser = argparse.ArgumentParser(prog="python -m checker.conformance.gate_run")
    parser.add_argument("--spec", required=True)
    parser.add_argument("--stage", required=True, help="comma-separated stage names, in order")
    parser.add_argument("--traces", default=None)
    parser.add_argument("--chaos-seconds", type=float, default=None)
    args = parser.parse_args(argv)
    if args.chaos_seconds is not None:
        verify.CHAOS_SECONDS = args.chaos_seconds  # a shorter run: a weaker gate, never stronger
    try:
        bundle = resolve(args.spec)
        stages = stages_of(bundle, corpus_dir(bundle, args.traces), shrink=False)
        names = args.stage.split(",")
        unknown = [n for n in names if n.split(":")[0] not in stages]
        if unknown:
            raise ElectkitError(f"--stage {unknown[0]}: no such stage; valid: {', '.join(stages)}")
    except ElectkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    full = verify.CHAOS_SECONDS
    for name in names:
        base, _, seconds = name.partition(":")
        verify.CHAOS_SECONDS = float(seconds) if seconds else full
        stage = run_stage(base, stages[base])
        if not stage.passed:
            print(json.dumps({"stage": name, "summary": stage.summary}))
            return EXIT_OK
    print(json.dumps({"stage": None, "summary": ""}))
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
