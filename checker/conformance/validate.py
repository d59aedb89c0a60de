"""Validate the event logs of a real run against an actor model: is what happened a behaviour?

As etcd checks its traces against its TLA+ spec, and as Cirstea, Kuppe, Loillier and Merz
(2024) describe: each node of a real run writes a JSON-lines log (docs/validation.md
gives the format); this module merges the logs into one order, maps each event to an action
of an :class:`spec.actor.ActorModel`, and checks, event by event, that

* the action is enabled in the model state reached so far (a delivery: its message is in the
  model's network, and it comes after the line that sent it);
* the node's logged state equals the model's local state after it;
* every message left only after the state that produced it was durably persisted, and every
  message sent is one the model's step sends;
* the model's ``always`` properties hold (messages' properties: each message when it enters
  the network, and the whole network at the end).

The model stays the single source of truth: the engine keeps one local state per server, the
set of sent messages and the history, and calls the model's own per-server handlers
(``local_actions()``, ``receive(local, m)``). It never enumerates a state's successors, so
it runs at the speed of JSON parsing. It knows no protocol: a :class:`LogMapping` says how a
log line becomes a model action and a logged state a model local state.

Ordering: within a node, file order; across nodes, a delivery waits until a line has sent an
equal message (the model's network is a set, so equal messages are one message); among
ready events the earliest ``time`` goes first. Since each action reads only its own server's
state and the network only grows, every such order validates alike.

A crash between a handled event and its fsync leaves a log that is ahead of the disk: the
event had no visible effect (nothing is sent before the persist), so at the next start the
engine either commits it (the disk has it) or undoes it (the disk does not).

(Over 400 lines: most of it is :class:`Validator`, one method per kind of line over one
shared model state; split, the rules would be read apart from the state they guard.)
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from checker.conformance.eventlogs import (
    BUILT_IN,
    DELIVER,
    LOG_FULL,
    PERSIST,
    SEND,
    START,
    Event,
    LogError,
    NodeLog,
    Record,
    log_files,
    merged,
    no_gc,
    read_logs,
)
from spec.actor import ActorModel, Outcome

RECEIVE = "Receive"  # the ActorModel's delivery action
CHECK_EVERY = 64  # the fewest actions between two checks of the state properties


class LogMapping(Protocol):
    """What a protocol bundle says about its implementation's logs (checker/protocols/)."""

    events: Mapping[str, str]
    """Log event name -> the model's local action; ``start`` maps to the restart action."""

    def model(self, servers: int, records: Sequence[Mapping[str, Any]]) -> ActorModel:
        """The model to validate against, bounded by what ``records`` show (all of them)."""
        ...

    def local(self, state: Any) -> Hashable:
        """A logged ``state`` as the model's local state of its node."""
        ...

    def fits(self, state: Any, local: Any) -> bool:
        """Whether a logged ``state`` is ``local`` (the fast path of ``local(state) == local``;
        it may be loose about types, :meth:`local` is then asked)."""
        ...

    def message(self, msg: Any) -> Hashable:
        """A logged message as the model's message (with ``src`` and ``dst``)."""
        ...

    def durable(self, local: Any) -> Hashable:
        """The part of a local state that must be on disk before a message leaves."""
        ...

    def durable_from_log(self, durable: Any) -> Hashable:
        """A logged ``durable`` field (of ``start`` and ``persist``) in the same terms."""
        ...


@dataclass(frozen=True)
class Misfit:
    """The first event that does not fit the model, and what the model allowed there."""

    event: Event
    reason: str
    model_state: str
    allowed: list[str]
    offset: float | None = None  # seconds from the run's first event

    def describe(self) -> str:
        ev = self.event
        allowed = "; ".join(self.allowed) or "nothing"
        when = f" ({self.offset:.2f} s into the run)" if self.offset is not None else ""
        return (
            f"{ev.where}: node {ev.node} '{ev.event}'{when} does not fit the model: "
            f"{self.reason}\n"
            f"  model state of node {ev.node}: {self.model_state}\n"
            f"  the model allowed node {ev.node}: {allowed}"
        )


@dataclass
class Validation:
    """The outcome: events validated per node, the first misfit, what could not be matched."""

    model: ActorModel
    nodes: dict[int, NodeLog]
    validated: dict[int, int]
    actions: list[tuple[str, dict[str, Any]] | None]
    misfit: Misfit | None = None
    unmatched: list[str] = field(default_factory=list)
    incomplete: str | None = None
    crashed: dict[str, int] = field(default_factory=dict)  # "undone"/"kept": see _start

    @property
    def ok(self) -> bool:
        return self.misfit is None and self.incomplete is None

    @property
    def total(self) -> int:
        return sum(self.validated.values())

    def prefix(self) -> list[tuple[str, dict[str, Any]]]:
        """The model actions of the validated prefix (undone crashed events left out)."""
        return [a for a in self.actions if a is not None]


# --- the engine -------------------------------------------------------------------------------
class _Misfit(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class _Pending:
    """An action whose durable change is not yet on disk, and how to undo it."""

    index: int
    before: Any
    history: frozenset
    net: frozenset


class Validator:
    """Runs one merged order of events through the model's handlers."""

    def __init__(self, model: ActorModel, mapping: LogMapping, logs: Mapping[int, NodeLog]) -> None:
        servers = max(logs)
        self.logs = logs
        self.model = model
        self.mapping = mapping
        self.handlers: dict[str, Callable[[int, Any], Outcome | None]] = dict(model.local_actions())
        unknown = sorted(set(mapping.events.values()) - set(self.handlers))
        if unknown:
            raise LogError(
                f"the log mapping names actions {unknown} that the model "
                f"{model.name} lacks; valid: {', '.join(self.handlers)}"
            )
        init = model.init_states()[0]
        self.locals: list[Any] = list(init.locals)
        self.net: set = set(init.net)
        self.history: set = set(init.history)
        self.persisted: list[Any] = [None] + [mapping.durable(x) for x in self.locals]
        self.pending: list[_Pending | None] = [None] * (servers + 1)
        self.last_sends: list[frozenset] = [frozenset()] * (servers + 1)
        self.actions: list[tuple[str, dict[str, Any]] | None] = []
        self.always = [
            (name, pred) for name, kind, pred in model.state_properties() if kind == "always"
        ]
        self.message_props = list(model.message_properties())
        self.next_check = CHECK_EVERY
        self.applied: tuple | None = None
        self.crashed = {"undone": 0, "kept": 0}
        self.fits = mapping.fits
        # The last logged state that was checked against each node's current model state:
        # cleared whenever that model state changes.
        self.checked: list[Any] = [None] * (servers + 1)

        self.dispatch: dict[str, Callable[[Record], None]] = {
            SEND: self._send,
            PERSIST: self._persist,
            DELIVER: self._deliver,
            START: self._start,
            LOG_FULL: self._log_full,
        }
        for name in mapping.events:
            if name != START:
                self.dispatch[name] = self._local

    # One method per kind of line; each raises _Misfit when the line does not fit. A send or
    # deliver line comes with its message, parsed by :func:`merged`.
    def apply(self, ev: Record, m: Any) -> None:
        """Check one log line (and its message, if any) and advance the model by it."""
        self.applied = None
        self.dispatch[ev["event"]](ev, m)

    def where(self, ev: Record) -> str:
        return self.logs[ev["node"]].where(ev)

    def rewind(self) -> None:
        """Take back the action of the line that just failed, so that the report shows the
        model state before it and what the model allowed there."""
        if self.applied is not None:
            s, before, new_net, new_history, pending = self.applied
            self.checked[s] = None
            self.locals[s - 1] = before
            self.net -= new_net
            self.history -= new_history
            self.pending[s] = pending
            self.actions.pop()
            self.applied = None

    def _log_full(self, ev: Record, m: None) -> None:
        """The node's log stops here (its size cap): nothing to check."""

    def _send(self, ev: Record, m: Any) -> None:
        s = ev["node"]
        if m.src != s:
            raise _Misfit(f"node {s} logged a send of {m}, whose sender is {m.src}")
        if self.pending[s] is not None:
            raise _Misfit(
                f"{m} left before the state that produced it was persisted "
                f"(memory: {self.mapping.durable(self.locals[s - 1])}, "
                f"disk: {self.persisted[s]})"
            )
        if m not in self.net:
            sent = ", ".join(map(str, sorted(self.last_sends[s], key=self.model.message_key)))
            raise _Misfit(
                f"{m} was never sent by a step of the model (node {s}'s last step "
                f"sent: {sent or 'nothing'})"
            )
        self._check_state(ev)

    def _persist(self, ev: Record, m: None) -> None:
        s = ev["node"]
        stored = self._durable(ev)
        memory = self.mapping.durable(self.locals[s - 1])
        if stored != memory:
            raise _Misfit(f"persisted {stored}, but the node's state holds {memory}")
        self.persisted[s] = stored
        self.pending[s] = None
        self._check_state(ev)

    def _deliver(self, ev: Record, m: Any) -> None:
        s = ev["node"]
        if m.dst != s:
            raise _Misfit(f"node {s} logged the delivery of {m}, which is for node {m.dst}")
        if m not in self.net:
            raise _Misfit(f"{m} is not in the model's network: no step sent it")
        self._unpersisted(ev)
        self._act(ev, RECEIVE, {"m": m}, self.model.receive(self.locals[s - 1], m))

    def _local(self, ev: Record, m: None) -> None:
        s = ev["node"]
        action = self.mapping.events[ev["event"]]
        self._unpersisted(ev)
        outcome = self.handlers[action](s, self.locals[s - 1])
        if outcome is None:
            raise _Misfit(f"{action}(s={s}) is not enabled in the model here")
        self._act(ev, action, {"s": s}, outcome)

    def _start(self, ev: Record, m: None) -> None:
        s = ev["node"]
        action = self.mapping.events[START]
        pending = self.pending[s]
        if pending is not None:
            # Killed between a handled event and its persist line: the disk has it (commit)
            # or not (undo); nothing of it was sent, so either way the world saw nothing.
            committed = self.handlers[action](s, self.locals[s - 1])
            if committed is None or committed.local != self._logged_local(ev):
                self._undo(s, pending)
                self.crashed["undone"] += 1
            else:
                self.crashed["kept"] += 1
            self.pending[s] = None
        outcome = self.handlers[action](s, self.locals[s - 1])
        if outcome is None:
            raise _Misfit(f"{action}(s={s}) is not enabled in the model here")
        self._act(ev, action, {"s": s}, outcome)
        self.persisted[s] = self._durable(ev)
        if self.persisted[s] != self.mapping.durable(self.locals[s - 1]):
            raise _Misfit(
                f"the node recovered {self.persisted[s]} from disk, but the model's "
                f"{action} recovers {self.mapping.durable(self.locals[s - 1])}"
            )
        self.pending[s] = None

    def _act(self, ev: Record, action: str, params: dict[str, Any], outcome: Outcome) -> None:
        s = ev["node"]
        before = self.locals[s - 1]
        sends, added = outcome.sends, outcome.history
        new_net = sends - self.net if sends else sends
        new_history = added - self.history if added else added
        self.applied = (s, before, new_net, new_history, self.pending[s])
        if outcome.local is not before:
            self.checked[s] = None
        self.locals[s - 1] = outcome.local
        if new_net:
            self.net |= new_net
        if new_history:
            self.history |= new_history
        self.last_sends[s] = sends
        self.actions.append((action, params))
        if self.mapping.durable(outcome.local) != self.persisted[s]:
            self.pending[s] = _Pending(
                len(self.actions) - 1, before, new_history, frozenset(new_net)
            )
        self._check_state(ev, action)
        if len(self.actions) >= self.next_check:
            self.check_properties()
        if new_net and self.message_props:
            self._check_messages(new_net)

    def _undo(self, s: int, pending: _Pending) -> None:
        self.checked[s] = None
        self.locals[s - 1] = pending.before
        self.history -= pending.history
        self.net -= pending.net
        self.last_sends[s] = frozenset()
        self.actions[pending.index] = None

    def _unpersisted(self, ev: Record) -> None:
        s = ev["node"]
        if self.pending[s] is not None:
            raise _Misfit(
                f"node {s} went on before its state was persisted (memory: "
                f"{self.mapping.durable(self.locals[s - 1])}, disk: "
                f"{self.persisted[s]})"
            )

    def _logged_local(self, ev: Record) -> Any:
        try:
            return self.mapping.local(ev["state"])
        except (KeyError, TypeError, ValueError) as exc:
            raise LogError(f"{self.where(ev)}: not a valid 'state' ({exc})") from None

    def _check_state(self, ev: Record, action: str = "") -> None:
        s = ev["node"]
        state = ev["state"]
        if state == self.checked[s]:
            return  # the same logged state as the node's last checked line, same model state
        model = self.locals[s - 1]
        try:
            if self.fits(state, model):
                self.checked[s] = state
                return
        except (KeyError, TypeError, ValueError):
            pass
        logged = self._logged_local(ev)
        if logged != model:
            after = f"after {action} " if action else ""
            raise _Misfit(f"the node's state {after}is {logged}, the model's is {model}")
        self.checked[s] = state

    def check_properties(self) -> None:
        """The model's ``always`` state properties in the current state."""
        # Each check costs about the size of the history, so checks get rarer as it grows:
        # the cost per event stays constant.
        self.next_check = len(self.actions) + max(CHECK_EVERY, len(self.history) // 4)
        locals_, history = tuple(self.locals), self.history
        for name, holds in self.always:
            if not holds(locals_, history):
                raise _Misfit(f"the model's property {name} is violated here")

    def _check_messages(self, new_net: set) -> None:
        if not new_net or not self.message_props:
            return
        locals_, history = tuple(self.locals), self.history
        for m in new_net:
            for name, holds in self.message_props:
                if not holds(locals_, history, m):
                    raise _Misfit(f"the model's property {name} is violated by {m}")

    def check_network(self) -> str | None:
        """The message properties over the whole network at the end; the first failure."""
        locals_, history = tuple(self.locals), self.history
        for name, holds in self.message_props:
            bad = [m for m in self.net if not holds(locals_, history, m)]
            if bad:
                m = min(bad, key=self.model.message_key)  # the same one in every run
                return f"the model's property {name} is violated by {m} at the end"
        return None

    def _durable(self, ev: Record) -> Any:
        try:
            return self.mapping.durable_from_log(ev["durable"])
        except (KeyError, TypeError, ValueError) as exc:
            raise LogError(
                f"{self.where(ev)}: '{ev['event']}' needs a valid 'durable' ({exc})"
            ) from None

    def allowed(self, s: int) -> list[str]:
        """What the model allowed server ``s`` to do in the current state (for the report)."""
        out = [
            f"{name}(s={s})"
            for name, handler in self.handlers.items()
            if handler(s, self.locals[s - 1]) is not None
        ]
        inbound = sorted((m for m in self.net if m.dst == s), key=self.model.message_key)
        shown = ", ".join(map(str, inbound[:6])) + (", ..." if len(inbound) > 6 else "")
        if inbound:
            out.append(f"Receive of {len(inbound)} message(s) in the network: {shown}")
        return out


def validate_logs(logs: dict[int, NodeLog], mapping: LogMapping) -> Validation:
    """Validate per-node logs (from :func:`read_logs`) against the mapping's model."""
    with no_gc():
        return _validate_logs(logs, mapping)


def _validate_logs(logs: dict[int, NodeLog], mapping: LogMapping) -> Validation:
    if not logs:
        raise LogError("no events in the logs")
    known = {*mapping.events, *BUILT_IN}
    for log in logs.values():
        for ev in log.events:
            if ev["event"] not in known:
                raise LogError(
                    f"{log.where(ev)}: unknown event {ev['event']!r}; valid: "
                    f"{', '.join(sorted(known))}"
                )
    servers = max(logs)
    records = [ev for log in logs.values() for ev in log.events]
    try:
        model = mapping.model(servers, records)
    except (KeyError, TypeError, ValueError) as exc:
        raise LogError(f"the logs do not give a model: {exc}") from None
    validator = Validator(model, mapping, logs)
    result = Validation(
        model, logs, {n: 0 for n in sorted(logs)}, validator.actions, crashed=validator.crashed
    )
    for log in logs.values():
        result.unmatched += [
            f"{f}:{n}: torn line (node {log.node} killed mid-write)" for f, n in log.torn_lines
        ]
    capped = [n for n, log in logs.items() if any(e["event"] == LOG_FULL for e in log.events)]
    failed: list[Misfit] = []
    stuck: list[Record] = []
    counts = [0] * (servers + 1)
    apply = validator.apply
    item: Record = {}
    try:
        for item, m in merged(logs, mapping.message, stuck):
            apply(item, m)
            counts[item["node"]] += 1
    except _Misfit as exc:
        s = item["node"]
        validator.rewind()
        failed.append(
            Misfit(
                logs[s].event(item), exc.reason, str(validator.locals[s - 1]), validator.allowed(s)
            )
        )
    result.validated = {n: counts[n] for n in sorted(logs)}
    if stuck and not failed:
        if capped:
            result.incomplete = (
                f"node(s) {capped} stopped logging at their size cap; "
                f"{len(stuck)} deliveries could not be ordered"
            )
            result.unmatched += [
                f"{logs[e['node']].where(e)}: delivery of a message whose send was not logged"
                for e in stuck
            ]
        else:
            first = stuck[0]
            node = first["node"]
            failed.append(
                Misfit(
                    logs[node].event(first),
                    "it delivers a message that no line ever sent before it",
                    str(validator.locals[node - 1]),
                    validator.allowed(node),
                )
            )
    if failed:
        first_time = min(log.events[0]["time"] for log in logs.values() if log.events)
        result.misfit = Misfit(
            failed[0].event,
            failed[0].reason,
            failed[0].model_state,
            failed[0].allowed,
            failed[0].event.time - first_time,
        )
    elif result.incomplete is None:
        problem = validator.check_network()
        if problem is not None:
            last = max(
                (log.events[-1] for log in logs.values() if log.events), key=lambda e: e["time"]
            )
            result.misfit = Misfit(logs[last["node"]].event(last), problem, "", [])
    return result


def validate_dir(logdir: str | Path, mapping: LogMapping) -> Validation:
    """Read every ``*.jsonl`` log under ``logdir`` and validate it."""
    known = {*mapping.events, *BUILT_IN}
    return validate_logs(read_logs(log_files(logdir), known), mapping)
