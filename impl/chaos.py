"""Chaos for a local cluster: kills, restarts, pauses and partitions on a schedule from a seed.

:func:`fault_schedule` is pure: the same :class:`ChaosConfig` (seed included) gives the same
list of faults, each at its offset from the start. :func:`run_chaos` starts a
:class:`impl.cluster.LocalCluster` on 127.0.0.1 and carries the schedule out:

* ``kill``: SIGKILL the node, restart it after ``duration`` seconds;
* ``pause``: SIGSTOP the node, SIGCONT it after ``duration`` seconds;
* ``partition``: the nodes of ``group`` drop all traffic to and from the others (through
  ``POST /admin/partition``) for ``duration`` seconds, then the cluster heals.

Faults on one node never overlap (the schedule moves a fault to a free node, or drops it when
none is free). What is reproducible is the schedule, not the run: when each datagram arrives
and each timer fires is up to the OS, so two runs with one seed differ in their elections.
Every node process is reaped on every way out, Ctrl-C included. A node restarted while a
partition holds gets its side of the partition again once it answers.
"""

from __future__ import annotations

import heapq
import os
import random
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from impl.cluster import HOST, LocalCluster, http_json
from impl.errors import ConfigError
from impl.eventlog import leaders_by_term, read_event_log

KINDS = ("kill", "pause", "partition")
_TICK = 0.01
UNDELIVERED_AFTER = 5.0  # seconds: far above a node's start-up, even on a busy machine


@dataclass(frozen=True)
class ChaosConfig:
    """A chaos run: the cluster, how long, the seed, and the fault rates (per second)."""

    nodes: int = 5
    duration: float = 60.0
    seed: int = 0
    kill_rate: float = 2.5
    pause_rate: float = 0.6
    partition_rate: float = 0.8
    down_time: tuple[float, float] = (0.05, 0.5)
    pause_time: tuple[float, float] = (0.1, 1.0)
    partition_time: tuple[float, float] = (0.3, 1.2)
    election_timeout_ms: tuple[int, int] = (150, 300)
    heartbeat_ms: int = 50

    def __post_init__(self) -> None:
        if type(self.nodes) is not int or not 1 <= self.nodes <= 16:
            raise ConfigError(f"--nodes must be an int in 1..16, got {self.nodes!r}")
        if not 0 < self.duration <= 24 * 3600:
            raise ConfigError(f"--duration must be in (0, 86400] seconds, got {self.duration}")
        for name in ("kill_rate", "pause_rate", "partition_rate"):
            rate = getattr(self, name)
            if not 0 <= rate <= 100:
                raise ConfigError(f"--{name.replace('_', '-')} must be in [0, 100] per "
                                  f"second, got {rate}")
        for name in ("down_time", "pause_time", "partition_time"):
            low, high = getattr(self, name)
            if not 0 <= low <= high:
                raise ConfigError(f"{name} range {low}..{high} s must be 0 <= low <= high")


@dataclass(frozen=True)
class Fault:
    """One fault: when (seconds from the start), what, on which node, for how long."""

    at: float
    kind: str
    node: int
    duration: float
    group: tuple[int, ...] = ()  # a partition: the side cut off from the rest


def fault_schedule(config: ChaosConfig) -> list[Fault]:
    """Every fault of the run, in time order; a pure function of ``config``.

    >>> a = fault_schedule(ChaosConfig(duration=10, seed=7))
    >>> a == fault_schedule(ChaosConfig(duration=10, seed=7)), len(a) > 0
    (True, True)
    """
    rng = random.Random(config.seed)
    ids = list(range(1, config.nodes + 1))
    rates = {"kill": config.kill_rate, "pause": config.pause_rate,
             "partition": config.partition_rate}
    spans = {"kill": config.down_time, "pause": config.pause_time,
             "partition": config.partition_time}
    arrivals: list[tuple[float, str]] = []
    for kind in KINDS:
        t = 0.0
        while rates[kind] > 0:
            t += rng.expovariate(rates[kind])
            if t >= config.duration:
                break
            arrivals.append((t, kind))
    arrivals.sort()
    busy = dict.fromkeys(ids, 0.0)  # node -> when its last kill or pause ends
    partition_until = 0.0
    faults = []
    for at, kind in arrivals:
        duration = rng.uniform(*spans[kind])
        if kind == "partition":
            if at < partition_until or config.nodes < 2:
                continue
            size = rng.randint(1, config.nodes // 2)
            group = tuple(sorted(rng.sample(ids, size)))
            partition_until = at + duration
            faults.append(Fault(at, kind, group[0], duration, group))
            continue
        choice = rng.choice(ids)
        free = [n for n in ids if busy[n] <= at]
        if not free:
            continue
        node = choice if choice in free else free[rng.randrange(len(free))]
        busy[node] = at + duration
        faults.append(Fault(at, kind, node, duration))
    return faults


@dataclass
class ChaosRun:
    """What a run did: the faults carried out and the cluster's directory."""

    directory: Path
    nodes: int
    faults: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0
    # What was done when, on the wall clock of the event logs: (time, kind, nodes), kind one
    # of kill, restart, pause, resume, partition (nodes: the side cut off), heal.
    timeline: list[tuple[float, str, tuple[int, ...]]] = field(default_factory=list)
    config: ChaosConfig | None = None
    # nodes that were up and running but could not be given their side of a partition for
    # UNDELIVERED_AFTER seconds: the run did not inject what it claims
    undelivered: set[int] = field(default_factory=set)

    def note(self, kind: str, *nodes: int) -> None:
        """Record that ``kind`` was done to ``nodes`` just now."""
        self.timeline.append((time.time(), kind, nodes))

    def event_logs(self) -> dict[int, Path]:
        return {n: self.directory / f"node-{n}" / "events.jsonl"
                for n in range(1, self.nodes + 1)}

    def leaders(self) -> dict[int, set[int]]:
        """term -> the nodes whose logs show them leading it."""
        logs = {n: read_event_log(p) for n, p in self.event_logs().items() if p.exists()}
        return leaders_by_term(logs)

    def figures(self) -> dict[str, object]:
        """The run's figures for a JSON summary."""
        return {"faults": dict(self.faults), "terms_with_leader": len(self.leaders()),
                "chaos_seconds": round(self.seconds, 1)}

    def summary(self) -> str:
        """Faults injected, elections, leaders per term: a few lines."""
        leaders = self.leaders()
        terms = sorted(leaders)
        shown = ", ".join(f"t{t}:{'/'.join(map(str, sorted(leaders[t])))}" for t in terms[-12:])
        more = f" (last 12 of {len(terms)})" if len(terms) > 12 else ""
        return (f"chaos: {self.nodes} nodes, {self.seconds:.1f} s: "
                f"{self.faults['kill']} kills, {self.faults['restart']} restarts, "
                f"{self.faults['pause']} pauses, {self.faults['partition']} partitions\n"
                f"elections: {len(terms)} terms had a leader; leaders per term{more}: "
                f"{shown or 'none'}")


class _Driver:
    """Carries out a schedule on a running cluster; knows which node is down or paused."""

    def __init__(self, cluster: LocalCluster, run: ChaosRun) -> None:
        self.cluster = cluster
        self.run = run
        self.paused: set[int] = set()
        self.down: set[int] = set()
        self.blocked: dict[int, set[int]] = {n: set() for n in cluster.ids}
        self.stale: set[int] = set()  # nodes whose partition setting must be (re)sent
        self.stale_since: dict[int, float] = {}  # when each stale node's setting changed

    def fault(self, fault: Fault) -> list[tuple[float, str, int]]:
        """Start ``fault``; returns what must happen when it ends: (delay, action, node)."""
        node, kind = fault.node, fault.kind
        if kind == "kill":
            self.cluster.kill(node)
            self.run.note("kill", node)
            self.down.add(node)
            self.paused.discard(node)
            self.run.faults["kill"] += 1
            return [(fault.duration, "restart", node)]
        if kind == "pause":
            proc = self.cluster.procs[node]
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGSTOP)
                self.run.note("pause", node)
                self.paused.add(node)
                self.run.faults["pause"] += 1
            return [(fault.duration, "resume", node)]
        group = set(fault.group)
        for n in self.cluster.ids:
            self.blocked[n] = set(self.cluster.ids) - group if n in group else group
        self.stale |= set(self.cluster.ids)
        self.run.note("partition", *fault.group)
        self.run.faults["partition"] += 1
        return [(fault.duration, "heal", node)]

    def end(self, action: str, node: int) -> None:
        if action == "restart":
            self.cluster.spawn(node)
            self.stale_since.pop(node, None)  # it needs its start-up time again
            self.run.note("restart", node)
            self.down.discard(node)
            self.run.faults["restart"] += 1
            if self.blocked[node]:
                self.stale.add(node)
        elif action == "resume":
            if node in self.paused:
                os.kill(self.cluster.procs[node].pid, signal.SIGCONT)
                self.run.note("resume", node)
                self.paused.discard(node)
        else:
            self.run.note("heal")
            self.blocked = {n: set() for n in self.cluster.ids}
            self.stale |= set(self.cluster.ids)

    def sync_partitions(self) -> None:
        """Send each reachable node its side of the current partition (a paused or starting
        node is retried later)."""
        now = time.monotonic()
        for node in self.stale:
            self.stale_since.setdefault(node, now)
        for node in sorted(self.stale - self.down - self.paused):
            url = f"http://{HOST}:{self.cluster.status_ports[node]}/admin/partition"
            try:
                http_json(url, {"drop": sorted(self.blocked[node])}, timeout=0.3,
                          key=self.cluster.key_hex())
            except (OSError, ValueError):
                continue
            self.stale.discard(node)
            self.stale_since.pop(node, None)
        for node in self.stale - self.down - self.paused:
            if now - self.stale_since[node] > UNDELIVERED_AFTER:
                self.run.undelivered.add(node)  # up, running, and deaf to the admin endpoint

    def release(self) -> None:
        """Let paused nodes run again, so that they can be stopped."""
        for node in self.paused:
            proc = self.cluster.procs[node]
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGCONT)
        self.paused.clear()


def run_chaos(config: ChaosConfig, directory: str | Path) -> ChaosRun:
    """Run a cluster in ``directory`` for ``config.duration`` seconds under the schedule."""
    schedule = fault_schedule(config)
    cluster = LocalCluster(directory, config.nodes, election_timeout_ms=config.election_timeout_ms,
                           heartbeat_ms=config.heartbeat_ms, fault_injection=True)
    run = ChaosRun(cluster.directory, config.nodes, config=config)
    driver = _Driver(cluster, run)
    # One timeline in schedule time: the faults, and the ends they schedule (a restart, a
    # resume, a heal), each carried out in order once its time has come.
    timeline: list[tuple[float, int, Fault | tuple[str, int]]] = [
        (fault.at, order, fault) for order, fault in enumerate(schedule)]
    heapq.heapify(timeline)
    order = len(timeline)
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _interrupt) if main else None
    try:
        cluster.start()
        run.note("start", *cluster.ids)
        start = time.monotonic()
        while timeline:
            now = time.monotonic() - start
            while timeline and timeline[0][0] <= now:
                at, _, item = heapq.heappop(timeline)
                if isinstance(item, Fault):
                    for delay, action, node in driver.fault(item):
                        order += 1
                        heapq.heappush(timeline, (at + delay, order, (action, node)))
                else:
                    driver.end(*item)
            driver.sync_partitions()
            time.sleep(_TICK)
        while time.monotonic() - start < config.duration:
            driver.sync_partitions()
            time.sleep(_TICK)
        run.seconds = time.monotonic() - start
        run.note("end")
    finally:
        driver.release()
        cluster.stop()
        if main:
            signal.signal(signal.SIGTERM, previous)
    return run


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
