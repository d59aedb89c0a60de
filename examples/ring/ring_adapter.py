"""The conformance adapter of the ring example: model actions in, the model's view out.

Model action -> implementation: ``Start(s)`` -> ``nodes[s].start()``; ``Receive(m)`` ->
``nodes[m.dst].deliver(...)``. The view: each node's ``participant`` and ``leader``, as the
model's JSON view writes them (``to_json``), and the messages sent, as model messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ring_model import Msg, RingElection
from ring_node import Message, RingNode


class RingAdapter:
    """Fresh ring nodes, driven one model action at a time."""

    def __init__(self, parameters: Mapping[str, Any], node_class: type = RingNode) -> None:
        self.size = parameters["servers"]
        self.nodes = {s: node_class(s, self.size) for s in range(1, self.size + 1)}
        self.model = RingElection(self.size)

    def apply(self, action: str, params: Mapping[str, Any]) -> set[Msg]:
        if action == "Start":
            sent = self.nodes[params["s"]].start()
        elif action == "Receive":
            m = params["m"]
            sent = self.nodes[m.dst].deliver(Message(m.kind, m.id, m.src, m.dst))
        else:
            raise ValueError(f"no implementation event for {action!r}")
        return {Msg(x.kind, x.candidate, x.sender, x.receiver) for x in sent}

    def observe(self) -> dict[str, Any]:
        from ring_model import Node

        state = self.model.init_states()[0]._replace(
            locals=tuple(Node(n.participant, n.leader) for n in self.nodes.values())
        )
        view = self.model.to_json(state)
        return {"participant": view["participant"], "leader": view["leader"]}

    def close(self) -> None:
        pass


def adapter(parameters: Mapping[str, Any], data_root: str | None = None, **options: Any):
    """The bundle's adapter factory (this implementation keeps nothing on disk)."""
    return RingAdapter(parameters, **options)
