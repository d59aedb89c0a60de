"""Validation speed: events per second of `electkit validate` on one core.

The logs are written the way a real run writes them (impl/eventlog.py's EventJournal over
real NodeHosts, real vote files with fsync on tmpfs), by an in-process cluster whose
scheduler times nodes out, restarts them, and delivers, loses and duplicates messages at
random; only the clock is not real. Then the whole of validation (reading, merging,
checking every event against the model) runs in this one process, timed.

    .venv/bin/python benchmarks/validate_speed.py [--events 300000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from checker.conformance.eventlogs import log_files, read_logs  # noqa: E402
from checker.conformance.validate import validate_logs  # noqa: E402
from checker.protocols.raft_election.validate import RaftLogMapping  # noqa: E402
from impl.eventlog import EventJournal, EventLogWriter  # noqa: E402
from impl.host import NodeHost  # noqa: E402
from impl.messages import Message  # noqa: E402
from impl.node import Role  # noqa: E402
from impl.storage import VoteStore  # noqa: E402


class _SimNode:
    """One node of the in-process cluster: a NodeHost whose hooks write the event log."""

    def __init__(self, node_id: int, ids: list[int], root: Path) -> None:
        self.writer = EventLogWriter(root / f"node-{node_id}" / "events.jsonl", node_id)
        self.writer.open()
        self.journal = EventJournal(self.writer)
        self.host = NodeHost(node_id, ids, VoteStore(root / f"node-{node_id}"),
                             on_handled=self._handled, on_persisted=self._persisted)
        self.journal.start(self.host.node)

    def _handled(self, event, msg, out) -> None:
        self.journal.handled(event, msg, out, self.host.node)

    def _persisted(self, durable) -> None:
        self.journal.persisted(durable, self.host.node)

    def restart(self) -> None:
        self.journal = EventJournal(self.writer)  # a new process forgets what it logged
        self.host.restart()
        self.journal.start(self.host.node)

    def sends(self, out) -> list[Message]:
        for m in out.send:
            self.journal.send(m, self.host.node)
        return list(out.send)


def write_logs(root: Path, events: int, nodes: int = 5, seed: int = 1) -> int:
    """Write at least ``events`` log lines of a simulated run under ``root``; the count."""
    rng = random.Random(seed)
    ids = list(range(1, nodes + 1))
    cluster = {n: _SimNode(n, ids, root) for n in ids}
    flight: list[Message] = []
    while sum(sim.writer.seq for sim in cluster.values()) < events:
        roll = rng.random()
        sim = cluster[rng.choice(ids)]
        if roll < 0.03:
            flight += sim.sends(sim.host.election_timeout())
        elif roll < 0.04:
            sim.restart()
        elif roll < 0.10:
            if sim.host.node.snapshot().role is Role.LEADER:
                flight += sim.sends(sim.host.heartbeat_timer())
        elif flight:
            window = flight[-60:]
            m = window[rng.randrange(len(window))]
            if rng.random() < 0.7:
                flight.remove(m)  # else it stays in flight: delivered again later
            flight += cluster[m.dst].sends(cluster[m.dst].host.deliver(m))
            if len(flight) > 400:
                del flight[:200]  # lost
    for sim in cluster.values():
        sim.writer.close()
    return sum(sim.writer.seq for sim in cluster.values())


def measure(root: Path) -> dict:
    """One validation of the logs under ``root``: wall and CPU seconds."""
    start, cpu_start = time.perf_counter(), time.process_time()
    logs = read_logs(log_files(root))
    read = time.perf_counter() - start
    result = validate_logs(logs, RaftLogMapping())
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    assert result.ok, result.misfit.describe() if result.misfit else result.incomplete
    return {"events": result.total, "seconds": wall, "read_seconds": read, "cpu_seconds": cpu,
            "max_term": result.model.parameters["max_term"]}


def parse_only(root: Path) -> float:
    """Seconds the standard library's json.loads takes for every line (the yardstick)."""
    start = time.perf_counter()
    for path in log_files(root):
        with open(path, "rb") as lines:
            for line in lines:
                json.loads(line)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as tmp:
        root = Path(tmp)
        write_logs(root, args.events)
        size = sum(p.stat().st_size for p in root.rglob("*.jsonl"))
        runs = [measure(root) for _ in range(args.repeat)]
        parse = min(parse_only(root) for _ in range(args.repeat))
    events = runs[0]["events"]
    walls = sorted(r["seconds"] for r in runs)
    cpus = sorted(r["cpu_seconds"] for r in runs)
    figures = {"events": events, "bytes": size, "max_term": runs[0]["max_term"],
               "repeat": args.repeat, "median_seconds": round(walls[len(walls) // 2], 3),
               "best_seconds": round(walls[0], 3),
               "median_events_per_second": round(events / walls[len(walls) // 2]),
               "best_events_per_second": round(events / walls[0]),
               "best_events_per_cpu_second": round(events / cpus[0]),
               "stdlib_json_parse_lines_per_second": round(events / parse),
               "load_average": round(os.getloadavg()[0], 2)}
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"validated {events} events ({size / 2**20:.1f} MiB, terms up to "
              f"{figures['max_term']}), {args.repeat} runs in one process: median "
              f"{figures['median_seconds']} s = {figures['median_events_per_second']:,} events/s, "
              f"best {figures['best_seconds']} s = {figures['best_events_per_second']:,} "
              f"events/s ({figures['best_events_per_cpu_second']:,} per CPU second); for "
              f"scale, json.loads alone parses "
              f"{figures['stdlib_json_parse_lines_per_second']:,} lines/s here; load average "
              f"{figures['load_average']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
