"""The three messages of Raft leader election, as frozen, self-validating dataclasses.

They are the messages of docs/model.md: ``RequestVote``, its reply ``Vote``, and
``Heartbeat`` (an empty AppendEntries, which has no reply in this protocol). An invalid
message can never be built: every constructor checks its fields.

>>> RequestVote(term=2, src=1, dst=3)
RequestVote(term=2, src=1, dst=3)
>>> message_from_dict(message_to_dict(Vote(2, 3, 1, True)))
Vote(term=2, src=3, dst=1, granted=True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from impl.errors import MessageError


def _check_int(name: str, value: object, minimum: int) -> None:
    # bool is an int subclass; a True term would slip through a plain isinstance check.
    if type(value) is not int or value < minimum:
        raise MessageError(f"{name} must be an int >= {minimum}, got {value!r}")


def _check_common(kind: str, term: object, src: object, dst: object) -> None:
    _check_int(f"{kind}.term", term, 0)
    _check_int(f"{kind}.src", src, 1)
    _check_int(f"{kind}.dst", dst, 1)
    if src == dst:
        raise MessageError(f"{kind}: src and dst are both {src}; a server never messages itself")


@dataclass(frozen=True, slots=True)
class RequestVote:
    """A candidate ``src`` asks ``dst`` for its vote in ``term``."""

    term: int
    src: int
    dst: int

    def __post_init__(self) -> None:
        _check_common("RequestVote", self.term, self.src, self.dst)


@dataclass(frozen=True, slots=True)
class Vote:
    """``src``'s reply to a RequestVote of ``dst``: ``granted`` or not, in ``src``'s term."""

    term: int
    src: int
    dst: int
    granted: bool

    def __post_init__(self) -> None:
        _check_common("Vote", self.term, self.src, self.dst)
        if type(self.granted) is not bool:
            raise MessageError(f"Vote.granted must be a bool, got {self.granted!r}")


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """The leader ``src`` of ``term`` tells ``dst`` that it leads (empty AppendEntries)."""

    term: int
    src: int
    dst: int

    def __post_init__(self) -> None:
        _check_common("Heartbeat", self.term, self.src, self.dst)


Message = RequestVote | Vote | Heartbeat

MESSAGE_TYPES: dict[str, type[RequestVote] | type[Vote] | type[Heartbeat]] = {
    "RequestVote": RequestVote,
    "Vote": Vote,
    "Heartbeat": Heartbeat,
}


def message_to_dict(msg: Message) -> dict[str, Any]:
    """The JSON view of a message: ``{"type", "term", "src", "dst"[, "granted"]}``."""
    view: dict[str, Any] = {"type": type(msg).__name__, "term": msg.term, "src": msg.src,
                            "dst": msg.dst}
    if isinstance(msg, Vote):
        view["granted"] = msg.granted
    return view


def message_from_dict(view: dict[str, Any]) -> Message:
    """Rebuild a message from :func:`message_to_dict`; raises MessageError when malformed."""
    if not isinstance(view, dict):
        raise MessageError(f"a message must be a JSON object, got {type(view).__name__}")
    kind = view.get("type")
    cls = MESSAGE_TYPES.get(kind)  # type: ignore[arg-type]
    if cls is None:
        raise MessageError(f"unknown message type {kind!r}; valid: {', '.join(MESSAGE_TYPES)}")
    fields = {k: v for k, v in view.items() if k != "type"}
    expected = {"term", "src", "dst"} | ({"granted"} if cls is Vote else set())
    if set(fields) != expected:
        raise MessageError(f"{kind} needs fields {sorted(expected)}, got {sorted(fields)}")
    return cls(**fields)
