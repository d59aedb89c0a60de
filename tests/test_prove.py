"""Tests of the unbounded proof: spec/raft_logic.py, the Raft bundle's proof, `electkit prove`."""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import combinations

import pytest
import z3

from checker.protocols.raft_election import proof as P
from checker.search.explore import explore
from checker.traces import read_trace, write_trace
from spec import raft_logic as L
from spec.model import Property
from spec.raft_election import LEADER, VOTE, RaftElection

FAULTY_BY_INDUCTION = ["grant_without_check", "stale_votes", "volatile_vote", "no_step_down"]


@pytest.fixture(scope="module")
def correct_checks() -> list[P.Check]:
    return P.prove_invariant()


def test_correct_model_is_proved(correct_checks):
    assert all(c.verdict == "ok" for c in correct_checks)
    # every lemma checked initially and after every action
    expected = {(n, a) for n in L.LEMMAS for a in L.ACTIONS}
    assert {(c.lemma, c.action) for c in correct_checks if c.kind != "init"} == expected
    assert {c.lemma for c in correct_checks if c.kind == "init"} == set(L.LEMMAS)
    assert all(c.seconds >= 0 for c in correct_checks)


def test_helpers_and_extras_partition_the_lemmas():
    assert L.HELPERS[0] == "ElectionSafety"
    assert set(L.HELPERS) | set(L.EXTRAS) == set(L.LEMMAS)
    assert not set(L.HELPERS) & set(L.EXTRAS)


@pytest.mark.parametrize("lemma", L.HELPERS[1:])
def test_dropping_a_helper_gives_a_cti(lemma):
    checks = P.prove_invariant(drop=[lemma])
    failed = [c for c in checks if c.verdict != "ok"]
    assert failed, f"{lemma} is not needed: the invariant is not minimal"
    first = failed[0]
    assert first.verdict == "cti" and first.cti is not None
    assert first.cti["lemma"] == first.lemma and first.cti["action"] == first.action
    assert first.action in L.ACTIONS
    assert first.lemma != lemma  # the dropped lemma is no longer checked
    text = P.render_cti(first.cti)
    assert f"CTI: {first.lemma} fails after {first.action}" in text
    assert "before:" in text and "after (what changed):" in text


@pytest.mark.parametrize("variant", FAULTY_BY_INDUCTION)
def test_faulty_variant_has_a_cti(variant):
    checks = P.prove_invariant(variant=variant, shrink=False)
    assert any(c.verdict == "cti" for c in checks)


def test_quorum_off_by_one_breaks_only_the_majority_check():
    assert all(c.verdict == "ok" for c in P.prove_invariant(variant="quorum_off_by_one"))
    result = P.majority_check("quorum_off_by_one")
    assert not result.holds and result.smallest_n == 2
    a, b = result.witness
    assert not set(a) & set(b) and 2 * len(a) >= 2 and 2 * len(b) >= 2


def test_majority_check_holds_for_majorities():
    result = P.majority_check(None)
    assert result.holds and result.smallest_n is None


def test_cti_is_shrunk_to_a_small_universe():
    checks = P.prove_invariant(drop=["GrantsAreUnique"])
    cti = next(c.cti for c in checks if c.cti is not None)
    assert len(cti["servers"]) <= 3 and len(cti["terms"]) <= 2
    # the failure needs one server granting two candidates; the rest of the net is removed
    assert len(cti["before"]["net"]) <= 4


def test_nonvacuity():
    results = P.nonvacuity()
    assert [c.lemma for c in results] == ["LeaderReachable"] + [f"Enabled({a})" for a in L.ACTIONS]
    assert all(c.verdict == "ok" for c in results)


def test_nonvacuity_detects_a_disabled_action():
    # a sanity check of the check: with a contradictory guard, the action is never enabled
    d = L.Unbounded()
    pre, post = L.make_state(""), L.make_state("'")
    relation, _ = L.ACTIONS["Heartbeat"].instantiate(d, pre, post)
    solver = z3.Solver()
    s = z3.Const("s", L.Node)
    solver.add(*d.axioms(), relation, z3.ForAll([s], pre.role(s) != L.LEADER))
    assert solver.check() == z3.unsat


@pytest.mark.parametrize("variant", L.VARIANTS)
def test_bmc_finds_a_two_leader_trace_that_replays(variant, tmp_path):
    result = P.bmc(variant, max_depth=8)
    assert result.found
    trace = P.bmc_trace(result)  # replays in the explicit model; raises if a step is not enabled
    model = trace.model
    safety = next(p for p in model.properties() if p.name == "ElectionSafety")
    assert safety.holds(trace.states[-2]) and not safety.holds(trace.states[-1])
    path = write_trace(trace, tmp_path / f"{variant}.itf.json")
    again = read_trace(path)
    assert again.states == trace.states


def test_bmc_finds_no_violation_in_the_correct_model():
    result = P.bmc(None, max_depth=6)
    assert not result.found and result.queries > 0


def test_bmc_is_shortest_for_quorum_off_by_one():
    result = P.bmc("quorum_off_by_one", max_depth=4)
    assert (result.depth, result.servers) == (2, 2)
    assert [name for name, _ in result.actions] == ["Timeout", "Timeout"]


# --- the lemmas are true, not only inductive: concrete counterparts on every reachable state --
def _grants(state):
    return {(m.term, m.src, m.dst) for m in state.net if m.kind == VOTE and m.granted}


def _majority(voters, n):
    return 2 * len(voters) > n


def votes_are_granted(state):
    grants = _grants(state)
    return all(
        (srv.term, v, c) in grants
        for c, srv in enumerate(state.locals, 1)
        if srv.role != "follower"
        for v in srv.votes
        if v != c
    )


def grants_are_unique(state):
    seen = {}
    for t, v, c in _grants(state):
        if seen.setdefault((t, v), c) != c:
            return False
    return True


def elected_by_ghost_quorum(state):
    # the ghost quorum exists: the leader and its grantors in that term form a majority
    grants, n = _grants(state), len(state.locals)
    return all(
        _majority({s} | {v for (u, v, c) in grants if u == t and c == s}, n)
        for t, s in state.history
    )


def elected_granted_no_other(state):
    grants = _grants(state)
    return all(c == s for t, s in state.history for (u, v, c) in grants if u == t and v == s)


def one_vote_each(state):
    return all(srv.voted_for is None or isinstance(srv.voted_for, int) for srv in state.locals)


def one_term_each(state):
    return all(isinstance(srv.term, int) for srv in state.locals)


def leader_has_ghost_quorum(state):
    n = len(state.locals)
    return all(_majority(srv.votes, n) for srv in state.locals if srv.role == LEADER)


# Lemmas of the logic without a docs/model.md counterpart among the model's own invariants.
CONCRETE = {
    "VotesAreGranted": votes_are_granted,
    "GrantsAreUnique": grants_are_unique,
    "ElectedByGhostQuorum": elected_by_ghost_quorum,
    "ElectedGrantedNoOther": elected_granted_no_other,
    "OneVoteEach": one_vote_each,
    "OneTermEach": one_term_each,
    "LeaderHasQuorum": leader_has_ghost_quorum,
}


class WithLogicLemmas(RaftElection):
    """The reference model, with the logic-only lemmas as extra invariants."""

    def properties(self):
        return [*super().properties(), *(Property(n, "always", f) for n, f in CONCRETE.items())]


def test_every_lemma_has_a_concrete_counterpart():
    model = RaftElection(servers=2, max_term=1)
    names = {p.name for p in WithLogicLemmas(2, 1).properties()} | {
        p.name for p in model.properties()
    }
    assert set(L.LEMMAS) <= names


@pytest.mark.parametrize("servers,max_term", [(2, 2), (3, 1), (3, 2)])
def test_lemmas_hold_on_every_reachable_state(servers, max_term):
    # The compiled kernel evaluates the added lemmas on every decoded state (every orbit:
    # the lemmas are symmetric), so N=3,T=2 takes seconds, not the generic kernel's minutes.
    model = WithLogicLemmas(servers=servers, max_term=max_term)
    result = explore(model, symmetry=True)
    assert result.verdict == "ok", result.property
    # every orbit of the reachable states (docs/model.md's reference figures where it gives them)
    assert (
        result.distinct_states == {(2, 2): 263, (3, 1): 191, (3, 2): 151_784}[(servers, max_term)]
    )
    assert "LeaderElected" in result.witnessed


def test_concrete_counterparts_can_fail():
    # each counterpart flags the faulty variant that breaks it, so none is trivially true
    for variant, name in [
        ("grant_without_check", "GrantsAreUnique"),
        ("stale_votes", "VotesAreGranted"),
    ]:
        model = WithLogicLemmas(servers=3, max_term=2, variant=variant)
        result = explore(model, symmetry=True, properties=frozenset({name}))
        assert result.verdict == "violation" and result.property == name


def test_logic_lemmas_agree_with_counterparts_on_reachable_states():
    """The z3 formulas themselves, evaluated on real states of N=2, T=2 (finite domain)."""
    model = RaftElection(servers=2, max_term=2)
    states, frontier = set(model.init_states()), list(model.init_states())
    while frontier:
        nxt = []
        for state in frontier:
            for step in model.steps(state):
                if step.state not in states:
                    states.add(step.state)
                    nxt.append(step.state)
        frontier = nxt
    assert len(states) == 513
    d = L.Finite(2, 2)
    s = d.make_state("")
    plain = [n for n in L.LEMMAS if n not in ("LeaderHasQuorum", "ElectedByGhostQuorum")]
    formulas = {n: L.LEMMAS[n](d, s) for n in plain}
    solver = z3.Solver()
    solver.add(*d.axioms())
    for state in states:
        solver.push()
        solver.add([cell == value for cell, value in _interpretation(s, state)])
        for name, formula in formulas.items():
            solver.push()
            solver.add(z3.Not(formula))
            assert solver.check() == z3.unsat, (name, state)
            solver.pop()
        solver.pop()
    # and the check can fail: a state no run reaches breaks a lemma
    bad = next(iter(states))._replace(history=frozenset({(1, 1), (1, 2)}))
    solver.add([cell == value for cell, value in _interpretation(s, bad)])
    solver.add(z3.Not(formulas["ElectionSafety"]))
    assert solver.check() == z3.sat


def _interpretation(s, state):
    """The concrete state as values for the cells of a finite logic state."""
    roles = {"follower": L.FOLLOWER, "candidate": L.CANDIDATE, "leader": L.LEADER}
    rel_of = {
        ("RequestVote", None): "request_vote",
        ("Vote", True): "grant",
        ("Vote", False): "deny",
        ("Heartbeat", None): "heartbeat",
    }
    net = {(rel_of[(m.kind, m.granted)], m.term, m.src - 1, m.dst - 1) for m in state.net}
    values = []
    for name in L.SIGNATURE:
        table = getattr(s, name)
        if table is None:
            continue
        for idx, cell in table.cells.items():
            if name == "current":
                v = state.locals[idx[0]].term == idx[1]
            elif name == "role":
                values.append((cell, roles[state.locals[idx[0]].role]))
                continue
            elif name == "voted_for":
                v = state.locals[idx[0]].voted_for == idx[1] + 1
            elif name == "votes":
                v = idx[1] + 1 in state.locals[idx[0]].votes
            elif name == "elected":
                v = (idx[0], idx[1] + 1) in state.history
            else:
                v = (name, *idx) in net
            values.append((cell, z3.BoolVal(v)))
    return values


def test_quorum_intersection_axiom_matches_majorities_for_small_n():
    for n in range(1, 7):
        majorities = [set(q) for k in range(n + 1) for q in combinations(range(n), k) if 2 * k > n]
        assert all(a & b for a in majorities for b in majorities)


# --- the command ------------------------------------------------------------------------------
def _electkit(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "checker.cli.main", "prove", *args],
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_cli_proves_the_correct_model():
    out = _electkit("--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["verdict"] == "proved" and report["failed"] == []
    assert report["checks"] == len(L.LEMMAS) * (1 + len(L.ACTIONS))
    assert "ElectionSafety after ReceiveGrant" in out.stdout


def test_cli_variant_fails_with_cti_and_trace(tmp_path):
    path = tmp_path / "t.itf.json"
    out = _electkit("--variant", "grant_without_check", "--json", "--trace-out", str(path))
    assert out.returncode == 1, out.stderr
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["verdict"] == "cti" and report["failed"]
    assert report["failed"][0]["cti"]["action"] == "ReceiveRequestVote"
    assert report["bmc"]["found"] and report["trace"] == str(path)
    assert read_trace(path).meta["expect"] == "diverges"


def test_cli_drop_names_lemma_and_action():
    out = _electkit("--drop", "VotesAreGranted")
    assert out.returncode == 1
    assert "CTI: ElectionSafety fails after ReceiveGrant" in out.stdout


@pytest.mark.parametrize(
    "args,needle",
    [
        (["--variant", "nope"], "unknown variant 'nope'"),
        (["--drop", "Nope"], "unknown lemma 'Nope'"),
        (["--drop", "ElectionSafety"], "the property proved"),
        (["--depth", "0"], "--depth"),
    ],
)
def test_cli_bad_usage_is_one_line_exit_2(args, needle):
    out = _electkit(*args)
    assert out.returncode == 2
    assert needle in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_ctrl_c_interrupts_the_proof_instead_of_changing_its_answer():
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    electkit = str(Path(sys.executable).with_name("electkit"))
    proc = subprocess.Popen(
        [electkit, "prove", "--variant", "stale_votes", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    time.sleep(4)  # inside the BMC, which takes over ten seconds for this variant
    os.killpg(proc.pid, signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, (out[-500:], err)
    assert "interrupted" in err and "Traceback" not in err
