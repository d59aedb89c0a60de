"""`electkit traces`: make trace files from the model.

``sample``: random walks, one file each, reproducible from the seed.
``corpus``: rebuild the regression corpus (faulty-variant counterexamples and covering walks).
"""

from __future__ import annotations

import argparse
import json
import random
from pathlib import Path

from checker.cmd_check import model_from_args
from checker.corpus import build_corpus, features, random_walk
from checker.errors import EXIT_OK, ElectkitError
from checker.specs import user_model_errors
from checker.traces import write_trace


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="traces_command", required=True, parser_class=type(parser))
    sample = sub.add_parser("sample", help="random walks of the model, one trace file each")
    sample.add_argument("--count", type=int, required=True, metavar="K")
    sample.add_argument("--steps", type=int, required=True, metavar="S")
    sample.add_argument("--seed", type=int, required=True, metavar="X")
    sample.add_argument("--out", required=True, metavar="DIR")
    sample.add_argument("--spec", default="raft_election")
    sample.add_argument("--servers", type=int, default=3, metavar="N")
    sample.add_argument("--max-term", type=int, default=2, metavar="T")
    sample.add_argument("--no-restart", action="store_true")
    sample.add_argument("--variant")
    sample.add_argument("--json", action="store_true")
    corpus = sub.add_parser("corpus", help="rebuild the regression corpus under a folder")
    corpus.add_argument("--out", default="traces", metavar="DIR")


def run(args: argparse.Namespace) -> int:
    if args.traces_command == "corpus":
        written = build_corpus(Path(args.out))
        print(f"wrote {len(written)} traces under {args.out}")
        return EXIT_OK
    if args.count < 1:
        raise ElectkitError(f"--count must be at least 1, got {args.count}")
    if args.steps < 0:
        raise ElectkitError(f"--steps must be at least 0, got {args.steps}")
    model = model_from_args(args)
    rng = random.Random(args.seed)
    out = Path(args.out)
    written = []
    for index in range(1, args.count + 1):
        with user_model_errors(args.spec):
            walk = random_walk(model, args.steps, rng)
        walk.meta = {
            "verdict": "sample",
            "expect": "conforms" if not model.parameters.get("variant") else "diverges",
            "description": f"random walk {index} of {args.count}, seed {args.seed}",
        }
        path = out / f"sample-s{args.seed}-{index:04d}.itf.json"
        try:
            written.append(str(write_trace(walk, path)))
        except OSError as exc:
            raise ElectkitError(f"--out: cannot write {path}: {exc.strerror}") from None
        if not args.json:
            print(f"{path}  {len(walk.steps)} steps, {len(features(walk))} features")
    if args.json:
        print(json.dumps({"traces": written, "count": len(written)}))
    return EXIT_OK
