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

from spec.model import ActionError, ModelError, Permutation, Property, Step

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


class ActorModel:
    """Base of message-passing models; subclasses fill in the handlers and the properties.

    Subclasses set ``name`` and ``servers`` and define: :meth:`init_local`,
    :meth:`local_actions`, :meth:`receive`, :meth:`state_properties`,
    :meth:`message_properties`, the renamings :meth:`permute_local`,
    :meth:`permute_message`, :meth:`permute_history`, and the JSON view.
    Messages must have ``src`` and ``dst`` attributes.
    """

    name: str = "actor_model"
    servers: int = 1

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
        raise NotImplementedError

    def permute_message(self, m: Any, perm: Permutation) -> Hashable:
        raise NotImplementedError

    def permute_history(self, item: Any, perm: Permutation) -> Hashable:
        raise NotImplementedError

    def message_key(self, m: Any) -> Any:
        """A sort key that orders messages the same way in every run (for determinism)."""
        return repr(m)

    # --- the Model protocol, derived ----------------------------------------------------------
    @property
    def parameters(self) -> Mapping[str, Any]:
        return {"servers": self.servers}

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
