"""The reachable state graph of a bounded model, as a networkx DiGraph.

Nodes are the reachable states, numbered in breadth-first order from the initial states (so
the same model gives the same numbers); each node carries ``state`` (the model's own value)
and ``json`` (its ``to_json`` view). An edge ``u -> v`` carries ``labels``: the sorted list of
the actions (``Step.label()``) that lead from ``u`` to ``v``. A plain DiGraph with a list of
labels, not a MultiDiGraph: the algorithms used here (strongly connected components,
reachability, shortest paths, layouts) are about which states connect, and a MultiDiGraph
would only make each of them filter parallel edges; the parallel actions are still all there.

Counting, so the figures agree with the search's (checker/explore.py):

- ``states`` = the search's ``distinct_states``;
- ``transitions`` = the (state, enabled step) pairs = the sum of ``len(labels)`` over the
  edges, self-loops included = the search's ``generated_states`` minus the initial states;
- ``edges`` = the distinct (source, target) pairs, at most ``transitions``.

Under ``symmetry`` a node stands for an orbit: its state is the member whose JSON view sorts
first, and an edge goes to the orbit of each successor.

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
>>> graph = state_graph(Counter())
>>> graph.number_of_nodes(), transitions(graph)
(3, 5)
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Hashable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import networkx as nx

from checker.errors import ElectkitError
from checker.protocols.bundle import shown
from spec.model import Model, Step

DEFAULT_LIMIT = 200_000


class GraphTooLarge(ElectkitError):
    """The reachable state graph has more states than the limit allows."""


def state_graph(model: Model, *, symmetry: bool = False, limit: int = DEFAULT_LIMIT) -> nx.DiGraph:
    """Every reachable state of ``model`` and every step between them, breadth first.

    Raises :class:`GraphTooLarge` (one line, exit 2 at the CLI) past ``limit`` states.
    """
    canon = _canonicalizer(model) if symmetry else (lambda state: state)
    graph = nx.DiGraph(
        spec=model.name, parameters=dict(model.parameters), symmetry=symmetry, init=[]
    )
    index: dict[Hashable, int] = {}

    def node_of(state: Hashable) -> tuple[int, bool]:
        known = index.get(state)
        if known is not None:
            return known, False
        if len(index) >= limit:
            raise GraphTooLarge(
                f"the state graph of {model.name} {_bound(model)} has more than {limit:,} "
                "states; raise --limit or lower the bound"
            )
        n = index[state] = len(index)
        graph.add_node(n, state=state, json=model.to_json(state), depth=0)
        return n, True

    queue: deque[int] = deque()
    for state in model.init_states():
        n, new = node_of(canon(state))
        if new:
            graph.graph["init"].append(n)
            queue.append(n)
    while queue:
        u = queue.popleft()
        for step in model.steps(graph.nodes[u]["state"]):
            v, new = node_of(canon(step.state))
            if new:
                graph.nodes[v]["depth"] = graph.nodes[u]["depth"] + 1
                queue.append(v)
            if graph.has_edge(u, v):
                graph.edges[u, v]["labels"].append(step.label())
            else:
                graph.add_edge(u, v, labels=[step.label()])
    for _, _, labels in graph.edges(data="labels"):
        labels.sort()
    return graph


def _canonicalizer(model: Model):
    perms = getattr(model, "permutations", lambda: [])()
    if not perms or not model.server_ids():
        return lambda state: state

    def key(state: Hashable) -> str:
        return json.dumps(model.to_json(state), sort_keys=True, separators=(",", ":"))

    return lambda state: min((model.permute(state, p) for p in perms), key=key)


def _bound(model: Model) -> str:
    return "(" + ", ".join(f"{k}={shown(v)}" for k, v in model.parameters.items()) + ")"


def transitions(graph: nx.DiGraph) -> int:
    """The (state, enabled step) pairs: the number of action labels over all edges."""
    return sum(len(labels) for _, _, labels in graph.edges(data="labels"))


def transition_list(graph: nx.DiGraph) -> Iterator[tuple[int, int, str]]:
    """Every transition ``(source, target, label)``, in node order then label order."""
    for u in graph.nodes:
        for v, data in graph.adj[u].items():
            for label in data["labels"]:
                yield u, v, label


def step_of(model: Model, graph: nx.DiGraph, u: int, label: str) -> Step:
    """The model's step with ``label`` from the state of node ``u``."""
    for step in model.steps(graph.nodes[u]["state"]):
        if step.label() == label:
            return step
    raise KeyError(f"{label} is not enabled at state {u}")  # pragma: no cover - graph is stale


@dataclass(frozen=True)
class Summary:
    """The figures of a state graph."""

    states: int
    transitions: int
    edges: int
    self_loops: int
    sccs: int
    nontrivial_sccs: int
    largest_scc: int
    bottom_sccs: int
    sinks: int
    depth: int
    diameter: int | None  # the longest shortest path between two states; None when too big

    def lines(self) -> list[str]:
        """The summary as short ``name: value`` lines."""
        return [
            f"{k.replace('_', ' ')}: {v if v is not None else 'not computed'}"
            for k, v in asdict(self).items()
        ]


DIAMETER_LIMIT = 5_000  # all-pairs breadth-first search is quadratic; skip it past this


def summarize(graph: nx.DiGraph) -> Summary:
    """States, transitions, edges, SCCs, sinks (deadlocks), depth and diameter of ``graph``."""
    sccs = list(nx.strongly_connected_components(graph))
    condensed = nx.condensation(graph, sccs)
    nontrivial = [c for c in sccs if len(c) > 1 or any(graph.has_edge(n, n) for n in c)]
    diameter = None
    if graph.number_of_nodes() <= DIAMETER_LIMIT:
        diameter = max(
            (max(lengths.values()) for _, lengths in nx.all_pairs_shortest_path_length(graph)),
            default=0,
        )
    return Summary(
        states=graph.number_of_nodes(),
        transitions=transitions(graph),
        edges=graph.number_of_edges(),
        self_loops=nx.number_of_selfloops(graph),
        sccs=len(sccs),
        nontrivial_sccs=len(nontrivial),
        largest_scc=max((len(c) for c in sccs), default=0),
        bottom_sccs=sum(1 for c in condensed if condensed.out_degree(c) == 0),
        sinks=len(sinks(graph)),
        depth=max((d for _, d in graph.nodes(data="depth")), default=0),
        diameter=diameter,
    )


def sinks(graph: nx.DiGraph) -> list[int]:
    """The states with no enabled step at all (deadlocks, if the model says they are bad)."""
    return [n for n in graph.nodes if graph.out_degree(n) == 0]


# --- writers ------------------------------------------------------------------------------
FORMATS = ("graphml", "dot", "json")


def _flat(graph: nx.DiGraph) -> nx.DiGraph:
    """A copy with only text and number attributes, as GraphML and DOT need."""
    flat = nx.DiGraph()
    flat.graph.update(
        spec=graph.graph["spec"],
        parameters=json.dumps(graph.graph["parameters"], sort_keys=True),
        symmetry=graph.graph["symmetry"],
        init=" ".join(map(str, graph.graph["init"])),
    )
    for n, data in graph.nodes(data=True):
        flat.add_node(n, json=json.dumps(data["json"], sort_keys=True), depth=data["depth"])
    for u, v, labels in graph.edges(data="labels"):
        flat.add_edge(u, v, labels="; ".join(labels), count=len(labels))
    return flat


def to_json_document(graph: nx.DiGraph) -> dict[str, Any]:
    """The graph as one JSON document: its figures, its nodes and its edges."""
    return {
        "spec": graph.graph["spec"],
        "parameters": graph.graph["parameters"],
        "symmetry": graph.graph["symmetry"],
        "init": graph.graph["init"],
        "summary": asdict(summarize(graph)),
        "nodes": [
            {"id": n, "depth": d["depth"], "state": d["json"]} for n, d in graph.nodes(data=True)
        ],
        "edges": [
            {"source": u, "target": v, "labels": labels}
            for u, v, labels in graph.edges(data="labels")
        ],
    }


def to_dot(graph: nx.DiGraph) -> str:
    """The graph in Graphviz DOT; node tooltips hold the state, edge labels the actions."""

    def quote(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    init = set(graph.graph["init"])
    lines = [f"digraph {quote(graph.graph['spec'])} {{", "  rankdir=LR;", "  node [shape=circle];"]
    for n, data in graph.nodes(data=True):
        shape = ", shape=doublecircle" if n in init else ""
        tooltip = quote(json.dumps(data["json"], sort_keys=True))
        lines.append(f"  {n} [tooltip={tooltip}{shape}];")
    for u, v, labels in graph.edges(data="labels"):
        lines.append(f"  {u} -> {v} [label={quote(chr(10).join(labels))}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_graph(graph: nx.DiGraph, path: str | Path, fmt: str) -> Path:
    """Write ``graph`` to ``path`` as ``graphml``, ``dot`` or ``json``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if fmt == "graphml":
        nx.write_graphml(_flat(graph), path)
    elif fmt == "dot":
        path.write_text(to_dot(graph))
    elif fmt == "json":
        path.write_text(json.dumps(to_json_document(graph), sort_keys=True, indent=1) + "\n")
    else:
        raise ElectkitError(f"unknown graph format {fmt!r}; valid: {', '.join(FORMATS)}")
    return path
