"""`electkit traces`: make trace files from the model.

``sample``: random walks, one file each, reproducible from the seed.
``corpus``: rebuild a protocol's regression corpus (faulty-variant counterexamples and
covering walks).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from checker.cli.cover import configure_cover, configure_coverage, run_cover, run_coverage
from checker.cli.options import add_model_options, model_from_args
from checker.errors import EXIT_INTERRUPTED, EXIT_OK, ElectkitError
from checker.protocols.registry import DEFAULT, resolve, user_model_errors
from checker.traces import write_trace
from checker.traces.corpus import features_of, random_walk
from checker.traces.itf import MAX_TRACE_STATES

MAX_COUNT = 10_000  # files written by one sample
MAX_STEPS = MAX_TRACE_STATES - 1  # what a trace file may hold


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="traces_command", required=True, parser_class=type(parser))
    sample = sub.add_parser(
        "sample",
        help="random walks of the model, one trace file each",
        description="random walks of the model, one trace file each, reproducible from --seed",
    )
    sample.add_argument("--count", type=int, required=True, metavar="K", help="how many walks")
    sample.add_argument(
        "--steps", type=int, required=True, metavar="S", help="the most steps per walk"
    )
    sample.add_argument("--seed", type=int, required=True, metavar="X", help="the random seed")
    sample.add_argument("--out", required=True, metavar="DIR", help="the folder to write into")
    add_model_options(sample)
    sample.add_argument("--json", action="store_true", help="end with one JSON line on stdout")
    cover = sub.add_parser(
        "cover",
        help="the fewest traces that take every transition of the state graph",
        description="write the fewest traces that together take every transition of the "
        "model's state graph at the bound",
    )
    configure_cover(cover)
    coverage = sub.add_parser(
        "coverage",
        help="how many transitions of the state graph a folder of traces takes",
        description="how many transitions of the state graph a folder of traces takes",
    )
    configure_coverage(coverage)
    corpus = sub.add_parser(
        "corpus",
        help="rebuild a protocol's regression corpus under a folder",
        description="rebuild a protocol's regression corpus under a folder",
    )
    corpus.add_argument("--spec", default=DEFAULT, metavar="NAME", help="the protocol")
    corpus.add_argument(
        "--out", metavar="DIR", help="the folder (default: the protocol's corpus folder)"
    )


def run(args: argparse.Namespace) -> int:
    if args.traces_command == "cover":
        return run_cover(args)
    if args.traces_command == "coverage":
        return run_coverage(args)
    if args.traces_command == "corpus":
        bundle = resolve(args.spec)
        if bundle.corpus is None:
            raise ElectkitError(f"--spec: {bundle.name} has no corpus builder")
        out = Path(args.out) if args.out else bundle.gate.corpus
        written = bundle.corpus.build(out)
        print(f"wrote {len(written)} traces under {out}")
        return EXIT_OK
    if not 1 <= args.count <= MAX_COUNT:
        raise ElectkitError(f"--count must be from 1 to {MAX_COUNT:,}, got {args.count}")
    if not 0 <= args.steps <= MAX_STEPS:
        raise ElectkitError(
            f"--steps must be from 0 to {MAX_STEPS:,} (a trace holds at most "
            f"{MAX_STEPS:,} steps), got {args.steps}"
        )
    bundle, model = model_from_args(args)
    rng = random.Random(args.seed)
    out = Path(args.out)
    written = []
    try:
        for index in range(1, args.count + 1):
            written.append(sample_one(args, bundle, model, rng, index, out))
    except KeyboardInterrupt:
        print(
            f"interrupted: {len(written)} of {args.count} traces written, each whole",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    if args.json:
        print(json.dumps({"traces": written, "count": len(written)}))
    return EXIT_OK


def sample_one(args, bundle, model, rng: random.Random, index: int, out: Path) -> str:
    """Write walk ``index`` of a sample; returns its path."""
    with user_model_errors(bundle):
        walk = random_walk(model, args.steps, rng)
    walk.meta = {
        "verdict": "sample",
        "expect": "conforms" if not model.parameters.get("variant") else "diverges",
        "description": f"random walk {index} of {args.count}, seed {args.seed}",
    }
    path = out / f"sample-s{args.seed}-{index:04d}.itf.json"
    with user_model_errors(bundle):
        write_trace(walk, path, "--out")
    if not args.json:
        print(f"{path}  {len(walk.steps)} steps, {len(features_of(bundle, walk))} features")
    return str(path)
