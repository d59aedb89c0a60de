"""Chaos on a real etcd: C client processes, SIGSTOP pauses past the TTL, SIGKILLs, restarts;
then the audit of the fenced resource's log and of every client's beliefs.

The schedule comes from ``seed``: every ``interval`` seconds one client is paused (the current
leader, more often than not) for 1.5 to 2.5 TTLs, or killed and restarted half a second
later. Every process is reaped on every exit path: at the end, on an error, on Ctrl-C
(each is sent SIGCONT, then SIGTERM, then SIGKILL if it lingers).

The audit: the accepted writes' tokens must never go backwards (zero stale writes accepted),
and every overlap of two clients that both believed they led is reported with its times. A
client's belief runs from its ``elected`` line to its ``stopped`` line, or to its SIGKILL.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from impl.lease.resource import FencedResource, audit


@dataclass
class Overlap:
    """Two clients that both believed they led, from ``start`` to ``end`` (Unix times)."""

    first: str
    first_token: int
    second: str
    second_token: int
    start: float
    end: float


@dataclass
class ChaosReport:
    """What happened and what the audit found."""

    duration: float
    pauses: int = 0
    pauses_past_ttl: int = 0
    kills: int = 0
    restarts: int = 0
    elections: int = 0
    writes_accepted: int = 0
    writes_refused: int = 0
    stale_accepted: list[tuple[int, int, str, float]] = field(default_factory=list)
    overlaps: list[Overlap] = field(default_factory=list)


class ClientProcess:
    """One worker process, restartable."""

    def __init__(self, name: str, argv: list[str], folder: Path) -> None:
        self.name, self.argv, self.folder = name, argv, folder
        self.process: subprocess.Popen | None = None
        self.paused_until = 0.0

    def start(self) -> None:
        err = open(self.folder / f"{self.name}.err", "ab")  # noqa: SIM115
        self.process = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stderr=err)
        err.close()

    def signal(self, sig: int) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(sig)

    def stop(self) -> None:
        """SIGCONT, SIGTERM, wait; SIGKILL if it does not go; reap."""
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signal.SIGCONT)
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
        process.wait()


def run_chaos(
    etcd_url: str,
    folder: Path,
    clients: int = 3,
    duration: float = 60.0,
    ttl: int = 1,
    seed: int = 1,
    interval: float = 0.8,
    kill_share: float = 0.15,
    fenced: bool = True,
) -> ChaosReport:
    """Run the chaos for ``duration`` seconds in ``folder``; returns the audited report."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    db = folder / "resource.db"
    FencedResource(db, fenced=fenced).close()  # the table exists before any client writes
    prefix = f"chaos-{seed}-{int(time.time() * 1000)}"
    procs = []
    for i in range(1, clients + 1):
        name = f"c{i}"
        argv = [sys.executable, "-m", "impl.lease.worker", "--etcd", etcd_url, "--prefix", prefix]
        argv += ["--name", name, "--ttl", str(ttl), "--db", str(db)]
        argv += ["--log", str(folder / f"{name}.jsonl")] + ([] if fenced else ["--unfenced"])
        procs.append(ClientProcess(name, argv, folder))
    events = open(folder / "chaos.jsonl", "w", buffering=1)  # noqa: SIM115
    report = ChaosReport(duration)

    def note(event: str, proc: ClientProcess, **fields) -> None:
        pid = proc.process.pid if proc.process else None
        line = {"t": time.time(), "event": event, "name": proc.name, "pid": pid, **fields}
        events.write(json.dumps(line) + "\n")

    try:
        for proc in procs:
            proc.start()
            note("start", proc)
        start = time.monotonic()
        next_fault = start + 2.0  # let a first leader settle
        restarts: list[tuple[float, ClientProcess]] = []
        while (now := time.monotonic()) < start + duration:
            for proc in procs:
                if proc.paused_until and now >= proc.paused_until:
                    proc.signal(signal.SIGCONT)
                    proc.paused_until = 0.0
                    note("resume", proc)
            for when, proc in list(restarts):
                if now >= when:
                    restarts.remove((when, proc))
                    proc.start()
                    report.restarts += 1
                    note("restart", proc)
            if now >= next_fault:
                next_fault = now + interval * rng.uniform(0.5, 1.5)
                _fault(rng, procs, restarts, now, ttl, kill_share, report, note, folder)
            time.sleep(0.01)
    finally:
        for proc in procs:
            proc.stop()
        events.close()
    return audit_run(folder, report)


def _fault(rng, procs, restarts, now, ttl, kill_share, report, note, folder) -> None:
    running = [p for p in procs if p.process is not None and not p.paused_until]
    if not running:
        return
    leader = _believed_leader(folder, running)
    target = leader if leader is not None and rng.random() < 0.7 else rng.choice(running)
    if rng.random() < kill_share:
        target.signal(signal.SIGKILL)
        target.process.wait()
        note("kill", target)
        target.process = None
        report.kills += 1
        restarts.append((now + 0.5, target))
        return
    seconds = ttl * rng.uniform(1.5, 2.5)
    target.signal(signal.SIGSTOP)
    target.paused_until = now + seconds
    note("pause", target, seconds=seconds)
    report.pauses += 1
    report.pauses_past_ttl += seconds > ttl


def _believed_leader(folder: Path, running: list[ClientProcess]) -> ClientProcess | None:
    """The running client whose log says, last, that it was elected."""
    for proc in running:
        lines = _read_lines(folder / f"{proc.name}.jsonl")
        mine = [e for e in lines if e.get("pid") == proc.process.pid]
        if mine and mine[-1]["event"] == "elected":
            return proc
    return None


def _read_lines(path: Path) -> list[dict]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass  # a line cut by SIGKILL
    return out


def belief_intervals(folder: Path, end: float) -> list[tuple[str, int, float, float]]:
    """Every (client, token, from, to) during which a client believed it led."""
    kills = {e["pid"]: e["t"] for e in _read_lines(folder / "chaos.jsonl") if e["event"] == "kill"}
    intervals = []
    for log in sorted(folder.glob("c*.jsonl")):
        open_: dict[int, tuple[int, float]] = {}
        for e in _read_lines(log):
            if e["event"] == "elected":
                open_[e["pid"]] = (e["token"], e["t"])
            elif e["event"] in ("stopped", "exit") and e["pid"] in open_:
                token, since = open_.pop(e["pid"])
                intervals.append((e["name"], token, since, e["t"]))
        for pid, (token, since) in open_.items():
            intervals.append((log.stem, token, since, kills.get(pid, end)))
    return intervals


def find_overlaps(intervals: list[tuple[str, int, float, float]]) -> list[Overlap]:
    """Every pair of belief intervals of different clients that intersect."""
    overlaps = []
    ordered = sorted(intervals, key=lambda i: i[2])
    for i, (a, ta, sa, ea) in enumerate(ordered):
        for b, tb, sb, eb in ordered[i + 1 :]:
            if sb >= ea:
                break
            if a != b or ta != tb:
                overlaps.append(Overlap(a, ta, b, tb, max(sa, sb), min(ea, eb)))
    return overlaps


def audit_run(folder: Path, report: ChaosReport) -> ChaosReport:
    """Fill ``report`` from the resource's log and the clients' logs."""
    resource = FencedResource(folder / "resource.db")
    log = audit(resource)
    resource.close()
    report.writes_accepted, report.writes_refused = log.accepted, log.refused
    report.stale_accepted = log.stale
    intervals = belief_intervals(folder, time.time())
    report.elections = len(intervals)
    report.overlaps = find_overlaps(intervals)
    return report
