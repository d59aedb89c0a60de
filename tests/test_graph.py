"""The state graph (checker/graph/statespace.py) and `electkit graph`."""

from __future__ import annotations

import json
import re

import networkx as nx
import pytest

from checker.cli.main import main
from checker.errors import ElectkitError
from checker.graph.statespace import (
    GraphTooLarge,
    sinks,
    state_graph,
    summarize,
    transition_list,
    transitions,
    write_graph,
)
from checker.search.explore import explore
from spec.raft_election import RaftElection

BOUNDS = [(2, 2), (3, 1)]


@pytest.mark.parametrize(("servers", "max_term"), BOUNDS)
@pytest.mark.parametrize("symmetry", [False, True])
def test_graph_counts_agree_with_the_search(servers, max_term, symmetry):
    model = RaftElection(servers, max_term)
    graph = state_graph(model, symmetry=symmetry)
    result = explore(model, symmetry=symmetry)
    assert graph.number_of_nodes() == result.distinct_states
    # generated_states counts each initial state and each (state, enabled step) pair once.
    assert transitions(graph) == result.generated_states - len(model.init_states())
    assert graph.number_of_edges() <= transitions(graph)
    assert summarize(graph).depth == result.depth


def test_reference_figures_without_symmetry():
    assert state_graph(RaftElection(2, 2)).number_of_nodes() == 513
    assert state_graph(RaftElection(3, 1)).number_of_nodes() == 1002


def test_every_edge_is_a_step_of_the_model():
    model = RaftElection(2, 1)
    graph = state_graph(model)
    for u in graph.nodes:
        state = graph.nodes[u]["state"]
        steps = {step.label(): step.state for step in model.steps(state)}
        labels = {label: v for src, v, label in transition_list(graph) if src == u}
        assert set(labels) == set(steps)
        for label, v in labels.items():
            assert graph.nodes[v]["state"] == steps[label]
        assert graph.nodes[u]["json"] == model.to_json(state)


def test_summary_of_raft():
    summary = summarize(state_graph(RaftElection(2, 2)))
    assert (summary.states, summary.transitions) == (513, 3964)
    # Every step grows the network, a term or the history, or lowers a role within a term:
    # the only cycles are self-loops, so every strongly connected component is one state.
    assert summary.largest_scc == 1
    assert summary.sinks == 0
    assert summary.diameter == summary.depth == 10


def test_the_graph_is_the_same_every_run():
    a, b = state_graph(RaftElection(2, 2)), state_graph(RaftElection(2, 2))
    assert list(a.nodes(data="json")) == list(b.nodes(data="json"))
    assert list(a.edges(data="labels")) == list(b.edges(data="labels"))


def test_past_the_limit_one_clear_error():
    with pytest.raises(GraphTooLarge, match="more than 10 states; raise --limit"):
        state_graph(RaftElection(2, 2), limit=10)
    assert issubclass(GraphTooLarge, ElectkitError)


class Countdown:
    """A tiny model without servers: n, n-1, ..., 0, where it stops (a deadlock)."""

    name = "countdown"
    parameters = {"start": 3}
    check_deadlock = True

    def init_states(self):
        return [3]

    def steps(self, state):
        from spec.model import Step

        if state > 0:
            yield Step("Down", {}, state - 1)

    def properties(self):
        return []

    def server_ids(self):
        return []

    def permute(self, state, perm):
        return state

    def to_json(self, state):
        return {"n": state}

    def action_to_json(self, step):
        return {"action": step.action, "params": dict(step.params)}


def test_sinks_of_a_model_that_stops():
    graph = state_graph(Countdown(), symmetry=True)  # no servers: symmetry changes nothing
    assert graph.number_of_nodes() == 4
    assert sinks(graph) == [3]
    assert graph.nodes[3]["json"] == {"n": 0}


def test_writers_round_trip(tmp_path):
    graph = state_graph(RaftElection(2, 1))
    back = nx.read_graphml(write_graph(graph, tmp_path / "g.graphml", "graphml"))
    assert (back.number_of_nodes(), back.number_of_edges()) == (29, 78)
    assert sum(int(c) for _, _, c in back.edges(data="count")) == 138
    doc = json.loads(write_graph(graph, tmp_path / "g.json", "json").read_text())
    assert len(doc["nodes"]) == 29 and len(doc["edges"]) == 78
    assert doc["summary"]["transitions"] == 138
    dot = write_graph(graph, tmp_path / "g.dot", "dot").read_text()
    assert len(re.findall(r"^\s+\d+ -> \d+ ", dot, re.M)) == 78
    with pytest.raises(ElectkitError, match="unknown graph format"):
        write_graph(graph, tmp_path / "g.x", "png")


def test_cli_summary_and_json(capsys, tmp_path):
    out = tmp_path / "g.graphml"
    assert main(["graph", "--servers", "2", "--max-term", "2", "-o", str(out), "--json"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["summary"]["states"] == 513
    assert report["summary"]["transitions"] == 3964
    assert nx.read_graphml(out).number_of_nodes() == 513


def test_cli_limit_and_bad_input_exit_2(capsys):
    assert main(["graph", "--servers", "2", "--max-term", "2", "--limit", "100"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "more than 100 states" in err
    assert main(["graph", "--limit", "0"]) == 2
    assert "--limit must be at least 1" in capsys.readouterr().err
    assert main(["graph", "-o", "graph.png"]) == 2
    assert "--format" in capsys.readouterr().err


def test_cli_svg_highlights_the_counterexample(tmp_path, capsys):
    out = tmp_path / "g.svg"
    argv = ["graph", "--servers", "2", "--max-term", "1", "--variant", "quorum_off_by_one"]
    assert main([*argv, "-o", str(out)]) == 0
    svg = out.read_text()
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    assert "shortest counterexample to ElectionSafety" in svg
    assert "1. Timeout(s=1)" in svg and "2. Timeout(s=2)" in svg
    assert svg.count('marker-end="url(#red)"') == 2  # the two steps of the path
    assert svg.count("<title>state ") == 29


def test_cli_svg_highlights_a_given_trace(tmp_path, capsys):
    from checker.traces import trace_from_actions, write_trace

    model = RaftElection(2, 1)
    trace = trace_from_actions(model, [("Timeout", {"s": 2}), ("Restart", {"s": 2})])
    path = write_trace(trace, tmp_path / "t.itf.json")
    out = tmp_path / "g.svg"
    argv = ["graph", "--servers", "2", "--max-term", "1", "-o", str(out)]
    assert main([*argv, "--highlight", str(path)]) == 0
    svg = out.read_text()
    assert "1. Timeout(s=2)" in svg and "2. Restart(s=2)" in svg
    # A trace of another bound is not a path of this graph: one line, exit 2.
    other = write_trace(
        trace_from_actions(RaftElection(3, 1), [("Timeout", {"s": 1})]), tmp_path / "o.json"
    )
    capsys.readouterr()
    assert main([*argv, "--highlight", str(other)]) == 2
    assert "not a path of this model" in capsys.readouterr().err
    assert main(["graph", "--format", "dot"]) == 2
    assert "--format needs -o" in capsys.readouterr().err
