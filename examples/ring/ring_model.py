"""Chang and Roberts' ring election, as a model: the example protocol of docs/tutorial.md.

Servers 1..N sit on a ring; each sends only to the next one (N's next is 1). A server that
starts an election sends its own id around the ring. A server forwards an id larger than its
own, swallows a smaller one (or replaces it by its own, if it has not yet taken part), and a
server that gets its own id back has the largest id of all: it is the leader, and says so
around the ring. The network keeps every message ever sent (loss, duplication and reordering
for free), yet only the largest id can come back to its sender: at most one leader.

Written only through electkit's public API (spec/actor.py): a few handlers, a message type,
properties. Run it:

    electkit check --spec examples/ring/ring_bundle.py:BUNDLE --param servers=4
"""

from __future__ import annotations

from typing import NamedTuple

from spec.actor import ActorModel, Outcome

ELECT, ELECTED = "Elect", "Elected"


class Msg(NamedTuple):
    """``Elect`` carries a candidate's id around the ring; ``Elected`` announces the leader."""

    kind: str
    id: int
    src: int
    dst: int


class Node(NamedTuple):
    """One server: whether it takes part in the election, and whom it knows as leader."""

    participant: bool = False
    leader: int | None = None


class RingElection(ActorModel):
    """N servers on a ring elect the largest id (Chang and Roberts, 1979)."""

    name = "ring_election"
    message_type = Msg

    def __init__(self, servers: int = 3, variant: str | None = None) -> None:
        if servers < 1:
            raise ValueError(f"servers must be at least 1, got {servers}")
        self.servers = servers
        self.variant = variant  # "forward_smaller": a planted bug, for the tutorial

    def next(self, s: int) -> int:
        return s % self.servers + 1

    def init_local(self, s: int) -> Node:
        return Node()

    def local_actions(self):
        return (("Start", self.start),)

    def start(self, s: int, node: Node) -> Outcome | None:
        """``s`` starts an election: it sends its own id to the next server."""
        if node.participant:
            return None
        return Outcome(node._replace(participant=True), frozenset({self.elect(s, s)}))

    def elect(self, candidate: int, s: int) -> Msg:
        return Msg(ELECT, candidate, s, self.next(s))

    def receive(self, node: Node, m: Msg) -> Outcome:
        d = m.dst
        if m.kind == ELECTED:
            forward = frozenset() if m.id == d else frozenset({Msg(ELECTED, m.id, d, self.next(d))})
            return Outcome(node._replace(leader=m.id, participant=False), forward)
        if m.id == d:  # my id came all the way round: no id is larger
            return Outcome(node._replace(leader=d), frozenset({Msg(ELECTED, d, d, self.next(d))}))
        if m.id > d or self.variant == "forward_smaller":
            return Outcome(node._replace(participant=True), frozenset({self.elect(m.id, d)}))
        if not node.participant:
            return Outcome(node._replace(participant=True), frozenset({self.elect(d, d)}))
        return Outcome(node)  # a smaller id, and I already sent mine: swallow it

    def state_properties(self):
        return (
            ("OneLeader", "always", one_leader),
            ("LeaderIsLargest", "always", self.leader_is_largest),
            ("LeaderElected", "sometimes", leader_elected),
        )

    def leader_is_largest(self, nodes, history) -> bool:
        return all(node.leader in (None, self.servers) for node in nodes)


def one_leader(nodes, history) -> bool:
    """At most one server believes itself leader."""
    return sum(node.leader == s for s, node in enumerate(nodes, start=1)) <= 1


def leader_elected(nodes, history) -> bool:
    return any(node.leader == s for s, node in enumerate(nodes, start=1))
