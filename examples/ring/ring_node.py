"""A ring-election node as an application would embed it: sans-IO, no model code.

``RingNode`` takes one event (``start()`` or ``deliver(message)``) and returns the messages to
send; a transport (a socket, a queue) carries them. It knows nothing of electkit.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Message:
    kind: str  # "Elect" | "Elected"
    candidate: int
    sender: int
    receiver: int


class RingNode:
    """One server of a ring of ``size`` servers, ids 1..size."""

    def __init__(self, node_id: int, size: int) -> None:
        self.id = node_id
        self.size = size
        self.participant = False
        self.leader: int | None = None

    @property
    def successor(self) -> int:
        return self.id % self.size + 1

    def _to_next(self, kind: str, candidate: int) -> Message:
        return Message(kind, candidate, self.id, self.successor)

    def start(self) -> list[Message]:
        """Start an election (a timer, or a lost leader)."""
        if self.participant:
            return []
        self.participant = True
        return [self._to_next("Elect", self.id)]

    def deliver(self, message: Message) -> list[Message]:
        """Handle one message from the previous server on the ring."""
        if message.kind == "Elected":
            self.leader = message.candidate
            self.participant = False
            if message.candidate == self.id:
                return []
            return [self._to_next("Elected", message.candidate)]
        if message.candidate == self.id:
            self.leader = self.id
            return [self._to_next("Elected", self.id)]
        if message.candidate > self.id:
            self.participant = True
            return [self._to_next("Elect", message.candidate)]
        if not self.participant:
            self.participant = True
            return [self._to_next("Elect", self.id)]
        return []
