"""Transition-cover suites: few traces from the initial state that take every transition.

A transition is one enabled step of one reachable state: ``(state, label)``, self-loops
included; there are ``generated_states - initial states`` of them (checker/graph/statespace.py).
Driving the implementation along every one of them is Mocket's idea (EuroSys'23): every
action is tried in every abstract state the model can reach at the bound.

How the suite is made: each trace is a walk from the initial state, so it can only go down
the DAG of strongly connected components (SCCs). Every transition between two SCCs must be
taken by some trace, and a trace that visits an SCC can take all the transitions inside it.
The fewest traces is then a *minimum flow* on the condensation: every cross transition needs
one unit, a trace is one unit from the initial state; networkx's network simplex solves it
exactly, and the flow is split into walks. So the number of traces is the minimum possible
(the lower bound is met, not approached); the number of steps is at least the number of
transitions, and the report gives the ratio.

>>> from spec.model import Model, Step
>>> class Counter(Model):
...     name = "counter"
...     def init_states(self): return [0]
...     def steps(self, n):
...         if n < 2:
...             yield Step("Inc", {}, n + 1)
...         yield Step("Reset", {}, 0)
...     def properties(self): return []
...     def to_json(self, n): return {"n": n}
...     def from_json(self, value): return value["n"]
>>> suite = cover_suite(Counter())
>>> covered, total, missing = edge_coverage(Counter(), suite)
>>> covered, total, missing
(5, 5, [])
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

import networkx as nx

from checker.graph.statespace import DEFAULT_LIMIT, state_graph, step_of, transition_list
from checker.traces import Trace
from spec.model import Model

Transition = tuple[int, str]  # (state node, step label)


@dataclass(frozen=True)
class CoverReport:
    """How the suite compares with its lower bounds."""

    traces: int
    min_traces: int  # the minimum flow: no suite of walks from the initial state has fewer
    steps: int
    transitions: int  # every transition once: no suite has fewer steps

    def line(self) -> str:
        """One line for the terminal."""
        return (
            f"{self.traces} traces (minimum {self.min_traces}), {self.steps} steps for "
            f"{self.transitions} transitions ({self.steps / max(self.transitions, 1):.2f} "
            "steps per transition)"
        )


def cover_suite(
    model: Model, *, graph: nx.DiGraph | None = None, limit: int = DEFAULT_LIMIT
) -> list[Trace]:
    """The fewest traces from the initial state that together take every transition."""
    return cover_suite_with_report(model, graph=graph, limit=limit)[0]


def cover_suite_with_report(
    model: Model, *, graph: nx.DiGraph | None = None, limit: int = DEFAULT_LIMIT
) -> tuple[list[Trace], CoverReport]:
    """:func:`cover_suite`, and how it compares with the lower bounds."""
    graph = graph if graph is not None else state_graph(model, limit=limit)
    if graph.graph.get("symmetry"):
        raise ValueError("a cover suite needs the graph of concrete states (symmetry off)")
    init = graph.graph["init"][0]  # walks start at the first initial state
    sccs = sorted(nx.strongly_connected_components(graph), key=min)
    comp_of = {n: i for i, comp in enumerate(sccs) for n in comp}
    crossing: dict[tuple[int, int], list[tuple[int, int, str]]] = {}
    for u, v, label in transition_list(graph):
        if comp_of[u] != comp_of[v]:
            crossing.setdefault((comp_of[u], comp_of[v]), []).append((u, v, label))
    exits_of: dict[int, list[int]] = {}
    for a, b in sorted(crossing):
        exits_of.setdefault(a, []).append(b)
    flow = _minimum_flow(len(sccs), comp_of[init], {k: len(v) for k, v in crossing.items()})
    uncovered = {(u, label) for u, _, label in transition_list(graph)}
    if uncovered and flow[("start", comp_of[init])] == 0:
        # No transition leaves the initial SCC: the flow needs no walk, the SCC needs one.
        flow[("start", comp_of[init])] = 1
    walks: list[list[tuple[int, int, str]]] = []
    while flow.get(("start", comp_of[init]), 0) > 0:
        flow[("start", comp_of[init])] -= 1
        walks.append(_walk(graph, init, comp_of, sccs, crossing, exits_of, flow, uncovered))
    assert not uncovered, "the minimum flow left a transition out"  # a bug, not an input
    total = sum(1 for _ in transition_list(graph))
    traces = []
    for index, walk in enumerate(walks, start=1):
        steps = [step_of(model, graph, u, label) for u, _, label in walk]
        meta = {
            "verdict": "cover",
            "description": f"transition cover, trace {index} of {len(walks)}",
        }
        traces.append(Trace(model, graph.nodes[init]["state"], steps, meta))
    report = CoverReport(len(walks), len(walks), sum(len(w) for w in walks), total)
    return traces, report


def _minimum_flow(comps: int, source: int, need: dict[tuple[int, int], int]) -> dict:
    """The fewest walks from ``source`` that cross each SCC pair ``need[a, b]`` times: a flow
    with lower bounds, as a min-cost flow (one unit of cost per walk started)."""
    net = nx.DiGraph()
    total = sum(need.values()) + 1
    net.add_node("start", demand=-total)
    net.add_node("end", demand=total)
    net.add_edge("start", "end", weight=0)
    net.add_edge("start", source, weight=1)
    for c in range(comps):
        net.add_node(c, demand=0)
        net.add_edge(c, "end", weight=0)
    for (a, b), lower in need.items():
        # Flow = lower + extra: the lower part is moved into the demands of a and b.
        net.nodes[a]["demand"] += lower
        net.nodes[b]["demand"] -= lower
        net.add_edge(a, b, weight=0)
    flow = nx.min_cost_flow(net)
    out = {("start", source): flow["start"][source]}
    for (a, b), lower in need.items():
        out[(a, b)] = lower + flow[a][b]
    return out


def _walk(
    graph, init, comp_of, sccs, crossing, exits_of, flow, uncovered
) -> list[tuple[int, int, str]]:
    """One walk of the flow from ``init``: inside each SCC it visits, it first takes what is
    still uncovered there, then leaves by a cross transition that still has flow."""
    walk: list[tuple[int, int, str]] = []
    here = init
    while True:
        comp = comp_of[here]
        inside = _inside(graph, here, sccs[comp], uncovered)
        walk += inside
        here = inside[-1][1] if inside else here
        nxt = next((b for b in exits_of.get(comp, ()) if flow[(comp, b)] > 0), None)
        if nxt is None:
            return walk
        flow[(comp, nxt)] -= 1
        options = crossing[(comp, nxt)]
        u, v, label = next((t for t in options if (t[0], t[2]) in uncovered), options[0])
        walk += _path(graph, here, u, sccs[comp])
        walk.append((u, v, label))
        uncovered.discard((u, label))
        here = v


def _inside(graph, here: int, comp: set[int], uncovered: set[Transition]):
    """From ``here``, take every uncovered transition inside ``comp`` (nearest first)."""
    walk = []
    while True:
        todo = {
            (u, v, label)
            for u in comp
            for v, data in graph.adj[u].items()
            if v in comp
            for label in data["labels"]
            if (u, label) in uncovered
        }
        if not todo:
            return walk
        starts = {u for u, _, _ in todo}
        path = _path(graph, here, None, comp, starts)
        at = path[-1][1] if path else here
        u, v, label = min(t for t in todo if t[0] == at)
        walk += path + [(u, v, label)]
        uncovered.discard((u, label))
        here = v


def _path(graph, here: int, target: int | None, comp: set[int], targets=None):
    """A shortest path of transitions from ``here`` to ``target`` (or any of ``targets``)
    inside ``comp``; ties go to lower node numbers and labels."""
    goal = {target} if target is not None else targets
    parent = {here: None}
    queue = deque([here])
    while queue:
        u = queue.popleft()
        if u in goal:
            path = []
            while parent[u] is not None:
                p = parent[u]
                path.append((p, u, graph.edges[p, u]["labels"][0]))
                u = p
            return path[::-1]
        for v in sorted(graph.successors(u)):
            if v in comp and v not in parent:
                parent[v] = u
                queue.append(v)
    raise AssertionError("no path inside a strongly connected component")  # pragma: no cover


def edge_coverage(
    model: Model,
    traces: Iterable[Trace],
    *,
    graph: nx.DiGraph | None = None,
    limit: int = DEFAULT_LIMIT,
) -> tuple[int, int, list[tuple[int, str]]]:
    """How many transitions of ``model``'s graph the traces take: (covered, total, missing).

    A trace whose states are not those of ``model`` (another bound or variant) covers
    nothing: its steps are looked up by state and none is found.
    """
    graph = graph if graph is not None else state_graph(model, limit=limit)
    node_of = {state: n for n, state in graph.nodes(data="state")}
    all_transitions = {(u, label) for u, _, label in transition_list(graph)}
    covered: set[Transition] = set()
    for trace in traces:
        state = trace.init
        for step in trace.steps:
            n = node_of.get(state)
            if n is not None:
                covered.add((n, step.label()))
            state = step.state
    covered &= all_transitions
    missing = sorted(all_transitions - covered)
    return len(covered), len(all_transitions), missing
