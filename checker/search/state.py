"""What a search is and what it returns: the shared vocabulary of every search loop.

Kept apart from the loops (explore.py, levels.py) so that each imports this and neither
imports the other.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from checker.search.visited import Visited
from spec.model import Model, ModelError, Step


class SearchError(ModelError):
    """The model failed during the search: names the action, the state and the path to it."""


@dataclass(frozen=True)
class Progress:
    """A snapshot of a running search, for a live display."""

    distinct: int
    generated: int
    queue: int
    depth: int
    seconds: float
    rate: float = 0.0  # distinct states a second lately (0: the average since the start)
    memory: int = 0  # resident bytes of the search's processes (0: not measured)
    disk: int = 0  # bytes of its files
    levels_left: int | None = None  # an estimate, once the levels shrink


@dataclass
class Coverage:
    """How often one action was enabled, changed the state, and found a new state."""

    action: str
    fired: int = 0
    changed: int = 0
    new_states: int = 0


@dataclass
class Result:
    """The outcome of one exhaustive search."""

    verdict: str  # "ok" | "violation" | "interrupted"
    property: str | None
    distinct_states: int
    generated_states: int
    depth: int
    seconds: float
    symmetry: bool
    exact: bool
    collision_probability: float
    coverage: list[Coverage] = field(default_factory=list)
    witnessed: list[str] = field(default_factory=list)
    unwitnessed: list[str] = field(default_factory=list)
    init_state: Any = None
    path: list[Step] | None = None
    vacuous: bool = False  # a violation of a `sometimes` property: it was never witnessed
    checked: list[str] = field(default_factory=list)  # the properties checked, in order
    bounded: bool = False  # stopped at max_depth: "ok" holds up to that depth only
    violations: list = field(default_factory=list)  # keep_going: (property, init, path) each
    workers: int = 0  # partitions of a partitioned search (0: the in-memory search)
    peak_memory: int = 0  # bytes, summed over its processes (partitioned search)
    disk_bytes: int = 0  # bytes of its files on disk at the end (partitioned search)

    @property
    def states_per_second(self) -> float:
        return self.distinct_states / self.seconds if self.seconds > 0 else 0.0


@dataclass
class Search:
    """The state of one breadth-first search: what every search loop reads and writes."""

    model: Model
    kernel: Any
    canon: Callable | None
    fingerprint: Callable | None
    start: float
    states: list = field(default_factory=list)  # in BFS order; the queue is a cursor into it
    parents: array = field(default_factory=lambda: array("q"))
    seen: Visited = field(default_factory=Visited)
    changed: list[int] = field(default_factory=lambda: [0] * 64)
    new_states: list[int] = field(default_factory=lambda: [0] * 64)
    bad_index: int = -1
    depth: int = 0
    expanded: int = 0
    bounded: bool = False  # stopped at the maximum depth

    def fired_counts(self) -> list[int]:
        """How often each action was enabled in an expanded state."""
        return self.kernel.fired_counts()

    def add_initial_states(self) -> None:
        for st in self.kernel.init:
            key = self.fingerprint(st) if self.fingerprint else st
            if key not in self.seen:
                self.seen.add(key)
                self.states.append(st)
                self.parents.append(-1)
                if self.bad_index < 0 and self.kernel.violates(st):
                    self.bad_index = len(self.states) - 1


def progress_of(search: Search, queue: int, now: float) -> Progress:
    """A snapshot of ``search`` for the live display."""
    generated = len(search.kernel.init) + sum(search.fired_counts())
    return Progress(len(search.states), generated, queue, search.depth, now - search.start)
