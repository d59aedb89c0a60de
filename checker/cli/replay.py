"""`electkit replay PATH...`: replay traces (files or folders) against the implementation."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from checker.conformance.replay import collect_traces, replay_file
from checker.errors import EXIT_FAIL, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, ElectkitError
from checker.protocols.registry import resolve


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="trace files or folders")
    parser.add_argument("--json", action="store_true", help="end with one JSON line on stdout")
    parser.add_argument(
        "--expect",
        action="store_true",
        help="judge each trace by its #meta 'expect' (a faulty-variant trace passes when it "
        "diverges where expected), as the test suite and the gate do",
    )
    parser.add_argument("--data-dir", help="where the nodes' vote files go (default: tmpfs)")
    parser.add_argument(
        "--spec",
        metavar="FILE.py:NAME",
        help="make a protocol of your own known, so that its traces can be read (a bundle "
        "with an adapter, see docs/tutorial.md)",
    )


def check_data_dir(path: str) -> None:
    """A folder the nodes can keep their vote files in: it exists and a file can be made
    there (tried, then removed); one line says why not."""
    if not Path(path).is_dir():
        raise ElectkitError(f"--data-dir: {path} is not an existing folder")
    try:
        with tempfile.TemporaryDirectory(prefix="electkit-check-", dir=path):
            pass
    except OSError as exc:
        raise ElectkitError(
            f"--data-dir: cannot make files in {path} ({exc.strerror or exc})"
        ) from None


def run(args: argparse.Namespace) -> int:
    if args.spec is not None:
        resolve(args.spec)
    if args.data_dir is not None:
        check_data_dir(args.data_dir)
    files = collect_traces(args.paths)
    if not files:
        raise ElectkitError(f"no trace files (*.json) under {' '.join(args.paths)}")
    start = time.perf_counter()
    results, invalid = [], []
    try:
        for path in files:
            try:
                result = replay_file(path, args.data_dir)
            except ElectkitError as exc:  # not a valid trace: named; the others still run
                invalid.append({"trace": str(path), "error": str(exc)})
                print(f"error: {exc}", file=sys.stderr)
                continue
            results.append(result)
            if not args.json:
                print(result.report())
    except KeyboardInterrupt:
        diverging = sum(r.verdict == "diverges" for r in results)
        print(
            f"interrupted: {len(results)} of {len(files)} traces replayed, {diverging} diverged",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    seconds = time.perf_counter() - start
    if args.expect:
        failed = [r for r in results if not r.as_expected]
    else:
        failed = [r for r in results if r.verdict == "diverges"]
    diverging = sum(r.verdict == "diverges" for r in results)
    steps = sum(r.steps for r in results)
    if not args.json:
        print(
            f"{len(results)} traces: {len(results) - diverging} conform, {diverging} diverge; "
            f"{steps} steps in {seconds:.2f} s ({steps / seconds if seconds else 0:,.0f} "
            f"steps/s)"
        )
    else:
        print(
            json.dumps(
                {
                    "traces": len(results),
                    "conforming": len(results) - diverging,
                    "diverging": diverging,
                    "steps": steps,
                    "seconds": round(seconds, 3),
                    "results": [r.to_json() for r in results],
                    "invalid": invalid,
                }
            )
        )
    if invalid:
        return EXIT_USAGE
    return EXIT_FAIL if failed else EXIT_OK
