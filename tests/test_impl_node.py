"""The sans-IO node: each handler is exactly one docs/model.md action."""

from __future__ import annotations

import ast
import doctest
import importlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impl.errors import MessageError
from impl.messages import Heartbeat, Message, RequestVote, Vote
from impl.node import Durable, Node, Output, Role

IMPL = Path(__file__).resolve().parent.parent / "impl"


def fresh(node_id: int = 1, n: int = 3, term: int = 0, voted_for: int | None = None) -> Node:
    return Node(node_id, range(1, n + 1), Durable(term, voted_for))


def state(node: Node) -> tuple:
    s = node.snapshot()
    return (s.term, s.voted_for, str(s.role), s.votes)


def test_construction_is_restart_from_storage() -> None:
    s = fresh(2, term=5, voted_for=3).snapshot()
    assert (s.id, s.term, s.voted_for, s.role, s.votes, s.leader) == (
        2,
        5,
        3,
        Role.FOLLOWER,
        frozenset(),
        None,
    )


def test_timeout_starts_election_and_persists_before_requests() -> None:
    node = fresh(1, n=3, term=2)
    out = node.on_election_timeout()
    assert out.persist == Durable(3, 1)
    assert set(out.send) == {RequestVote(3, 1, 2), RequestVote(3, 1, 3)}
    assert state(node) == (3, 1, "candidate", frozenset({1}))
    assert out.reset_election_timer and not out.became_leader


def test_timeout_of_a_cluster_of_one_elects_at_once() -> None:
    node = Node(1, [], Durable(0, None))
    out = node.on_election_timeout()
    assert out.became_leader and out.send == ()
    assert state(node) == (1, 1, "leader", frozenset({1}))


def test_leader_ignores_timeout_and_others_ignore_heartbeat_timer() -> None:
    node = fresh(1)
    assert node.on_heartbeat_timer() == Output()
    node.on_election_timeout()
    assert node.on_heartbeat_timer() == Output()  # candidate
    node.on_message(Vote(1, 2, 1, True))
    before = state(node)
    assert node.on_election_timeout() == Output()
    assert state(node) == before
    assert set(node.on_heartbeat_timer().send) == {Heartbeat(1, 1, 2), Heartbeat(1, 1, 3)}


def test_majority_of_votes_elects_and_broadcasts_heartbeat() -> None:
    node = fresh(1, n=5)
    node.on_election_timeout()
    assert not node.on_message(Vote(1, 2, 1, True)).became_leader
    assert not node.on_message(Vote(1, 2, 1, True)).became_leader  # duplicate counts once
    assert not node.on_message(Vote(1, 3, 1, False)).became_leader  # refusal
    out = node.on_message(Vote(1, 4, 1, True))
    assert out.became_leader and out.persist is None
    assert set(out.send) == {Heartbeat(1, 1, p) for p in (2, 3, 4, 5)}
    snap = node.snapshot()
    assert (snap.role, snap.votes, snap.leader) == (Role.LEADER, frozenset({1, 2, 4}), 1)


def test_stale_vote_is_not_counted() -> None:
    node = fresh(1, n=3, term=4)
    node.on_election_timeout()  # term 5
    out = node.on_message(Vote(4, 2, 1, True))
    assert out == Output() and state(node) == (5, 1, "candidate", frozenset({1}))


def test_grant_once_per_term_and_regrant_same_candidate() -> None:
    node = fresh(3, n=3, term=1)
    out = node.on_message(RequestVote(2, 1, 3))
    assert out.persist == Durable(2, 1) and out.send == (Vote(2, 3, 1, True),)
    assert out.reset_election_timer
    again = node.on_message(RequestVote(2, 1, 3))  # duplicate: granted again, nothing to store
    assert again.persist is None and again.send == (Vote(2, 3, 1, True),)
    other = node.on_message(RequestVote(2, 2, 3))
    assert other.persist is None and other.send == (Vote(2, 3, 2, False),)
    assert not other.reset_election_timer
    assert state(node) == (2, 1, "follower", frozenset())


def test_stale_request_gets_refusal_in_receivers_term() -> None:
    node = fresh(2, n=3, term=7)
    out = node.on_message(RequestVote(3, 1, 2))
    assert out.send == (Vote(7, 2, 1, False),) and out.persist is None


def test_higher_term_makes_leader_step_down_and_clears_vote() -> None:
    node = fresh(1, n=3)
    node.on_election_timeout()
    node.on_message(Vote(1, 2, 1, True))
    out = node.on_message(Heartbeat(3, 2, 1))
    assert out.stepped_down and out.persist == Durable(3, None)
    assert state(node) == (3, None, "follower", frozenset())
    assert node.snapshot().leader == 2


def test_higher_term_refused_vote_still_adopts_term() -> None:
    node = fresh(1, n=3)
    node.on_election_timeout()
    out = node.on_message(Vote(5, 2, 1, False))
    assert out.persist == Durable(5, None) and out.send == ()
    assert state(node) == (5, None, "follower", frozenset())


def test_current_term_heartbeat_turns_candidate_into_follower() -> None:
    node = fresh(1, n=3)
    node.on_election_timeout()
    out = node.on_message(Heartbeat(1, 3, 1))
    assert out.persist is None and out.reset_election_timer
    assert state(node) == (1, 1, "follower", frozenset())
    assert node.snapshot().leader == 3


def test_stale_heartbeat_is_ignored() -> None:
    node = fresh(1, n=3, term=4)
    assert node.on_message(Heartbeat(3, 2, 1)) == Output()
    assert node.snapshot().leader is None


def test_misaddressed_or_unknown_sender_is_ignored() -> None:
    node = fresh(1, n=3)
    assert node.on_message(RequestVote(9, 2, 3)) == Output()
    assert node.on_message(RequestVote(9, 7, 1)) == Output()
    assert state(node) == (0, None, "follower", frozenset())


def test_bad_construction_is_refused() -> None:
    with pytest.raises(MessageError, match="names no server"):
        Node(1, [2, 3], Durable(3, 9))
    with pytest.raises(MessageError):
        Node(0, [2], Durable(0, None))
    with pytest.raises(MessageError, match="cannot handle"):
        fresh().on_message("hello")  # type: ignore[arg-type]



# The node is embeddable (the API is public): each of its checks holds on its own, whatever
# storage and the codec already refuse before it.
@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Durable(-1, None), r"Durable\.term must be an int >= 0, got -1"),
        (lambda: Durable(True, None), r"Durable\.term must be an int >= 0, got True"),
        (lambda: Durable("3", None), r"Durable\.term must be an int >= 0, got '3'"),
        (lambda: Durable(1, 0), r"Durable\.voted_for must be None or an int >= 1, got 0"),
        (lambda: Durable(1, True), r"Durable\.voted_for must be None or an int >= 1, got True"),
        (lambda: Durable(1, "2"), r"Durable\.voted_for must be None or an int >= 1, got '2'"),
        (lambda: Node(0, [2], Durable(0, None)), "node id must be an int >= 1, got 0"),
        (lambda: Node(True, [2], Durable(0, None)), "node id must be an int >= 1, got True"),
        (lambda: Node("1", [2], Durable(0, None)), "node id must be an int >= 1, got '1'"),
        (lambda: Node(1, [2, 0], Durable(0, None)), "node 1: peer ids must be ints >= 1, got 0"),
        (lambda: Node(1, ["2"], Durable(0, None)), "node 1: peer ids must be ints >= 1, got '2'"),
        (lambda: Node(1, [2], (0, None)), r"node 1: durable must be a Durable, got \(0, None\)"),
        (lambda: Node(1, [2, 3], Durable(3, 9)), "node 1: stored vote for 9 in term 3 names no"),
    ],
)
def test_each_bad_construction_is_refused_by_name(build, message) -> None:
    with pytest.raises(MessageError, match=message):
        build()


def test_the_smallest_good_construction_is_accepted() -> None:
    assert Durable(0, None).term == 0 and Durable(0, 1).voted_for == 1
    node = Node(1, [1, 2], Durable(0, 1))  # its own id among the peers; a vote for itself
    assert node.snapshot().voted_for == 1 and node.is_quorum(frozenset({1, 2}))
    assert not node.is_quorum(frozenset({1}))
    assert Node(1, [2], Durable(4, 2)).durable() == Durable(4, 2)


def test_a_message_of_no_known_type_is_refused_naming_the_node() -> None:
    with pytest.raises(MessageError, match=r"node 1 \(role=follower, term=0\) cannot handle 'x'"):
        fresh().on_message("x")  # type: ignore[arg-type]


def test_a_message_is_ignored_unless_to_this_node_and_from_a_peer() -> None:
    node = fresh(1, n=3)
    assert node.on_message(RequestVote(5, 2, 3)) == Output()  # from a peer, to another
    assert node.on_message(RequestVote(5, 4, 1)) == Output()  # to us, from a stranger
    assert state(node) == (0, None, "follower", frozenset())
    assert node.on_message(RequestVote(5, 2, 1)).persist == Durable(5, 2)

# ---- an in-memory cluster, driven by random schedules (a docs/model.md net: nothing is removed) --


def _net_step(
    nodes: dict[int, Node], net: list[Message], elected: set, stores: dict, choice: int, pick: int
) -> None:
    ids = sorted(nodes)
    node_id = ids[pick % len(ids)]
    if choice == 0:
        out = nodes[node_id].on_election_timeout()
    elif choice == 1:
        out = nodes[node_id].on_heartbeat_timer()
    elif choice == 2:
        nodes[node_id] = Node(node_id, ids, stores[node_id])
        return
    else:
        if not net:
            return
        msg = net[pick % len(net)]
        out = nodes[msg.dst].on_message(msg)
        node_id = msg.dst
    if out.persist is not None:
        stores[node_id] = out.persist
    assert nodes[node_id].durable() == stores[node_id], "a durable change was not persisted"
    net.extend(m for m in out.send if m not in net)
    snap = nodes[node_id].snapshot()
    if out.became_leader:
        elected.add((snap.term, node_id))


@settings(max_examples=150, deadline=None)
@given(
    n=st.integers(1, 5),
    steps=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 99)), max_size=80),
)
def test_random_schedules_keep_election_safety_and_lemmas(n: int, steps: list) -> None:
    ids = list(range(1, n + 1))
    stores = {i: Durable(0, None) for i in ids}
    nodes = {i: Node(i, ids, stores[i]) for i in ids}
    net: list[Message] = []
    elected: set[tuple[int, int]] = set()
    for choice, pick in steps:
        _net_step(nodes, net, elected, stores, min(choice, 3), pick)
        snaps = {i: nodes[i].snapshot() for i in ids}
        pairs = elected | {(s.term, i) for i, s in snaps.items() if s.role is Role.LEADER}
        terms = [t for t, _ in pairs]
        assert len(terms) == len(set(terms)), f"two leaders in one term: {pairs}"
        for i, s in snaps.items():
            if s.role is Role.FOLLOWER:
                assert s.votes == frozenset()
            else:
                assert s.voted_for == i
            if s.role is Role.LEADER:
                assert 2 * len(s.votes) > n and (s.term, i) in elected
        for m in net:
            assert m.term <= snaps[m.src].term
            if isinstance(m, Vote) and m.granted:
                v = snaps[m.src]
                assert v.term > m.term or v.voted_for == m.dst


def test_impl_node_imports_no_io() -> None:
    tree = ast.parse((IMPL / "node.py").read_text())
    imported = {
        a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
    }
    imported |= {
        n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
    }
    assert not imported & {"asyncio", "socket", "time", "os", "io", "pathlib", "selectors"}


def test_impl_imports_neither_spec_nor_checker() -> None:
    for path in IMPL.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for n in ast.walk(tree):
            names = (
                [a.name for a in n.names]
                if isinstance(n, ast.Import)
                else [n.module or ""]
                if isinstance(n, ast.ImportFrom)
                else []
            )
            for name in names:
                assert name.split(".")[0] not in {"spec", "checker"}, f"{path} imports {name}"


@pytest.mark.parametrize("module", ["messages", "node", "storage", "wire", "eventlog", "faults"])
def test_docstring_examples_run(module: str) -> None:
    result = doctest.testmod(importlib.import_module(f"impl.{module}"))
    assert result.failed == 0 and result.attempted > 0
