"""Liveness figures of a real Raft run, judged against what its election timeouts allow.

Validation (docs/validation.md) proves a run safe; it cannot see a cluster that is safe but
keeps failing to elect: elections without random jitter (every vote splits), an election timer
that a heartbeat or a granted vote does not reset, a leader that stops beating. Those show in
time, so this module reads the time of every logged event and of every fault the chaos driver
carried out (impl/chaos.py ``ChaosRun.timeline``, same wall clock) and sweeps the run once:

* the *majority side* at each instant: the nodes that are up (their ``start`` was logged after
  their last kill), not paused, and on the larger side of the partition, if any;
* a *working leader*: a node of the majority side that leads the highest term on that side;
* an *election*: a logged ``timeout`` that made its node a candidate (or, alone, leader), on the
  majority side (a node cut off in a minority times out again and again, by design);
* a *leader change*: a node's first event as leader of a term; it is *provoked* when a fault
  that can cost a leader its office (the start, a kill or pause of a leader, a partition, a heal,
  a resume) happened within one ``high + low`` window before it, else *unprovoked*.

The thresholds come from the timeout range ``[low, high]`` (docs/validation.md, "Liveness",
derives them and gives the distribution measured over healthy runs):

* ``longest leaderless interval while a quorum was up <= 6 * high``: a follower notices a lost
  leader within ``high`` and a round that splits the vote costs another ``high`` at most, so
  six is room for a restarted node's start-up and a few split rounds;
* ``high - low >= low / 4``: a range without room for jitter is refused outright;
* ``back-to-back elections at the low end <= 70 %``, judged from 10 of them: with timeouts
  drawn uniformly from ``[low, high]``, a node's consecutive elections (no leader in between,
  so nothing reset its timer) are spaced uniformly over ``[low, high]`` and a fifth of the
  gaps fall in the lowest fifth; without jitter nearly all do (at ``low`` plus a scheduling
  delay). Seven in ten of ten or more by chance has probability below 0.001;
* ``unprovoked leader changes <= max(6, 25 % of leader changes)``: with heartbeats every
  ``heartbeat`` (50 ms by default, a third of ``low``), a healthy leader is deposed without a
  fault only when three heartbeats in a row come late, which takes a starved CPU.

Reported, not judged: elections per leader change (a loaded machine makes a healthy cluster
split its votes as often as one without jitter: 6.5 was measured beside four mutation
workers) and terms per second (a node cut off in a minority raises its term every ``low`` to
``high`` seconds without harm, so the term rate mostly measures the partitions).

Known limitation: load makes timers late, which spreads the gaps of a cluster without
jitter too: on a machine so loaded that timers run tens of milliseconds late, the judge can
miss it (never the other way round: load does not bunch a healthy node's gaps at ``low``).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

LEADERLESS_TIMEOUTS = 6.0  # the longest leaderless interval, in units of the high timeout
LOW_END = 0.2  # the lowest fifth of the timeout range
MIN_SPREAD = 0.25  # the range must be at least a quarter of its low end wide
LOW_END_SHARE, MIN_GAPS = 0.7, 10
UNPROVOKED_FLOOR, UNPROVOKED_SHARE = 6, 0.25
DISRUPTIONS = ("start", "kill", "pause", "partition", "heal", "resume")
SCHEDULING_SLACK = 0.05  # seconds a back-to-back gap may exceed ``high`` (a late timer)


@dataclass
class Liveness:
    """The figures of one run, and the verdict against the bounds of its timeouts."""

    seconds: float
    timeout: tuple[float, float]
    elections: int = 0  # on the majority side
    minority_elections: int = 0
    leader_changes: int = 0
    unprovoked: int = 0
    max_term: int = 0
    longest_leaderless: float = 0.0
    leaderless_at: float = 0.0  # seconds from the start
    quorum_seconds: float = 0.0
    gaps: list[float] = field(default_factory=list)  # back-to-back elections of one node
    problems: list[str] = field(default_factory=list)

    @property
    def elections_per_change(self) -> float:
        return self.elections / max(1, self.leader_changes)

    @property
    def low_end_gaps(self) -> int:
        """Back-to-back gaps in the lowest fifth of the timeout range."""
        low, high = self.timeout
        return sum(1 for g in self.gaps if g <= low + LOW_END * (high - low))

    @property
    def terms_per_second(self) -> float:
        return self.max_term / self.seconds if self.seconds > 0 else 0.0

    def bounds(self) -> dict[str, float]:
        """The thresholds this run is judged by."""
        return {
            "longest_leaderless": LEADERLESS_TIMEOUTS * self.timeout[1],
            "low_end_share": LOW_END_SHARE,
            "unprovoked": max(UNPROVOKED_FLOOR, UNPROVOKED_SHARE * self.leader_changes),
        }

    def judge(self) -> list[str]:
        """What exceeds its bound (empty: the run was live enough); also kept in problems."""
        bound = self.bounds()
        problems = []
        low, high = self.timeout
        if high - low < MIN_SPREAD * low:
            problems.append(
                f"the election timeout range {low * 1000:g}-{high * 1000:g} ms leaves no room "
                f"for random jitter; make it at least {MIN_SPREAD:.0%} of its low end wide")
        if self.leader_changes == 0 and self.quorum_seconds > bound["longest_leaderless"]:
            problems.append(f"no leader was ever elected in {self.quorum_seconds:.1f} s with "
                            "a quorum up")
        if self.longest_leaderless > bound["longest_leaderless"]:
            problems.append(
                f"leaderless for {self.longest_leaderless:.2f} s (from {self.leaderless_at:.1f} "
                f"s) while a quorum was up; bound {bound['longest_leaderless']:.2f} s = "
                f"{LEADERLESS_TIMEOUTS:g} x the high timeout")
        if len(self.gaps) >= MIN_GAPS and self.low_end_gaps > LOW_END_SHARE * len(self.gaps):
            problems.append(
                f"{self.low_end_gaps} of {len(self.gaps)} back-to-back elections came within the "
                f"lowest fifth of the timeout range; bound {LOW_END_SHARE:.0%} (is the timeout "
                "drawn at random?)")
        if self.unprovoked > bound["unprovoked"]:
            problems.append(
                f"{self.unprovoked} of {self.leader_changes} leader changes with no fault "
                f"before them; bound {bound['unprovoked']:.0f} (is the election timer reset "
                "by heartbeats and votes, does the leader keep beating?)")
        self.problems = problems
        return problems

    def line(self) -> str:
        """The figures on one line, each with its bound."""
        bound = self.bounds()
        return (
            f"liveness: {self.leader_changes} leader changes, {self.elections} elections "
            f"({self.elections_per_change:.2f} per change), back-to-back at the low end "
            f"{self.low_end_gaps} of {len(self.gaps)} (bound {LOW_END_SHARE:.0%}), "
            f"{self.unprovoked} unprovoked (bound {bound['unprovoked']:.0f}), "
            f"longest leaderless with a quorum up {self.longest_leaderless:.2f} s (bound "
            f"{bound['longest_leaderless']:.2f} s), {self.terms_per_second:.1f} terms/s"
        )

    def to_json(self) -> dict[str, Any]:
        """The figures and bounds for a JSON summary."""
        return {
            "leader_changes": self.leader_changes,
            "elections": self.elections,
            "minority_elections": self.minority_elections,
            "elections_per_change": round(self.elections_per_change, 3),
            "unprovoked_leader_changes": self.unprovoked,
            "back_to_back_gaps": len(self.gaps),
            "low_end_gaps": self.low_end_gaps,
            "longest_leaderless_seconds": round(self.longest_leaderless, 3),
            "terms_per_second": round(self.terms_per_second, 3),
            "max_term": self.max_term,
            "bounds": {k: round(v, 3) for k, v in self.bounds().items()},
            "problems": list(self.problems),
        }


def measure(
    logs: Mapping[int, Iterable[Mapping[str, Any]]],
    timeline: Sequence[tuple[float, str, tuple[int, ...]]],
    nodes: int,
    timeout: tuple[float, float],
) -> Liveness:
    """The figures of a run: ``logs`` node -> events, ``timeline`` the driver's faults."""
    low, high = timeout
    times = [t for t, kind, _ in timeline if kind in ("start", "end")]
    begin, end = (min(times), max(times)) if times else (0.0, 0.0)
    figures = Liveness(seconds=end - begin, timeout=timeout)
    quorum = nodes // 2 + 1
    # One merged stream: (time, tie-break, what, node or nodes, event)
    stream: list[tuple[float, int, str, Any, Any]] = []
    for t, kind, who in timeline:
        stream.append((t, 0, kind, who, None))
    for node, events in logs.items():
        for event in events:
            stream.append((float(event["time"]), 1, "log", node, event))
    heapq.heapify(stream)
    ids = range(1, nodes + 1)
    down, paused = set(ids), set()  # a node is up once its start is logged
    cut_off: frozenset[int] = frozenset()
    role = dict.fromkeys(ids, "follower")
    term = dict.fromkeys(ids, 0)
    seen_leaders: set[tuple[int, int]] = set()
    last_election: dict[int, float | None] = dict.fromkeys(ids)  # None: a reset since
    disruptions: list[float] = []
    leaderless_since: float | None = None
    last = begin
    while stream:
        t, _, what, who, event = heapq.heappop(stream)
        if t > end:
            break
        majority = _majority(ids, down, paused, cut_off)
        up = len(majority) >= quorum
        if up:
            figures.quorum_seconds += max(0.0, t - last)
        last = t
        if what == "log":
            node, kind, state = who, event["event"], event["state"]
            if kind == "start":
                down.discard(node)
                last_election[node] = None
            role[node], term[node] = state["role"], state["term"]
            figures.max_term = max(figures.max_term, state["term"])
            if kind == "timeout" and state["role"] in ("candidate", "leader"):
                previous = last_election[node]
                if previous is not None and t - previous <= high + SCHEDULING_SLACK:
                    figures.gaps.append(t - previous)
                last_election[node] = t
                if node in majority:
                    figures.elections += 1
                else:
                    figures.minority_elections += 1
            if state["role"] == "leader" and (node, state["term"]) not in seen_leaders:
                seen_leaders.add((node, state["term"]))
                figures.leader_changes += 1
                if not any(t - (low + high) <= d <= t for d in disruptions):
                    figures.unprovoked += 1
        else:
            touched_leader = any(role[n] == "leader" for n in who)
            if what in DISRUPTIONS and (what not in ("kill", "pause") or touched_leader):
                disruptions.append(t)
            if what == "kill":
                down.update(who)
                for n in who:
                    role[n] = "follower"
            elif what == "pause":
                paused.update(who)
            elif what == "resume":
                paused.difference_update(who)
            elif what == "partition":
                cut_off = frozenset(who)
            elif what == "heal":
                cut_off = frozenset()
        majority = _majority(ids, down, paused, cut_off)
        working = _has_working_leader(majority, role, term)
        if len(majority) >= quorum and not working:
            if leaderless_since is None:
                leaderless_since = t
        elif leaderless_since is not None:
            _close(figures, leaderless_since, t, begin)
            leaderless_since = None
    if leaderless_since is not None:
        _close(figures, leaderless_since, end, begin)
    return figures


def _majority(ids: Iterable[int], down: set[int], paused: set[int],
              cut_off: frozenset[int]) -> set[int]:
    live = {n for n in ids if n not in down and n not in paused}
    return live - cut_off  # the cut-off side is never larger than half the cluster


def _has_working_leader(majority: set[int], role: Mapping[int, str],
                        term: Mapping[int, int]) -> bool:
    if not majority:
        return False
    top = max(term[n] for n in majority)
    return any(role[n] == "leader" and term[n] == top for n in majority)


def _close(figures: Liveness, since: float, until: float, begin: float) -> None:
    if until - since > figures.longest_leaderless:
        figures.longest_leaderless = until - since
        figures.leaderless_at = since - begin
