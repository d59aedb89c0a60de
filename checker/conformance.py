"""The conformance adapter for raft_election: the one place that knows both sides.

Model action -> implementation event:

=====================  ==================================================================
model                  implementation
=====================  ==================================================================
``Timeout(s)``         ``nodes[s].on_election_timeout()``
``Heartbeat(s)``       ``nodes[s].on_heartbeat_timer()``
``Restart(s)``         the node object is discarded and rebuilt from its durable storage,
                       a real vote file in a real directory: ``Node(s, peers, store.load())``
``Receive(m)``         ``m`` encoded by ``impl.wire.Codec``, decoded again, and delivered:
                       ``nodes[m.dst].on_message(codec.decode(codec.encode(m)))``
=====================  ==================================================================

Implementation -> model (the abstraction function): each server's term, voted_for, role and
votes from ``node.snapshot()``; the messages a handler returned; and, read back from disk
after every step, the durable term and vote — a persist that the node forgot shows here at
once, not only at the next restart. The adapter persists what a handler asks *before* it
counts the messages as sent, as the server does.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from impl.messages import Heartbeat, RequestVote, Vote
from impl.node import Durable, Node
from impl.storage import VoteStore
from impl.wire import Codec
from spec.raft_election import HEARTBEAT, REQUEST_VOTE, VOTE, Message, Server

CLUSTER_ID = "electkit-replay"
CLUSTER_KEY = b"electkit-replay-key-32-bytes-long!"


def to_impl(m: Message):
    """The implementation's message for a model message."""
    if m.kind == REQUEST_VOTE:
        return RequestVote(m.term, m.src, m.dst)
    if m.kind == VOTE:
        return Vote(m.term, m.src, m.dst, bool(m.granted))
    return Heartbeat(m.term, m.src, m.dst)


def to_model(msg) -> Message:
    """The model's message for an implementation message."""
    if isinstance(msg, RequestVote):
        return Message(REQUEST_VOTE, msg.term, msg.src, msg.dst)
    if isinstance(msg, Vote):
        return Message(VOTE, msg.term, msg.src, msg.dst, msg.granted)
    if isinstance(msg, Heartbeat):
        return Message(HEARTBEAT, msg.term, msg.src, msg.dst)
    raise TypeError(f"not a message of the implementation: {msg!r}")


def default_data_root() -> str | None:
    """tmpfs when the machine has one (fsync stays on; it is just cheap there)."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None


@dataclass(frozen=True)
class Observed:
    """What the implementation did in one step, in the model's terms, and what it told the
    application: the leadership notifications of the acting server and every server's known
    leader (state the model does not have, checked against what the model implies)."""

    servers: tuple[Server, ...]
    durable: tuple[tuple[int, int | None], ...]
    sends: frozenset[Message]
    leaders: tuple[int | None, ...] = ()
    notified: dict[str, bool] | None = None  # became_leader, stepped_down, reset_election_timer


class RaftCluster:
    """N real nodes with real vote files, driven one model action at a time."""

    def __init__(
        self, servers: int, data_root: str | None = None, node_class: type[Node] = Node
    ) -> None:
        self.node_class = node_class  # a mutant's class, for `electkit mutate` and its tests
        self.ids = list(range(1, servers + 1))
        self._tmp = tempfile.TemporaryDirectory(prefix="electkit-replay-", dir=data_root)
        root = Path(self._tmp.name)
        self.stores = {s: VoteStore(root / f"node{s}") for s in self.ids}
        self.codec = Codec(CLUSTER_ID, CLUSTER_KEY, self.ids)
        self.nodes = {s: node_class(s, self.ids, self.stores[s].load()) for s in self.ids}
        self.notified: dict[str, bool] | None = None

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self) -> RaftCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def apply(self, action: str, params: dict[str, Any]) -> frozenset[Message]:
        """Carry out one model action on the implementation; returns the messages sent."""
        if action == "Restart":
            s = params["s"]
            self.nodes[s] = self.node_class(s, self.ids, self.stores[s].load())
            self.notified = None
            return frozenset()
        if action == "Timeout":
            s = params["s"]
            out = self.nodes[s].on_election_timeout()
        elif action == "Heartbeat":
            s = params["s"]
            out = self.nodes[s].on_heartbeat_timer()
        elif action == "Receive":
            m = params["m"]
            s = m.dst
            delivered = self.codec.decode(self.codec.encode(to_impl(m)))
            out = self.nodes[s].on_message(delivered)
        else:
            raise ValueError(f"no implementation event for model action {action!r}")
        if out.persist is not None:
            self.stores[s].save(out.persist)  # durable before anything is sent
        self.notified = {
            "became_leader": out.became_leader,
            "stepped_down": out.stepped_down,
            "reset_election_timer": out.reset_election_timer,
        }
        return frozenset(to_model(msg) for msg in out.send)

    def observe(self, sends: frozenset[Message]) -> Observed:
        """The abstraction function: the implementation's state in the model's terms."""
        servers, durable = [], []
        for s in self.ids:
            snap = self.nodes[s].snapshot()
            servers.append(Server(snap.term, snap.voted_for, str(snap.role), frozenset(snap.votes)))
            stored: Durable = self.stores[s].load()
            durable.append((stored.term, stored.voted_for))
        leaders = tuple(self.nodes[s].snapshot().leader for s in self.ids)
        return Observed(tuple(servers), tuple(durable), sends, leaders, self.notified)
