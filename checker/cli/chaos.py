"""`electkit chaos`: a real cluster under kills, restarts, pauses and partitions, validated.

Runs ``--nodes`` node processes on 127.0.0.1 for ``--duration`` seconds with faults drawn from
``--seed`` (the schedule is reproducible; the OS's timing is not, so two runs with one seed
elect differently), then validates their event logs against the model (`electkit validate`).
Exit 0: the run validates; 1: it does not; 2: bad options; 130: interrupted (every node is
reaped first).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from checker.cli.validate import (
    DEFAULT_TRACE_STEPS,
    find_bundle,
    report,
    summary_json,
    write_prefix,
)
from checker.conformance.validate import validate_dir
from checker.errors import EXIT_FAIL, EXIT_OK, ElectkitError


def configure(parser: argparse.ArgumentParser) -> None:
    """Options of `electkit chaos`."""
    parser.epilog = (
        "The fault schedule is reproducible from --seed; the OS's timing is not, so "
        "two runs elect differently. exit 0: the run validates; 1: it does not; 2: "
        "bad options; 130: interrupted (every node reaped). See docs/validation.md"
    )
    parser.add_argument("--nodes", type=int, default=5, help="node processes (default 5)")
    parser.add_argument(
        "--duration", type=float, default=60.0, help="seconds of faults (default 60)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault schedule")
    parser.add_argument(
        "--dir",
        default=None,
        help="folder for the cluster and its logs (default: a new temp folder)",
    )
    parser.add_argument(
        "--kill-rate",
        type=float,
        default=2.5,
        help="SIGKILLs per second, each followed by a restart (default 2.5)",
    )
    parser.add_argument(
        "--pause-rate",
        type=float,
        default=0.6,
        help="SIGSTOP/SIGCONT pauses per second (default 0.6)",
    )
    parser.add_argument(
        "--partition-rate", type=float, default=0.8, help="partitions per second (default 0.8)"
    )
    parser.add_argument(
        "--protocol",
        default=None,
        help="protocol bundle (default: the only one with a chaos driver)",
    )
    parser.add_argument("--json", action="store_true", help="end with one JSON line")


def run(args: argparse.Namespace) -> int:
    """Run the cluster under faults, then validate its logs."""
    bundle = find_bundle(args.protocol)
    directory = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="electkit-chaos-"))
    if directory.exists() and any(directory.iterdir()):
        raise ElectkitError(f"--dir {directory}: not empty; chaos writes a new cluster there")
    ok, text, figures = chaos_and_validate(
        bundle,
        directory,
        args.nodes,
        args.duration,
        args.seed,
        args.kill_rate,
        args.pause_rate,
        args.partition_rate,
    )
    print(text)
    if args.json:
        print(json.dumps(figures))
    return EXIT_OK if ok else EXIT_FAIL


def chaos_and_validate(
    bundle,
    directory: Path,
    nodes: int,
    duration: float,
    seed: int,
    kill_rate: float = 2.5,
    pause_rate: float = 0.6,
    partition_rate: float = 0.8,
) -> tuple[bool, str, dict]:
    """Run chaos in ``directory``, validate, write the trace; (ok, report, JSON figures)."""
    run_ = bundle.run_chaos(
        directory,
        nodes=nodes,
        duration=duration,
        seed=seed,
        kill_rate=kill_rate,
        pause_rate=pause_rate,
        partition_rate=partition_rate,
    )
    start = time.perf_counter()
    result = validate_dir(directory, bundle.log_mapping())
    seconds = time.perf_counter() - start
    trace = write_prefix(
        result, directory / "validated.itf.json", DEFAULT_TRACE_STEPS, str(directory)
    )
    text = (
        f"{run_.summary()}\nlogs: {directory}\n{report(result, seconds)}\n"
        f"validated prefix (first {DEFAULT_TRACE_STEPS} actions at most): {trace}"
    )
    figures = {**summary_json(result, seconds, trace), **run_.figures()}
    ok = result.ok
    judge = getattr(bundle, "judge_liveness", None)  # a protocol's timing judge, if it has one
    if judge is not None:
        live, line, live_figures = judge(run_)
        text += f"\n{line}"
        figures["liveness"] = live_figures
        ok = ok and live
    return ok, text, figures
