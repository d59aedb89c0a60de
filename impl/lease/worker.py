"""One chaos client process: an elector that writes its token to the fenced resource while it
believes it leads, and logs its beliefs (one JSON object a line) for the audit.

    python -m impl.lease.worker --etcd URL --prefix P --name c1 --ttl 1 --db R.db --log c1.jsonl

Its loop checks leadership, then spends a moment preparing the write, then writes: a pause
that lands in between is the classic race (the write goes out after the lease is gone), which
only the fenced resource catches. SIGTERM stops it cleanly; SIGSTOP/SIGKILL are the chaos.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time

from impl.lease.elector import LeaderElector
from impl.lease.etcd_client import EtcdClient, EtcdError
from impl.lease.resource import FencedResource


def main(argv: list[str] | None = None) -> int:
    """Run one client until SIGTERM."""
    parser = argparse.ArgumentParser(prog="python -m impl.lease.worker")
    parser.add_argument("--etcd", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--name", required=True)
    parser.add_argument("--ttl", type=int, default=1)
    parser.add_argument("--db", required=True)
    parser.add_argument("--log", required=True)
    parser.add_argument("--unfenced", action="store_true")
    args = parser.parse_args(argv)
    lock = threading.Lock()
    log = open(args.log, "a", buffering=1)  # noqa: SIM115 - open for the process's life

    def record(event: str, **fields) -> None:
        line = {"t": time.time(), "name": args.name, "pid": os.getpid(), "event": event, **fields}
        with lock:
            log.write(json.dumps(line) + "\n")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    elector = LeaderElector(
        EtcdClient(args.etcd),
        args.prefix,
        args.name,
        ttl=args.ttl,
        on_elected=lambda token: record("elected", token=token),
        on_stopped_leading=lambda reason: record("stopped", reason=reason),
    )
    resource = FencedResource(args.db, fenced=not args.unfenced)
    try:
        elector.start()
    except EtcdError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    record("start")
    while not stop.is_set():
        token = elector.token
        if elector.is_leader and token:
            time.sleep(0.02)  # preparing the write
            accepted = resource.write(token, args.name, f"{args.name}@{token}")
            if not accepted:
                record("refused", token=token)
        else:
            time.sleep(0.01)
    elector.close()
    record("exit")
    return 0


if __name__ == "__main__":
    sys.exit(main())
