"""Transition-cover suites (checker/graph/cover.py) and `electkit cover` / `coverage`."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import networkx as nx
import pytest

from checker.cli.main import main
from checker.conformance.replay import replay_trace
from checker.graph.cover import cover_suite, cover_suite_with_report, edge_coverage
from checker.graph.statespace import state_graph, transition_list
from checker.traces import trace_from_actions
from spec.model import find_step
from spec.raft_election import RaftElection


def taken(trace) -> set[tuple[object, str]]:
    """The (state, label) pairs a trace takes, computed by replaying it in the model."""
    state, pairs = trace.init, set()
    for step in trace.steps:
        replayed = find_step(trace.model, state, step.action, step.params)
        assert replayed is not None and replayed.state == step.state
        pairs.add((state, step.label()))
        state = step.state
    return pairs


@pytest.mark.parametrize(("servers", "max_term"), [(2, 2), (3, 1)])
def test_the_suite_takes_every_transition(servers, max_term):
    model = RaftElection(servers, max_term)
    graph = state_graph(model)
    suite, report = cover_suite_with_report(model, graph=graph)
    covered, total, missing = edge_coverage(model, suite, graph=graph)
    assert (covered, missing) == (total, [])
    # Independently of edge_coverage: replay the suite in the model and collect what it takes.
    everything = {(graph.nodes[u]["state"], label) for u, _, label in transition_list(graph)}
    assert set().union(*(taken(t) for t in suite)) == everything
    assert all(t.init == model.init_states()[0] for t in suite)
    assert report.traces == len(suite) == report.min_traces
    assert report.steps == sum(len(t.steps) for t in suite) >= report.transitions == total


def test_no_suite_of_walks_has_fewer_traces():
    # A walk from the initial state ends in at most one bottom component: a simple bound
    # that the minimum flow must meet or beat, and one trace fewer must leave a gap.
    model = RaftElection(2, 2)
    graph = state_graph(model)
    suite = cover_suite(model, graph=graph)
    condensed = nx.condensation(graph)
    bottoms = sum(1 for c in condensed if condensed.out_degree(c) == 0)
    assert len(suite) >= bottoms
    covered, total, missing = edge_coverage(model, suite[1:], graph=graph)
    assert covered < total and len(missing) == total - covered


def test_coverage_of_other_traces():
    model = RaftElection(2, 1)
    one = trace_from_actions(model, [("Timeout", {"s": 1}), ("Timeout", {"s": 2})])
    assert edge_coverage(model, [one])[:2] == (2, 138)
    # A trace of another bound takes none of this graph's transitions.
    other = trace_from_actions(RaftElection(3, 1), [("Timeout", {"s": 1})])
    assert edge_coverage(model, [other])[0] == 0


def test_the_suite_conforms_to_the_implementation():
    suite = cover_suite(RaftElection(2, 1))
    results = [replay_trace(t, f"cover {i}") for i, t in enumerate(suite)]
    assert [r.verdict for r in results] == ["conforms"] * len(suite)
    assert sum(r.steps for r in results) == sum(len(t.steps) for t in suite)


def test_cli_cover_then_coverage(tmp_path, capsys):
    out = tmp_path / "cover"
    assert (
        main(["traces", "cover", "--servers", "2", "--max-term", "1", "--out", str(out), "--json"])
        == 0
    )
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    files = sorted(out.iterdir())
    assert len(files) == report["traces"] and report["transitions"] == 138
    assert main(["traces", "coverage", str(out), "--json"]) == 0
    (group,) = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["groups"]
    assert (group["covered"], group["transitions"], group["missing"]) == (138, 138, [])
    files[0].unlink()
    assert main(["traces", "coverage", str(out)]) == 0
    line = capsys.readouterr().out
    assert "first missing: state " in line and "take 138/138" not in line


def test_cli_bad_input_exit_2(tmp_path, capsys):
    assert main(["traces", "coverage", str(tmp_path)]) == 2
    assert "no trace files" in capsys.readouterr().err
    assert main(["traces", "coverage", str(tmp_path / "nope.json")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["traces", "cover", "--out", str(tmp_path), "--variant", "stale_votes"]) == 2
    assert "a cover suite is of the correct model" in capsys.readouterr().err
    assert (
        main(["traces", "cover", "--out", str(tmp_path), "--max-term", "2", "--limit", "50"]) == 2
    )
    assert "more than 50 states" in capsys.readouterr().err


def test_gate_stage_replays_the_suite():
    from checker.conformance.replay import replay_cover_for_gate

    outcome = replay_cover_for_gate(RaftElection(2, 1))
    assert outcome["passed"] and outcome["traces"] == 18
    assert outcome["summary"].startswith("18/18 cover traces conform, 138 transitions")
    # A node that grants a vote in any term if it has not voted: the stage must fail.
    import impl.node
    from checker.conformance.mutate import MUTANT_MODULE, load_mutant_class, mutants
    from checker.protocols.registry import bundle_named

    mutation = bundle_named("raft_election").mutation
    source = Path(impl.node.__file__).read_text()
    wrong = next(
        m
        for m in mutants(source, mutation.class_name, mutation.methods)
        if m.name.startswith("_on_request_vote") and "and -> or" in m.name
    )
    try:
        outcome = replay_cover_for_gate(
            RaftElection(2, 1), node_class=load_mutant_class(mutation, wrong)
        )
    finally:
        sys.modules.pop(MUTANT_MODULE, None)
    assert not outcome["passed"] and "first divergence" in outcome["summary"]
