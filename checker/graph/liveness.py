"""Liveness, possibility and deadlock on the state graph (spec/liveness.py's properties).

``Eventually`` and ``LeadsTo`` are checked as TLC checks liveness: on the strongly connected
components of the part of the graph where the goal has not yet happened. A violation is a
*lasso*: a finite prefix from an initial state, then a cycle that a fair behaviour can run
forever without reaching the goal (or a state with no step at all, where it stays forever).

Fairness on a cycle, for the component C that the cycle runs through (a cycle may visit every
state and take every step of C):

- weak: fair if C takes a step of the action, or the action is disabled at some state of C;
  otherwise no cycle inside C is fair either, and C is dropped;
- strong: fair if C takes a step of the action, or the action is disabled at every state of
  C; otherwise the states of C where it is enabled are removed and the components of what is
  left are tried again (the Emerson-Lei refinement for strong fairness).

"Enabled" and "taken" are about the model's steps, self-loops included: a step that leaves the
state as it is still counts as taken.

Symmetry: refused. On the quotient graph a cycle of orbits need not be a cycle of states, and
fairness that names one server's action is not preserved by renaming servers: TLC documents
that liveness checking with symmetry can miss violations or report false ones. Build the graph
with ``symmetry=False``.

Counterexamples are :class:`checker.traces.Trace` values whose ``meta["loop"]`` is the index
of the state where the cycle starts: ``states[loop] == states[-1]``; ``loop == len(steps)``
with no step after it means the behaviour stays at a state with no enabled step.
"""

from __future__ import annotations

import heapq
import itertools
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import networkx as nx

from checker.errors import ElectkitError
from checker.graph.statespace import step_of
from checker.traces import Trace
from spec.liveness import AlwaysPossibly, Eventually, Fairness, LeadsTo, LivenessProperty
from spec.model import Model

SYMMETRY_REFUSED = (
    "liveness is not checked under symmetry: on the quotient graph a cycle of orbits need not "
    "be a cycle of states and fairness of one server's action is not preserved (TLC's "
    "documented pitfall); rebuild the graph with symmetry off (--no-symmetry)"
)


@dataclass
class LivenessResult:
    """The verdict on one property, and its counterexample when it fails."""

    name: str
    kind: str  # "eventually" | "leads_to" | "always_possibly" | "deadlock"
    holds: bool
    fairness: list[str] = field(default_factory=list)
    trace: Trace | None = None
    detail: str = ""

    @property
    def loop(self) -> int | None:
        return None if self.trace is None else self.trace.meta.get("loop")


def liveness_properties(model: Model) -> list[LivenessProperty]:
    """The model's liveness properties, from its optional ``liveness_properties()``."""
    offered = getattr(model, "liveness_properties", None)
    return list(offered()) if callable(offered) else []


def check_liveness(
    model: Model, graph: nx.DiGraph, names: Iterable[str] | None = None
) -> list[LivenessResult]:
    """Check the model's liveness properties (those in ``names``; None: all) on ``graph``,
    and deadlock if the model declares ``check_deadlock = True``."""
    if graph.graph.get("symmetry"):
        raise ElectkitError(SYMMETRY_REFUSED)
    props = liveness_properties(model)
    if names is not None:
        wanted = list(names)
        known = {p.name for p in props}
        unknown = [n for n in wanted if n not in known]
        if unknown:
            valid = ", ".join(sorted(known)) or "none"
            raise ElectkitError(f"unknown liveness property {unknown[0]!r}; valid: {valid}")
        props = [p for p in props if p.name in wanted]
    results = [check_property(model, graph, prop) for prop in props]
    if getattr(model, "check_deadlock", False):
        results.append(check_deadlock(model, graph))
    return results


def check_property(model: Model, graph: nx.DiGraph, prop: LivenessProperty) -> LivenessResult:
    """The verdict on one property."""
    if graph.graph.get("symmetry"):
        raise ElectkitError(SYMMETRY_REFUSED)
    if isinstance(prop, AlwaysPossibly):
        return _always_possibly(model, graph, prop)
    if isinstance(prop, Eventually):
        starts = set(graph.graph["init"])
        kind, goal = "eventually", prop.goal
    elif isinstance(prop, LeadsTo):
        starts = {n for n, state in graph.nodes(data="state") if prop.p(state)}
        kind, goal = "leads_to", prop.q
    else:
        raise ElectkitError(f"{prop!r} is not a liveness property of spec/liveness.py")
    fairness = [str(f) for f in prop.fairness]
    lasso = find_lasso(graph, starts, goal, prop.fairness)
    if lasso is None:
        return LivenessResult(prop.name, kind, True, fairness)
    first, prefix, cycle = lasso
    trace = _trace(model, graph, first, prefix + cycle, loop=len(prefix))
    trace.meta.update(property=prop.name, verdict="violation", fairness=fairness)
    trace.meta["description"] = (
        f"{kind} {prop.name} fails: after {len(prefix)} steps "
        + (f"a cycle of {len(cycle)} steps runs forever" if cycle else "no step is enabled")
        + (" under " + ", ".join(fairness) if fairness else " (no fairness)")
    )
    return LivenessResult(prop.name, kind, False, fairness, trace, trace.meta["description"])


def check_deadlock(model: Model, graph: nx.DiGraph) -> LivenessResult:
    """A reachable state with no enabled step, by a shortest path, or none."""
    dead = {n for n in graph.nodes if graph.out_degree(n) == 0}
    path = _shortest_path(graph, graph.graph["init"], dead)
    if path is None:
        return LivenessResult("Deadlock", "deadlock", True)
    trace = _trace(model, graph, path[0], _edges_of(graph, path), loop=None)
    trace.meta.update(property="Deadlock", verdict="violation")
    trace.meta["description"] = f"deadlock after {len(path) - 1} steps: no step is enabled"
    return LivenessResult("Deadlock", "deadlock", False, [], trace, trace.meta["description"])


def _always_possibly(model: Model, graph: nx.DiGraph, prop: AlwaysPossibly) -> LivenessResult:
    goals = {n for n, state in graph.nodes(data="state") if prop.goal(state)}
    can_reach = set(goals)  # the goals and their ancestors, by one backward search
    queue = deque(goals)
    while queue:
        for u in graph.predecessors(queue.popleft()):
            if u not in can_reach:
                can_reach.add(u)
                queue.append(u)
    doomed = {
        n for n, state in graph.nodes(data="state") if n not in can_reach and prop.where(state)
    }
    path = _shortest_path(graph, graph.graph["init"], doomed)
    if path is None:
        return LivenessResult(prop.name, "always_possibly", True)
    trace = _trace(model, graph, path[0], _edges_of(graph, path), loop=None)
    trace.meta.update(property=prop.name, verdict="violation")
    trace.meta["description"] = (
        f"always-possibly {prop.name} fails: after {len(path) - 1} steps no goal state can be "
        "reached any more"
    )
    return LivenessResult(prop.name, "always_possibly", False, [], trace, trace.meta["description"])


# --- the lasso search ---------------------------------------------------------------------
Edge = tuple[int, int, str]


def find_lasso(
    graph: nx.DiGraph,
    starts: set[int],
    goal: Callable,
    fairness: Sequence[Fairness] = (),
) -> tuple[int, list[Edge], list[Edge]] | None:
    """A lasso that never meets ``goal`` after a start state: its initial state, a shortest
    prefix through a start state, and a fair cycle (empty: a dead end); None if none."""
    bad = {n for n, state in graph.nodes(data="state") if not goal(state)}
    starts = starts & bad
    if not starts:
        return None
    # The part of the graph a behaviour can run in after a start without reaching the goal.
    region: set[int] = set()
    frontier = deque(sorted(starts))
    region.update(starts)
    while frontier:
        u = frontier.popleft()
        for v in graph.successors(u):
            if v in bad and v not in region:
                region.add(v)
                frontier.append(v)
    # entry state -> (component, edges to take, states to visit); None: a dead end
    targets: dict[int, tuple[set[int], list[Edge], list[int]] | None] = {}
    for n in sorted(region):
        if graph.out_degree(n) == 0:
            targets[n] = None
    for comp, edges, states in _fair_components(graph, region, fairness):
        for n in comp:
            targets.setdefault(n, (comp, edges, states))
    if not targets:
        return None
    to_start = _distances(graph, graph.graph["init"])
    offsets = {s: to_start[s] for s in starts}
    entry, path_in_region = _dijkstra_path(graph, offsets, set(targets), region)
    if entry is None:  # pragma: no cover - every target lies in the region of a start
        return None
    to_first = _shortest_path(graph, graph.graph["init"], {path_in_region[0]})
    prefix = _edges_of(graph, to_first[:-1] + path_in_region)
    if targets[entry] is None:
        return to_first[0], prefix, []
    comp, edges, states = targets[entry]
    return to_first[0], prefix, _cycle(graph, entry, comp, edges, states)


def _fair_components(graph: nx.DiGraph, nodes: set[int], fairness: Sequence[Fairness]):
    """The components inside ``nodes`` that hold a fair cycle, with what the cycle must
    take (edges) and visit (states) to be fair."""
    sub = graph.subgraph(nodes)
    for comp in sorted(nx.strongly_connected_components(sub), key=min):
        if len(comp) == 1 and not graph.has_edge(next(iter(comp)), next(iter(comp))):
            continue
        taken: dict[str, Edge] = {}
        enabled: dict[str, set[int]] = {}
        for u in sorted(comp):
            for v, data in graph.adj[u].items():
                for label in data["labels"]:
                    enabled.setdefault(label, set()).add(u)
                    if v in comp:
                        taken.setdefault(label, (u, v, label))
        edges: list[Edge] = []
        states: list[int] = []
        remove: set[int] = set()
        fair = True
        for rule in fairness:
            for group in _groups(rule, enabled):
                took = [taken[label] for label in group if label in taken]
                if took:
                    edges.append(min(took))
                    continue
                where = set().union(*(enabled[label] for label in group))
                if not where:
                    continue
                if rule.kind == "weak":
                    if len(where) < len(comp):
                        states.append(min(comp - where))
                    else:
                        fair = False
                else:
                    remove |= where
        if not fair:
            continue
        if remove:
            yield from _fair_components(graph, comp - remove, fairness)
            continue
        yield comp, sorted(set(edges)), sorted(set(states))


def _groups(rule: Fairness, enabled: dict[str, set[int]]) -> list[list[str]]:
    labels = sorted(label for label in enabled if _action(label) == rule.action)
    if rule.each:
        return [[label] for label in labels]
    return [labels] if labels else []


def _action(label: str) -> str:
    return label.split("(", 1)[0]


def _cycle(
    graph: nx.DiGraph, entry: int, comp: set[int], edges: list[Edge], states: list[int]
) -> list[Edge]:
    """A cycle from ``entry`` inside ``comp`` that takes ``edges`` and visits ``states``."""
    cycle: list[Edge] = []
    here = entry
    for u, v, label in edges:
        cycle += _edges_of(graph, _shortest_path(graph, [here], {u}, comp))
        cycle.append((u, v, label))
        here = v
    for s in states:
        cycle += _edges_of(graph, _shortest_path(graph, [here], {s}, comp))
        here = s
    if here != entry:
        cycle += _edges_of(graph, _shortest_path(graph, [here], {entry}, comp))
    if not cycle:
        if graph.has_edge(entry, entry):
            return [(entry, entry, graph.edges[entry, entry]["labels"][0])]
        successors = set(graph.successors(entry)) & comp
        cycle = _edges_of(graph, [entry, *_shortest_path(graph, successors, {entry}, comp)])
    return cycle


def _distances(graph: nx.DiGraph, sources: Iterable[int]) -> dict[int, int]:
    dist = {s: 0 for s in sources}
    queue = deque(sorted(dist))
    while queue:
        u = queue.popleft()
        for v in sorted(graph.successors(u)):
            if v not in dist:
                dist[v] = dist[u] + 1
                queue.append(v)
    return dist


def _shortest_path(
    graph: nx.DiGraph, sources: Iterable[int], targets: set[int], allowed: set[int] | None = None
) -> list[int] | None:
    """A shortest path (as nodes) from a source to a target, inside ``allowed``; ties go to
    lower node numbers, so the answer is the same every run."""
    parent: dict[int, int | None] = {}
    queue: deque[int] = deque()
    for s in sorted(set(sources)):
        if allowed is None or s in allowed:
            parent[s] = None
            queue.append(s)
    while queue:
        u = queue.popleft()
        if u in targets:
            path = [u]
            while parent[path[-1]] is not None:
                path.append(parent[path[-1]])
            return path[::-1]
        for v in sorted(graph.successors(u)):
            if v not in parent and (allowed is None or v in allowed):
                parent[v] = u
                queue.append(v)
    return None


def _dijkstra_path(
    graph: nx.DiGraph, offsets: dict[int, int], targets: set[int], allowed: set[int]
) -> tuple[int | None, list[int]]:
    """From start states already ``offsets[s]`` steps in, the nearest target inside
    ``allowed``: the target and the path from its start state."""
    heap = [(d, s, s) for s, d in offsets.items()]
    heapq.heapify(heap)
    parent: dict[int, int | None] = {}
    while heap:
        d, u, via = heapq.heappop(heap)
        if u in parent:
            continue
        parent[u] = None if via == u else via
        if u in targets:
            path = [u]
            while parent[path[-1]] is not None:
                path.append(parent[path[-1]])
            return u, path[::-1]
        for v in graph.successors(u):
            if v in allowed and v not in parent:
                heapq.heappush(heap, (d + 1, v, u))
    return None, []


def _edges_of(graph: nx.DiGraph, nodes: list[int]) -> list[Edge]:
    return [(u, v, graph.edges[u, v]["labels"][0]) for u, v in itertools.pairwise(nodes)]


def _trace(
    model: Model, graph: nx.DiGraph, first: int, edges: list[Edge], loop: int | None
) -> Trace:
    """The edges, from state ``first``, as a trace of the model's own steps."""
    init = graph.nodes[first]["state"]
    steps = [step_of(model, graph, u, label) for u, _, label in edges]
    meta = {} if loop is None else {"loop": loop}
    return Trace(model, init, steps, meta)
