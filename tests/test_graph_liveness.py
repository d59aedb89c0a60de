"""Liveness, possibility and deadlock on the state graph (checker/graph/liveness.py).

Every lasso is checked here independently of the algorithm that found it: replayed in the
model step by step, its cycle closed, the goal false all along, and fairness met on the cycle.
"""

from __future__ import annotations

import re
from collections import deque
from pathlib import Path

import pytest

from checker.cli.main import main
from checker.errors import ElectkitError
from checker.graph.liveness import check_deadlock, check_liveness, check_property
from checker.graph.statespace import state_graph
from checker.traces import read_trace, write_trace
from spec.liveness import AlwaysPossibly, Eventually, LeadsTo, strong, weak
from spec.model import Step, find_step
from spec.raft_election import RaftElection, leader_elected


class Tiny:
    """A model of a few named states and labelled steps, for liveness corner cases."""

    name = "tiny"
    parameters: dict = {}

    def __init__(self, edges: list[tuple[str, str, str]], init: str = "a", deadlock=False):
        self.edges = edges
        self.init = init
        self.check_deadlock = deadlock

    def init_states(self):
        return [self.init]

    def steps(self, state):
        for src, action, dst in self.edges:
            if src == state:
                yield Step(action, {}, dst)

    def properties(self):
        return []

    def server_ids(self):
        return []

    def permute(self, state, perm):
        return state

    def to_json(self, state):
        return {"at": state}

    def action_to_json(self, step):
        return {"action": step.action, "params": {}}


def assert_lasso(model, trace, goal, fairness=()):
    """Replay ``trace`` in the model and check that it is a fair behaviour avoiding ``goal``."""
    state = trace.init
    states = [state]
    for step in trace.steps:
        replayed = find_step(model, state, step.action, step.params)
        assert replayed is not None and replayed.state == step.state
        state = step.state
        states.append(state)
    loop = trace.meta["loop"]
    assert 0 <= loop <= len(trace.steps)
    assert states[loop] == states[-1], "the cycle must come back to where it starts"
    assert not any(goal(s) for s in states), "a counterexample never reaches the goal"
    if loop == len(trace.steps):  # a dead end: nothing may be enabled there
        assert list(model.steps(states[-1])) == []
        return
    cycle_states = states[loop:-1]
    taken = {step.label() for step in trace.steps[loop:]}
    enabled = [{s.label() for s in model.steps(st)} for st in cycle_states]
    for rule in fairness:
        labels = {lab for e in enabled for lab in e if lab.split("(")[0] == rule.action}
        groups = [{lab} for lab in labels] if rule.each else [labels] if labels else []
        for group in groups:
            if group & taken:
                continue
            on = [bool(group & e) for e in enabled]
            if rule.kind == "weak":
                assert not all(on), f"{rule} violated on the cycle by {sorted(group)}"
            else:
                assert not any(on), f"{rule} violated on the cycle by {sorted(group)}"


# --- a cycle that Stateright's acyclic `eventually` cannot see -------------------------
# a -Go-> b -Back-> a, b -Finish-> done. Every path that avoids `done` runs round the a-b
# cycle; no path ends in a state without the goal, so a search that reports `eventually` only
# at the end of acyclic paths says nothing. The kit finds the lasso.
LOOPING = [("a", "Go", "b"), ("b", "Back", "a"), ("b", "Finish", "done"), ("done", "Idle", "done")]


def test_a_cycle_that_never_reaches_the_goal_is_a_lasso():
    model = Tiny(LOOPING)
    goal = lambda s: s == "done"  # noqa: E731
    result = check_property(model, state_graph(model), Eventually("Done", goal))
    assert not result.holds
    assert [s.action for s in result.trace.steps] == ["Go", "Back"]
    assert result.trace.meta["loop"] == 0
    assert_lasso(model, result.trace, goal)


def test_weak_fairness_is_not_enough_strong_is():
    model = Tiny(LOOPING)
    graph = state_graph(model)
    goal = lambda s: s == "done"  # noqa: E731
    # Finish is enabled only at b: not continuously, so weak fairness lets the cycle go on.
    fair = (weak("Finish"),)
    result = check_property(model, graph, Eventually("Done", goal, fair))
    assert not result.holds
    assert_lasso(model, result.trace, goal, fair)
    # Enabled infinitely often, so strong fairness must take it.
    assert check_property(model, graph, Eventually("Done", goal, (strong("Finish"),))).holds


def test_fairness_of_each_instance_or_of_the_action_as_one():
    # Two lamps; Light(x) turns lamp x on, and on a lit lamp it changes nothing (a self-loop).
    edges = []
    for a in (0, 1):
        for b in (0, 1):
            state = (a, b)
            edges.append((state, "Light", (1, b), "a"))
            edges.append((state, "Light", (a, 1), "b"))

    class Lamps(Tiny):
        def steps(self, state):
            for src, action, dst, x in self.edges:
                if src == state:
                    yield Step(action, {"x": x}, dst)

    model = Lamps(edges, init=(0, 0))
    graph = state_graph(model)
    both = lambda s: s == (1, 1)  # noqa: E731
    one = (weak("Light", each=False),)
    result = check_property(model, graph, Eventually("BothLit", both, one))
    assert not result.holds  # relighting lamp a forever counts as taking Light
    assert_lasso(model, result.trace, both, one)
    assert check_property(model, graph, Eventually("BothLit", both, (weak("Light"),))).holds


def test_leads_to_and_dead_ends():
    # a -> b -> c (stops); p = at b, q = at c: holds; q = never: b leads to the dead end c.
    model = Tiny([("a", "Step", "b"), ("b", "Step", "c")])
    graph = state_graph(model)
    assert check_property(model, graph, LeadsTo("BtoC", lambda s: s == "b", lambda s: s == "c"))
    never = check_property(model, graph, LeadsTo("BtoX", lambda s: s == "b", lambda s: False))
    assert not never.holds
    assert never.trace.meta["loop"] == len(never.trace.steps) == 2
    assert_lasso(model, never.trace, lambda s: False)


def test_deadlock_is_found_when_the_model_declares_it():
    model = Tiny([("a", "Step", "b"), ("b", "Step", "c"), ("a", "Spin", "a")], deadlock=True)
    graph = state_graph(model)
    results = check_liveness(model, graph)
    assert [(r.name, r.holds) for r in results] == [("Deadlock", False)]
    assert [s.state for s in results[0].trace.steps] == ["b", "c"]
    assert check_deadlock(Tiny(LOOPING), state_graph(Tiny(LOOPING))).holds
    assert check_liveness(Tiny(LOOPING), state_graph(Tiny(LOOPING))) == []  # not declared


def test_symmetry_is_refused():
    model = RaftElection(2, 1)
    with pytest.raises(ElectkitError, match="not checked under symmetry"):
        check_liveness(model, state_graph(model, symmetry=True))


# --- Raft ---------------------------------------------------------------------------------
def has_leader(state) -> bool:
    return leader_elected(state.locals, state.history)


@pytest.mark.parametrize(("servers", "max_term"), [(2, 1), (2, 2), (3, 1)])
def test_raft_liveness_verdicts(servers, max_term, tmp_path):
    model = RaftElection(servers, max_term)
    results = {r.name: r for r in check_liveness(model, state_graph(model))}
    assert {name: r.holds for name, r in results.items()} == {
        "LeaderPossibleWhileTermsRemain": True,
        "EventuallyLeader": False,
        "EventuallyLeaderFair": False,
        "EventuallyLeaderOrTermsExhausted": True,
    }
    props = {p.name: p for p in model.liveness_properties()}
    for name in ("EventuallyLeader", "EventuallyLeaderFair"):
        # Through an ITF file and back: the lasso is a real trace of the model.
        path = write_trace(results[name].trace, tmp_path / f"{name}.itf.json")
        back = read_trace(path)
        assert back.meta["loop"] == results[name].trace.meta["loop"]
        assert_lasso(model, back, has_leader, props[name].fairness)


def test_raft_lassos_say_why():
    model = RaftElection(2, 1)
    results = {r.name: r for r in check_liveness(model, state_graph(model))}
    # No fairness: a server may crash forever before any timer fires.
    assert [s.label() for s in results["EventuallyLeader"].trace.steps] == ["Restart(s=1)"]
    # Fair timeouts and deliveries, restarts allowed: the candidate crashes and loses its vote.
    fair = results["EventuallyLeaderFair"].trace.steps
    assert [s.label() for s in fair[:2]] == ["Timeout(s=1)", "Restart(s=1)"]
    # Without restarts: fair timeouts and deliveries still end in a split vote at the last term.
    model = RaftElection(2, 1, restart=False)
    results = {r.name: r for r in check_liveness(model, state_graph(model))}
    split = results["EventuallyLeaderFair"].trace
    assert [s.label() for s in split.steps[:2]] == ["Timeout(s=1)", "Timeout(s=2)"]
    last = split.steps[-1].state
    assert all(srv.role == "candidate" and srv.term == 1 for srv in last.locals)
    # Without restarts and without fairness: the granted vote is never delivered (loss).
    loss = results["EventuallyLeader"].trace
    assert [s.label() for s in loss.steps[:2]] == [
        "Timeout(s=1)",
        "Receive(m=RequestVote(t1, 1->2))",
    ]
    assert any(m.kind == "Vote" and m.granted for m in loss.steps[-1].state.net)


def leader_reachable(model, state) -> bool:
    """Breadth-first search in the model itself, not on the graph."""
    seen, queue = {state}, deque([state])
    while queue:
        s = queue.popleft()
        if has_leader(s):
            return True
        for step in model.steps(s):
            if step.state not in seen:
                seen.add(step.state)
                queue.append(step.state)
    return False


def test_always_possibly_fails_where_no_fresh_term_is_left():
    model = RaftElection(2, 1)
    # "Some server is below the last term" is too weak: that server may only reach a term
    # in which the other already voted for itself.
    prop = AlwaysPossibly(
        "Weak", has_leader, lambda s: any(srv.term < model.max_term for srv in s.locals)
    )
    result = check_property(model, state_graph(model), prop)
    assert not result.holds
    assert [s.label() for s in result.trace.steps] == ["Timeout(s=1)", "Restart(s=1)"]
    assert not leader_reachable(model, result.trace.steps[-1].state)


def test_cli_liveness_writes_lassos(tmp_path, capsys):
    argv = ["graph", "--servers", "2", "--max-term", "1", "--liveness"]
    assert main([*argv, "--trace-out", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "eventually EventuallyLeader: FAILS" in out
    assert "always_possibly LeaderPossibleWhileTermsRemain: holds" in out
    written = sorted(p.name for p in tmp_path.iterdir())
    assert written == [
        "raft_election-EventuallyLeader.itf.json",
        "raft_election-EventuallyLeaderFair.itf.json",
    ]
    assert main([*argv, "--symmetry"]) == 2
    assert "not checked under symmetry" in capsys.readouterr().err


def test_check_liveness_and_the_lasso_page(tmp_path):
    import subprocess

    from tests.conftest import ELECTKIT

    proc = subprocess.run(
        [ELECTKIT, "check", "--servers", "2", "--max-term", "1", "--liveness"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    assert "always_possibly LeaderPossibleWhileTermsRemain: holds" in proc.stdout
    assert "eventually EventuallyLeader: FAILS" in proc.stdout
    lasso = Path(
        re.search(r"lasso of \d+ steps written to (\S+EventuallyLeaderFair\S+)", proc.stdout).group(
            1
        )
    )
    assert lasso.is_file() and not (tmp_path / "traces").exists()
    picture = tmp_path / "graph.svg"
    assert (
        subprocess.run(
            [ELECTKIT, "graph", "--servers", "2", "--max-term", "1", "-o", str(picture)],
            cwd=tmp_path,
            capture_output=True,
        ).returncode
        == 0
    )
    page = tmp_path / "lasso.html"
    shown = subprocess.run(
        [ELECTKIT, "view", str(lasso), "-o", str(page), "--graph", str(picture)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 0, shown.stderr
    html = page.read_text()
    assert "the cycle starts here" in html and "href='graph.svg'" in html
