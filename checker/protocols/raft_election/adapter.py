"""The conformance adapter of raft_election: the one place that knows both sides.

Model action -> implementation event:

=====================  ==================================================================
model                  implementation
=====================  ==================================================================
``Timeout(s)``         ``hosts[s].election_timeout()``
``Heartbeat(s)``       ``hosts[s].heartbeat_timer()``
``Restart(s)``         ``hosts[s].restart()``: the node object is discarded and rebuilt from
                       its durable storage, a real vote file in a real directory
``Receive(m)``         ``m`` encoded by ``impl.wire.Codec``, decoded again, and delivered:
                       ``hosts[m.dst].deliver(codec.decode(codec.encode(m)))``
=====================  ==================================================================

Implementation -> model (the abstraction function): each server's term, voted_for, role and
votes from ``node.snapshot()``, as the model's JSON view; the messages a handler returned;
and, as extra checks, the durable term and vote read back from disk after every step (a
persist that the node forgot shows at once, not only at the next restart), the leadership
notifications of the acting server and every server's leader hint. ``impl.host.NodeHost`` is
the server's own glue — persist (fsynced), then hand over what to send; restart = rebuild
from storage — so replay runs the server's code path, not a copy of it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from checker.conformance.adapter import MISMATCH, Difference
from impl.host import NodeHost
from impl.messages import Heartbeat, RequestVote, Vote
from impl.node import Durable, Node
from impl.storage import VoteStore
from impl.wire import Codec
from spec.model import Step
from spec.raft_election import HEARTBEAT, REQUEST_VOTE, VOTE, Message, RaftElection, Server

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


class RaftCluster:
    """N real nodes with real vote files, driven one model action at a time."""

    def __init__(
        self, servers: int, data_root: str | None = None, node_class: type[Node] = Node
    ) -> None:
        self.ids = list(range(1, servers + 1))
        self._model = RaftElection(servers, max_term=0)  # only for its JSON view of servers
        self._tmp = tempfile.TemporaryDirectory(prefix="electkit-replay-", dir=data_root)
        root = Path(self._tmp.name)
        self.stores = {s: VoteStore(root / f"node{s}") for s in self.ids}
        self.codec = Codec(CLUSTER_ID, CLUSTER_KEY, self.ids)
        self.hosts = {s: NodeHost(s, self.ids, self.stores[s], node_class) for s in self.ids}
        self.notified: dict[str, bool] | None = None
        self.known: list[int | None] = [None] * servers

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self) -> RaftCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def apply(self, action: str, params: Mapping[str, Any]) -> frozenset[Message]:
        """Carry out one model action on the implementation; returns the messages sent."""
        if action == "Restart":
            self.hosts[params["s"]].restart()
            self.notified = None
            return frozenset()
        if action == "Timeout":
            out = self.hosts[params["s"]].election_timeout()
        elif action == "Heartbeat":
            out = self.hosts[params["s"]].heartbeat_timer()
        elif action == "Receive":
            m = params["m"]
            out = self.hosts[m.dst].deliver(self.codec.decode(self.codec.encode(to_impl(m))))
        else:
            raise ValueError(f"no implementation event for model action {action!r}")
        self.notified = {
            "became_leader": out.became_leader,
            "stepped_down": out.stepped_down,
            "reset_election_timer": out.reset_election_timer,
        }
        return frozenset(to_model(msg) for msg in out.send)

    @property
    def nodes(self) -> dict[int, Node]:
        """Each server's current node (a restart replaces it)."""
        return {s: host.node for s, host in self.hosts.items()}

    def servers(self) -> tuple[Server, ...]:
        """Every node's state as the model's local state."""
        snaps = [self.nodes[s].snapshot() for s in self.ids]
        return tuple(
            Server(snap.term, snap.voted_for, str(snap.role), frozenset(snap.votes))
            for snap in snaps
        )

    def observe(self) -> dict[str, Any]:
        """The abstraction function: the nodes' state as the model's JSON view."""
        return self._servers_view(self.servers())

    def view(self, state: Any) -> dict[str, Any]:
        """What replay compares of a model state: the servers' variables (not the network,
        which the nodes do not hold, and which would cost a sort at every step)."""
        return self._servers_view(state.locals)

    def _servers_view(self, servers: tuple[Server, ...]) -> dict[str, Any]:
        bare = self._model.init_states()[0]._replace(locals=servers)
        view = self._model.to_json(bare)
        return {var: view[var] for var in ("term", "voted_for", "role", "votes")}

    def extra_checks(self, before: Any, step: Step) -> list[Difference]:
        """What the model fixes but does not hold: the vote on disk, notifications, hints."""
        self.known = known_leaders(self.known, before, step)
        leaders = tuple(self.nodes[s].snapshot().leader for s in self.ids)
        return (
            compare_durable(step.state.locals, [self.stores[s].load() for s in self.ids])
            + compare_notifications(before, step, self.notified)
            + compare_leaders(self.known, leaders)
        )


def adapter(
    parameters: Mapping[str, Any], data_root: str | None = None, node_class: type[Node] = Node
) -> RaftCluster:
    """The bundle's adapter factory: fresh nodes for a trace at ``parameters``."""
    return RaftCluster(parameters["servers"], data_root, node_class)


def compare_durable(expected: tuple[Server, ...], stored: list[Durable]) -> list[Difference]:
    """The durable term and vote, read back from disk, against the model's."""
    diff = []
    for s, (srv, disk) in enumerate(zip(expected, stored, strict=True), 1):
        if (srv.term, srv.voted_for) != (disk.term, disk.voted_for):
            diff.append(
                Difference(
                    MISMATCH,
                    f"durable[{s}]",
                    f"term {srv.term}, voted_for {_show(srv.voted_for)}",
                    f"term {disk.term}, voted_for {_show(disk.voted_for)} on disk",
                )
            )
    return diff


def known_leaders(known: list[int | None], before, step) -> list[int | None]:
    """Whom each server should name as leader after ``step`` (the application's leader hint).

    Not a model variable, but fixed by the trace: a leader names itself; a server that
    received a Heartbeat of its current term names its sender; a new term, a Timeout or a
    Restart forgets the leader.
    """
    known = list(known)
    m = step.params.get("m")
    s = m.dst if m is not None else step.params["s"]
    old, new = before.locals[s - 1], step.state.locals[s - 1]
    if new.term != old.term or step.action in ("Timeout", "Restart"):
        known[s - 1] = None
    if m is not None and m.kind == HEARTBEAT and m.term == new.term and new.role != "leader":
        known[s - 1] = m.src
    if new.role == "leader":
        known[s - 1] = s
    return known


def compare_notifications(before, step, notified: dict[str, bool] | None) -> list[Difference]:
    """What the node tells the application, against what the model's step implies.

    The model has no callbacks, but it fixes them: the acting server became leader iff its
    role changed to leader, stepped down iff its role left leader; Raft §5.2 resets the
    election timer on a Timeout, a granted vote and a current-term Heartbeat.
    """
    if notified is None:
        return []
    m = step.params.get("m")
    s = m.dst if m is not None else step.params["s"]
    old, new = before.locals[s - 1], step.state.locals[s - 1]
    granted_vote = any(x.kind == VOTE and x.granted for x in step.sends)
    expected = {
        "became_leader": old.role != "leader" and new.role == "leader",
        "stepped_down": old.role == "leader" and new.role != "leader",
        "reset_election_timer": step.action == "Timeout"
        or (m is not None and m.kind == REQUEST_VOTE and granted_vote)
        or (m is not None and m.kind == HEARTBEAT and m.term == new.term and new.role != "leader"),
    }
    return [
        Difference(MISMATCH, f"{name}[{s}]", str(want), str(notified[name]))
        for name, want in expected.items()
        if notified[name] != want
    ]


def compare_leaders(known: list[int | None], leaders: tuple[int | None, ...]) -> list[Difference]:
    """Every server's leader hint against :func:`known_leaders`."""
    return [
        Difference(MISMATCH, f"leader[{s}]", _show(want), _show(got))
        for s, (want, got) in enumerate(zip(known, leaders, strict=True), 1)
        if want != got
    ]


def _show(value: Any) -> str:
    return "none" if value is None else str(value)
