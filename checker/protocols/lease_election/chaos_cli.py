"""`electkit lease-chaos`: client processes on a real etcd, paused past their TTL, killed and
restarted; then the fenced resource's log and the clients' beliefs audited.

Exit 0: no stale write was accepted; 1: the resource accepted a stale write (the finding,
expected with ``--unfenced``); 2: bad options or no etcd. Overlaps of two believers are
reported with their times: with pauses past the TTL they are expected, and fencing is what
keeps them harmless.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import asdict
from datetime import datetime
from pathlib import Path

from checker.errors import EXIT_FAIL, EXIT_OK, ElectkitError
from impl.lease.chaos import run_chaos
from impl.lease.etcd_client import EtcdClient, EtcdError
from impl.lease.etcd_server import EtcdServer, EtcdUnavailable


def _positive(kind):
    def parse(text: str):
        value = kind(text)
        if value <= 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    return parse


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of `electkit lease-chaos`."""
    parser.add_argument("--clients", type=_positive(int), default=3, help="client processes")
    parser.add_argument("--duration", type=_positive(float), default=60.0, help="seconds")
    parser.add_argument("--ttl", type=_positive(int), default=1, help="lease TTL, seconds")
    parser.add_argument("--seed", type=int, default=1, help="seed of the fault schedule")
    parser.add_argument("--dir", type=Path, help="keep logs and the resource here")
    parser.add_argument("--etcd", help="an etcd client URL (default: start the project's)")
    parser.add_argument("--unfenced", action="store_true", help="the resource checks no token")
    parser.add_argument("--json", action="store_true", help="the report as one JSON line")


def run(args: argparse.Namespace) -> int:
    """Run the chaos and print the audit."""
    if args.clients > 16:
        raise ElectkitError(f"--clients {args.clients}: at most 16 client processes")
    if args.dir is not None and args.dir.exists():
        if not args.dir.is_dir() or any(args.dir.iterdir()):
            raise ElectkitError(f"--dir {args.dir}: not an empty folder (nothing was changed)")
    server = None
    try:
        if args.etcd:
            url = args.etcd
            try:
                EtcdClient(url, timeout=2).call("maintenance/status", {})
            except EtcdError as exc:
                raise ElectkitError(f"--etcd {url}: {exc}") from None
        else:
            try:
                server = EtcdServer().start()
            except EtcdUnavailable as exc:
                raise ElectkitError(str(exc)) from None
            url = server.url
        folder = args.dir or Path(tempfile.mkdtemp(prefix="electkit-lease-chaos-"))
        if not args.json:
            print(
                f"lease-chaos: {args.clients} clients, TTL {args.ttl} s, {args.duration:g} s, "
                f"etcd {url}, logs in {folder}",
                flush=True,
            )
        started = time.perf_counter()
        report = run_chaos(
            url,
            folder,
            args.clients,
            args.duration,
            args.ttl,
            args.seed,
            fenced=not args.unfenced,
        )
    finally:
        if server is not None:
            server.stop()
    if args.json:
        doc = asdict(report)
        doc.update(dir=str(folder), seconds=round(time.perf_counter() - started, 1))
        print(json.dumps(doc))
    else:
        _print(report, args)
    return EXIT_FAIL if report.stale_accepted else EXIT_OK


def _clock(t: float) -> str:
    return datetime.fromtimestamp(t).strftime("%H:%M:%S.%f")[:-3]


def _print(report, args) -> None:
    print(
        f"pauses: {report.pauses} ({report.pauses_past_ttl} past the TTL of {args.ttl} s); "
        f"kills: {report.kills}; restarts: {report.restarts}; elections: {report.elections}"
    )
    print(f"overlaps of two believers: {len(report.overlaps)}")
    for o in report.overlaps:
        print(
            f"  {o.first} (token {o.first_token}) and {o.second} (token {o.second_token}) "
            f"both believed they led from {_clock(o.start)} to {_clock(o.end)} "
            f"({(o.end - o.start) * 1000:.0f} ms)"
        )
    mode = "unfenced" if args.unfenced else "fenced"
    print(
        f"{mode} resource: {report.writes_accepted} writes accepted, "
        f"{report.writes_refused} refused as stale, "
        f"{len(report.stale_accepted)} stale writes accepted"
    )
    for token, high, writer, at in report.stale_accepted:
        print(f"  STALE: {writer} wrote token {token} at {_clock(at)} after token {high}")
