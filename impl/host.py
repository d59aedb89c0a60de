"""The glue between a sans-IO node and its storage, written once: persist, then send.

:class:`NodeHost` binds an :class:`impl.node.Node` to its :class:`impl.storage.VoteStore`.
Each event method calls the node's handler, then makes ``Output.persist`` durable (an fsynced
save) *before* it returns the Output, so whoever sends ``Output.send`` can only do so after
the vote is on disk. A failed save raises StorageError and the Output is never returned, so
nothing can be sent. :meth:`NodeHost.restart` is the Restart action: the node is rebuilt from
what storage holds. The server (impl/server.py) and the replay adapter both drive nodes
through this class, so replay exercises the server's own code path.

Two optional hooks let the server write its event log at the right moments:
``on_handled(event, msg, out)`` runs after the handler and before the save (the node's state
in memory is then ahead of its disk), ``on_persisted(durable)`` right after the fsync.

>>> import tempfile
>>> host = NodeHost(1, [1, 2, 3], VoteStore(tempfile.mkdtemp()))
>>> out = host.election_timeout()
>>> host.store.load() == out.persist  # durable before the RequestVotes may leave
True
>>> host.restart().snapshot().term
1
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from impl.messages import Message
from impl.node import Durable, Node, Output
from impl.storage import VoteStore

Handled = Callable[[str, Message | None, Output], None]
Persisted = Callable[[Durable], None]


class NodeHost:
    """One node and its vote store: every handler's persist is durable before it returns.

    Parameters: ``node_id``, ``peers`` (every server id; the node's own is ignored),
    ``store`` (where the vote lives), ``node_class`` (a mutant's class for `electkit mutate`),
    ``on_handled`` / ``on_persisted`` (optional hooks, see the module docstring). Building a
    host loads the store (a StorageError for a damaged vote file) and builds the node.
    """

    def __init__(self, node_id: int, peers: Iterable[int], store: VoteStore,
                 node_class: type[Node] = Node, *, on_handled: Handled | None = None,
                 on_persisted: Persisted | None = None) -> None:
        self.node_id = node_id
        self.peers = tuple(peers)
        self.store = store
        self.node_class = node_class
        self.on_handled = on_handled
        self.on_persisted = on_persisted
        self.node: Node = self.restart()

    def restart(self) -> Node:
        """The Restart action: a fresh node from what storage holds (memory is lost)."""
        self.node = self.node_class(self.node_id, self.peers, self.store.load())
        return self.node

    def election_timeout(self) -> Output:
        """The election timer fired; the returned Output's persist is already durable."""
        return self._durable("timeout", None, self.node.on_election_timeout())

    def heartbeat_timer(self) -> Output:
        """The heartbeat timer fired (a leader's broadcast); nothing to persist."""
        return self._durable("heartbeat", None, self.node.on_heartbeat_timer())

    def deliver(self, msg: Message) -> Output:
        """Deliver ``msg`` to the node; the returned Output's persist is already durable."""
        return self._durable("deliver", msg, self.node.on_message(msg))

    def _durable(self, event: str, msg: Message | None, out: Output) -> Output:
        if self.on_handled is not None:
            self.on_handled(event, msg, out)
        if out.persist is not None:
            self.store.save(out.persist)  # raises StorageError: the Output never escapes
            if self.on_persisted is not None:
                self.on_persisted(out.persist)
        return out
