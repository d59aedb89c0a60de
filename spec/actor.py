"""Models of servers that exchange messages: each action is one event at one server.

An :class:`ActorModel` is written as per-server handlers (Stateright's actor models, h11's
event handlers): a *local action* of server ``s`` takes ``s``'s local state and returns an
:class:`Outcome` (its new local state, the messages it sends, what it adds to the history
variable) or None when disabled; :meth:`ActorModel.receive` does the same for the delivery
of one message to its destination. The network is the set of every message ever sent:
delivery never removes a message, so loss, duplication and reordering are all covered.

Properties come in two shapes, so a checker can evaluate them once per distinct set of local
states rather than once per state: ``always``/``sometimes`` over (locals, history), and
``always_for_messages`` over (locals, history, one message), meaning "every message in the
network satisfies this". Both are plain predicates; the model never knows which search runs it.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from itertools import permutations
from typing import Any, NamedTuple

from spec.model import (
    ActionError,
    Model,
    ModelError,
    Permutation,
    Property,
    Step,
    record_from_json,
    record_to_json,
)

Locals = tuple[Any, ...]
StatePredicate = Callable[[Locals, frozenset], bool]
MessagePredicate = Callable[[Locals, frozenset, Any], bool]
LocalAction = Callable[[int, Any], "Outcome | None"]


class Outcome(NamedTuple):
    """What one event does at one server."""

    local: Hashable
    sends: frozenset = frozenset()
    history: frozenset = frozenset()


class ActorState(NamedTuple):
    """A global state: the servers' local states (server ``s`` at index ``s - 1``), the
    network, and the history variable."""

    locals: Locals
    net: frozenset
    history: frozenset


class ActorModel(Model):
    """Base of message-passing models; subclasses fill in the handlers and the properties.

    Subclasses set ``name``, ``servers`` and ``message_type`` and define :meth:`init_local`,
    :meth:`local_actions`, :meth:`receive` and :meth:`state_properties` (and, if they have
    any, :meth:`message_properties`). Messages have ``src`` and ``dst`` fields. Optional:
    symmetry (``symmetric = True`` with the renamings :meth:`permute_local`,
    :meth:`permute_message`, :meth:`permute_history`); a JSON view of one's own (by default
    one ITF map per field of the local state, plus ``net`` and ``history``).
    """

    name: str = "actor_model"
    servers: int = 1
    message_type: Any = None  # the message class (a NamedTuple), for reading traces

    # --- what a subclass writes -------------------------------------------------------------
    def init_local(self, s: int) -> Hashable:
        """The local state server ``s`` starts in."""
        raise NotImplementedError

    def local_actions(self) -> Sequence[tuple[str, LocalAction]]:
        """The named actions that a server takes on its own (timers, crashes), in order."""
        raise NotImplementedError

    def receive(self, local: Any, m: Any) -> Outcome:
        """The delivery of ``m`` to ``m.dst``, whose local state is ``local``."""
        raise NotImplementedError

    def state_properties(self) -> Sequence[tuple[str, str, StatePredicate]]:
        """``(name, "always" | "sometimes", predicate(locals, history))``, in order."""
        return ()

    def message_properties(self) -> Sequence[tuple[str, MessagePredicate]]:
        """``(name, predicate(locals, history, m))``: must hold for every ``m`` in the net."""
        return ()

    def permute_local(self, local: Any, perm: Permutation) -> Hashable:
        """``local`` with every server id ``s`` in it renamed to ``perm[s]`` (symmetry)."""
        raise NotImplementedError(f"{type(self).__name__} is not symmetric")

    def permute_message(self, m: Any, perm: Permutation) -> Hashable:
        """``m`` with every server id renamed (symmetry)."""
        raise NotImplementedError(f"{type(self).__name__} is not symmetric")

    def permute_history(self, item: Any, perm: Permutation) -> Hashable:
        """A history item with every server id renamed (symmetry)."""
        raise NotImplementedError(f"{type(self).__name__} is not symmetric")

    # --- the JSON view, derived from the local state's fields (override to name your own) ---
    def to_json(self, state: ActorState) -> dict[str, Any]:
        """One ITF map per field of the local state (server -> value), ``net`` and ``history``."""
        view: dict[str, Any] = {}
        for name in _field_names(state.locals[0]):
            view[name] = {
                "#map": [
                    [s, _value_to_json(_field(local, name))]
                    for s, local in enumerate(state.locals, start=1)
                ]
            }
        view["net"] = {"#set": self.messages_to_json(state.net)}
        view["history"] = record_to_json(frozenset(state.history))
        return view

    def from_json(self, value: Mapping[str, Any]) -> ActorState:
        """The inverse of :meth:`to_json` (local states built like :meth:`init_local`'s)."""
        template = self.init_local(1)
        names = _field_names(template)
        columns = {}
        for name in names:
            entries = {int(k): v for k, v in value[name]["#map"]}
            if sorted(entries) != list(self.server_ids()):
                raise ValueError(f"{name} must map exactly the servers 1..{self.servers}")
            columns[name] = [record_from_json(entries[s]) for s in self.server_ids()]
        if names == ("local",) and not hasattr(template, "_make"):
            locals_ = tuple(columns["local"])
        else:
            locals_ = tuple(
                type(template)._make(row) for row in zip(*columns.values(), strict=True)
            )
        net = frozenset(self.message_from_json(m) for m in value["net"]["#set"])
        return ActorState(locals_, net, record_from_json(value["history"]))

    def message_from_json(self, value: Any) -> Any:
        """A message read back through ``message_type`` (its fields by name)."""
        if self.message_type is None:
            raise ModelError(f"{type(self).__name__} must set message_type to read messages")
        if not isinstance(value, Mapping):
            raise ValueError(f"a message must be a record, got {value!r}")
        return self.message_type(**{k: record_from_json(v) for k, v in value.items()})

    # --- the Model protocol, derived ----------------------------------------------------------
    @property
    def parameters(self) -> Mapping[str, Any]:
        """The number of servers and the arguments the model was built with."""
        return {"servers": self.servers, **super().parameters}

    def init_states(self) -> Sequence[ActorState]:
        locals_ = tuple(self.init_local(s) for s in self.server_ids())
        return [ActorState(locals_, frozenset(), frozenset())]

    def server_ids(self) -> Sequence[int]:
        return range(1, self.servers + 1)

    def steps(self, state: ActorState) -> Iterator[Step]:
        """Every enabled action: each server's local actions in order, then each message."""
        for s in self.server_ids():
            for action, handler in self.local_actions():
                outcome = _call(f"{action}(s={s})", handler, s, state.locals[s - 1])
                if outcome is not None:
                    yield Step(action, {"s": s}, self.apply(state, s, outcome), outcome.sends)
        for m in sorted(state.net, key=self.message_key):
            outcome = _call(f"Receive(m={m})", self.receive, state.locals[m.dst - 1], m)
            yield Step("Receive", {"m": m}, self.apply(state, m.dst, outcome), outcome.sends)

    def apply(self, state: ActorState, s: int, outcome: Outcome) -> ActorState:
        """``state`` after server ``s`` had ``outcome``."""
        locals_ = state.locals[: s - 1] + (outcome.local,) + state.locals[s:]
        return ActorState(locals_, state.net | outcome.sends, state.history | outcome.history)

    def properties(self) -> Sequence[Property]:
        props = [
            Property(name, kind, _on_state(predicate))
            for name, kind, predicate in self.state_properties()
        ]
        props += [
            Property(name, "always", _on_every_message(predicate))
            for name, predicate in self.message_properties()
        ]
        names = [p.name for p in props]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ModelError(f"{type(self).__name__} names two properties {duplicated[0]!r}")
        return props

    def permute(self, state: ActorState, perm: Permutation) -> ActorState:
        locals_ = [None] * self.servers
        for s in self.server_ids():
            locals_[perm[s] - 1] = self.permute_local(state.locals[s - 1], perm)
        return ActorState(
            tuple(locals_),
            frozenset(self.permute_message(m, perm) for m in state.net),
            frozenset(self.permute_history(h, perm) for h in state.history),
        )

    def permutations(self) -> list[Permutation]:
        """Every permutation of the server ids, the identity first."""
        return [(0, *p) for p in permutations(self.server_ids())]


def _field_names(local: Any) -> tuple[str, ...]:
    return tuple(local._fields) if hasattr(local, "_fields") else ("local",)


def _field(local: Any, name: str) -> Any:
    return getattr(local, name) if hasattr(local, "_fields") else local


def _value_to_json(value: Any) -> Any:
    """None as ITF's Option None; anything else as :func:`record_to_json` writes it."""
    return {"tag": "None", "value": {"#tup": []}} if value is None else record_to_json(value)


def message_kind(m: Any) -> str:
    """A message's kind: its ``kind`` field, or its type's name."""
    return getattr(m, "kind", type(m).__name__)


def action_kind(step: Step) -> str:
    """The action of a step with a delivery split by message kind: ``Receive(Vote)``."""
    m = step.params.get("m")
    return f"{step.action}({message_kind(m)})" if m is not None else step.action


def _call(label: str, handler: Callable, *args: Any) -> Any:
    """Run one handler; an exception inside it becomes an ActionError naming the action."""
    try:
        return handler(*args)
    except Exception as exc:
        raise ActionError(label, exc) from exc


def _on_state(predicate: StatePredicate) -> Callable[[ActorState], bool]:
    return lambda state: predicate(state.locals, state.history)


def _on_every_message(predicate: MessagePredicate) -> Callable[[ActorState], bool]:
    return lambda state: all(predicate(state.locals, state.history, m) for m in state.net)
