"""The sans-IO Raft election node: one handler call is one action of docs/model.md.

The node is a pure state machine in the manner of h11: it never touches a socket, a clock or a
file. Each handler takes one event and returns an :class:`Output` saying what to persist and
what to send; the caller must make ``persist`` durable before any message of ``send`` leaves,
because a vote or a term that was sent but not stored could be forgotten by a crash, and the
node could then vote twice in one term.

=========================  ======================================================
docs/model.md action            call
=========================  ======================================================
Timeout(s)                 ``node.on_election_timeout()``
Heartbeat(s)               ``node.on_heartbeat_timer()``
Restart(s)                 ``Node(s, peers, store.load())`` (a fresh object)
Receive(m)                 ``nodes[m.dst].on_message(m)``
=========================  ======================================================

The model's bound ``max_term`` is not the node's business: a real node always times out.

>>> n = Node(1, [2, 3], Durable(0, None))
>>> out = n.on_election_timeout()
>>> out.persist, sorted(m.dst for m in out.send)
(Durable(term=1, voted_for=1), [2, 3])
>>> n.on_message(Vote(1, 2, 1, True)).became_leader
True
>>> n.snapshot().role
<Role.LEADER: 'leader'>
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from impl.errors import MessageError
from impl.messages import Heartbeat, Message, RequestVote, Vote


class Role(StrEnum):
    """A server's role; a StrEnum, so ``role == "leader"`` holds for the leader."""

    FOLLOWER = "follower"
    CANDIDATE = "candidate"
    LEADER = "leader"


@dataclass(frozen=True, slots=True)
class Durable:
    """What a server must never forget: its term and its vote in that term."""

    term: int
    voted_for: int | None

    def __post_init__(self) -> None:
        if type(self.term) is not int or self.term < 0:
            raise MessageError(f"Durable.term must be an int >= 0, got {self.term!r}")
        if self.voted_for is not None and (type(self.voted_for) is not int or self.voted_for < 1):
            raise MessageError(f"Durable.voted_for must be None or an int >= 1, "
                               f"got {self.voted_for!r}")


@dataclass(frozen=True, slots=True)
class Output:
    """What one handler call asks of its caller.

    ``persist``: the new durable state, or None when term and vote did not change; it must be
    durable before any of ``send`` leaves. ``send``: the messages, in no meaningful order.
    ``became_leader`` / ``stepped_down``: leadership changed in this call (for callbacks).
    ``reset_election_timer``: Raft §5.2 restarts the election timer when the server hears
    from the current leader, grants a vote, or starts an election.
    """

    persist: Durable | None = None
    send: tuple[Message, ...] = ()
    became_leader: bool = False
    stepped_down: bool = False
    reset_election_timer: bool = False


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """A read-only snapshot of a node: the modelled fields plus the leader it knows."""

    id: int
    term: int
    voted_for: int | None
    role: Role
    votes: frozenset[int]
    leader: int | None

    def to_dict(self) -> dict[str, object]:
        """The JSON view used by /status and the event log."""
        return {"id": self.id, "term": self.term, "voted_for": self.voted_for,
                "role": str(self.role), "votes": sorted(self.votes), "leader": self.leader}


class Node:
    """One server's election state machine (Raft §5.2, docs/model.md).

    Parameters: ``node_id`` (an int >= 1), ``peers`` (the ids of the other servers; the node's
    own id may be included and is ignored), ``durable`` (what storage recovered). Building a
    node *is* the Restart action: role follower, no votes, term and vote from ``durable``.

    Known limitation: a message whose ``dst`` is not this node or whose ``src`` is not a peer is
    ignored (empty Output); the codec already refuses those off the wire.
    """

    __slots__ = ("_id", "_peers", "_size", "_term", "_voted_for", "_role", "_votes", "_leader")

    def __init__(self, node_id: int, peers: Iterable[int], durable: Durable) -> None:
        if type(node_id) is not int or node_id < 1:
            raise MessageError(f"node id must be an int >= 1, got {node_id!r}")
        others = frozenset(peers) - {node_id}
        for peer in others:
            if type(peer) is not int or peer < 1:
                raise MessageError(f"node {node_id}: peer ids must be ints >= 1, got {peer!r}")
        if not isinstance(durable, Durable):
            raise MessageError(f"node {node_id}: durable must be a Durable, got {durable!r}")
        if durable.voted_for is not None and durable.voted_for not in others | {node_id}:
            raise MessageError(f"node {node_id}: stored vote for {durable.voted_for} in term "
                               f"{durable.term} names no server of the cluster")
        self._id = node_id
        self._peers = tuple(sorted(others))
        self._size = len(others) + 1
        self._term = durable.term
        self._voted_for = durable.voted_for
        self._role = Role.FOLLOWER
        self._votes: frozenset[int] = frozenset()
        self._leader: int | None = None

    # -- queries -------------------------------------------------------------------------
    @property
    def id(self) -> int:
        """This server's id."""
        return self._id

    def snapshot(self) -> NodeStatus:
        """The current state, frozen."""
        return NodeStatus(self._id, self._term, self._voted_for, self._role, self._votes,
                          self._leader)

    def durable(self) -> Durable:
        """The current durable part of the state."""
        return Durable(self._term, self._voted_for)

    def is_quorum(self, members: frozenset[int]) -> bool:
        """Whether ``members`` is a majority of the cluster (2·|Q| > N)."""
        return 2 * len(members) > self._size

    # -- events ----------------------------------------------------------------------------
    def on_election_timeout(self) -> Output:
        """docs/model.md Timeout: start an election in the next term (ignored by a leader)."""
        if self._role is Role.LEADER:
            return Output()
        self._term += 1
        self._role = Role.CANDIDATE
        self._voted_for = self._id
        self._votes = frozenset({self._id})
        self._leader = None
        send: list[Message] = [RequestVote(self._term, self._id, p) for p in self._peers]
        became = False
        if self.is_quorum(self._votes):  # a cluster of one elects itself at once
            send += self._become_leader()
            became = True
        return Output(persist=self.durable(), send=tuple(send), became_leader=became,
                      reset_election_timer=True)

    def on_heartbeat_timer(self) -> Output:
        """docs/model.md Heartbeat: a leader broadcasts a Heartbeat; anyone else does nothing."""
        if self._role is not Role.LEADER:
            return Output()
        return Output(send=tuple(Heartbeat(self._term, self._id, p) for p in self._peers))

    def on_message(self, msg: Message) -> Output:
        """docs/model.md Receive(msg): the higher-term rule first, then the message's own rule."""
        handler = _HANDLERS.get(type(msg))
        if handler is None:
            raise MessageError(f"node {self._id} (role={self._role}, term={self._term}) cannot "
                               f"handle {msg!r}; valid: {', '.join(t.__name__ for t in _HANDLERS)}")
        if msg.dst != self._id or msg.src not in self._peers:
            return Output()
        before = self.durable()
        was_leader = self._role is Role.LEADER
        if msg.term > self._term:
            self._term = msg.term
            self._voted_for = None
            self._role = Role.FOLLOWER
            self._votes = frozenset()
            self._leader = None
        send, became, reset = handler(self, msg)
        after = self.durable()
        return Output(persist=after if after != before else None, send=send,
                      became_leader=became,
                      stepped_down=was_leader and self._role is not Role.LEADER,
                      reset_election_timer=reset)

    # -- the per-message rules: each returns (send, became_leader, reset_election_timer) ------
    def _on_request_vote(self, msg: RequestVote) -> tuple[tuple[Message, ...], bool, bool]:
        grant = msg.term == self._term and self._voted_for in (None, msg.src)
        if grant:
            self._voted_for = msg.src
        return (Vote(self._term, self._id, msg.src, grant),), False, grant

    def _on_vote(self, msg: Vote) -> tuple[tuple[Message, ...], bool, bool]:
        if msg.term == self._term and self._role is Role.CANDIDATE and msg.granted:
            self._votes = self._votes | {msg.src}
            if self.is_quorum(self._votes):
                return self._become_leader(), True, False
        return (), False, False

    def _on_heartbeat(self, msg: Heartbeat) -> tuple[tuple[Message, ...], bool, bool]:
        if msg.term != self._term or self._role is Role.LEADER:
            # A same-term Heartbeat at a leader would mean two leaders in one term: ignore it,
            # as docs/model.md does; ElectionSafety says it cannot happen.
            return (), False, False
        if self._role is Role.CANDIDATE:
            self._role = Role.FOLLOWER
            self._votes = frozenset()
        self._leader = msg.src
        return (), False, True

    def _become_leader(self) -> tuple[Message, ...]:
        self._role = Role.LEADER
        self._leader = self._id
        return tuple(Heartbeat(self._term, self._id, p) for p in self._peers)


_Rule = Callable[[Node, Message], tuple[tuple[Message, ...], bool, bool]]
# The transition table: message type -> rule (h11 style); role checks live in each rule.
_HANDLERS: dict[type, _Rule] = {
    RequestVote: Node._on_request_vote,  # type: ignore[dict-item]
    Vote: Node._on_vote,  # type: ignore[dict-item]
    Heartbeat: Node._on_heartbeat,  # type: ignore[dict-item]
}
