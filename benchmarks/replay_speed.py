"""Replay speed: model steps per second through the real node, codec and storage.

Samples random walks of the model (N=3..5, seeded), then replays them against the
implementation: every Receive goes through impl/wire.py (encode, HMAC, decode), every persist
is a real atomic write with fsync of the file and the directory (impl/storage.py), and every
step reads each server's vote file back from disk. The data directory is on tmpfs
(/dev/shm) by default, as the issue allows; fsync stays on. Pass --data-dir to measure on disk.

    .venv/bin/python benchmarks/replay_speed.py [--traces 40] [--steps 60] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from checker.conformance.replay import replay_trace  # noqa: E402
from checker.traces.corpus import random_walk  # noqa: E402
from spec.raft_election import RaftElection  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--traces", type=int, default=40)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    traces = [
        random_walk(RaftElection(rng.choice([3, 4, 5]), 5), args.steps, rng)
        for _ in range(args.traces)
    ]
    steps = 0
    start = time.perf_counter()
    for trace in traces:
        result = replay_trace(trace, data_root=args.data_dir)
        if result.verdict != "conforms":
            print(result.report())
            return 1
        steps += result.steps
    seconds = time.perf_counter() - start
    where = args.data_dir or "/dev/shm (tmpfs)"
    print(f"{steps} steps in {args.traces} traces replayed in {seconds:.2f} s: "
          f"{steps / seconds:,.0f} steps/s (vote files on {where}, fsync on)")
    print(json.dumps({"steps": steps, "traces": args.traces, "seconds": round(seconds, 3),
                      "steps_per_second": round(steps / seconds), "data_dir": where}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
