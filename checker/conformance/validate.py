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
"""

from __future__ import annotations

import gc
import heapq
import importlib
import pkgutil
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import orjson

from checker.errors import ElectkitError
from spec.actor import ActorModel, ActorState, Outcome
from spec.model import Step

START, PERSIST, SEND, DELIVER, LOG_FULL = "start", "persist", "send", "deliver", "log-full"
RECEIVE = "Receive"  # the ActorModel's delivery action
CHECK_EVERY = 64  # the fewest actions between two checks of the state properties
_REQUIRED = ("seq", "node", "time", "event", "state")
_NUMBERS = (int, float)


class LogError(ElectkitError):
    """A log that cannot be read: a line that is not JSON or names an unknown event."""


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


@dataclass(slots=True)
class Event:
    """One log line: where it is, and what it says."""

    node: int
    event: str
    time: float
    file: str
    line: int
    record: Mapping[str, Any]

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"



Record = dict[str, Any]
"""A parsed log line, as read (where it was read is kept by its :class:`NodeLog`)."""


@dataclass
class NodeLog:
    """The events of one node in file order, and how its log ended."""

    node: int
    file: str
    events: list[Record] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)  # the line number of each event
    torn: tuple[str, int] | None = None  # a torn last line: (file, line)
    torn_lines: list[tuple[str, int]] = field(default_factory=list)

    def event(self, record: Record) -> Event:
        """The :class:`Event` (with its line number) of one of this node's records."""
        for index, candidate in enumerate(self.events):
            if candidate is record:  # only on the way to a report: a scan is fine
                return Event(self.node, record["event"], record["time"], self.file,
                             self.lines[index], record)
        raise ValueError(f"not a record of node {self.node}")

    def where(self, record: Record) -> str:
        """``file:line`` of one of this node's records."""
        return self.event(record).where


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
        return (f"{ev.where}: node {ev.node} '{ev.event}'{when} does not fit the model: "
                f"{self.reason}\n"
                f"  model state of node {ev.node}: {self.model_state}\n"
                f"  the model allowed node {ev.node}: {allowed}")


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


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: the parsed logs are many small acyclic objects,
    and each collection would walk all of them again (a third of the time, measured)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --- reading ---------------------------------------------------------------------------------
def log_files(logdir: str | Path) -> list[Path]:
    """Every ``*.jsonl`` file under ``logdir``, in a fixed order."""
    root = Path(logdir)
    if not root.is_dir():
        raise LogError(f"{root}: not a directory of event logs")
    files = sorted(p for p in root.rglob("*.jsonl") if p.is_file())
    if not files:
        raise LogError(f"{root}: no event logs (*.jsonl) found")
    return files


def read_logs(files: Sequence[Path], known: set[str] | None = None) -> dict[int, NodeLog]:
    """Parse every file into per-node logs; raise LogError for damage other than a torn tail.

    A line that is not JSON is *torn* (a node killed mid-write) when it is the last line of
    its file or is followed by a ``start``; any other is damage. With ``known``, an event of
    another kind is refused too.
    """
    with _no_gc():
        return _read_logs(files, known)


def _read_logs(files: Sequence[Path], known: set[str] | None) -> dict[int, NodeLog]:
    logs: dict[int, NodeLog] = {}
    loads, decode_error = orjson.loads, orjson.JSONDecodeError
    for path in files:
        name = str(path)
        pending_torn: int | None = None
        try:
            lines = path.read_bytes().split(b"\n")
        except OSError as exc:
            raise LogError(f"{name}: cannot read ({exc.strerror})") from None
        if lines[-1] == b"":
            lines.pop()
        log: NodeLog | None = None
        for number, line in enumerate(lines, 1):
            try:
                record = loads(line)
                node, event, time = record["node"], record["event"], record["time"]
            except decode_error:
                # A torn line is a prefix of an object, which never parses as JSON.
                if pending_torn is not None:
                    raise LogError(f"{name}:{pending_torn}: not a JSON event") from None
                pending_torn = number
                continue
            except (KeyError, TypeError):
                raise LogError(f"{name}:{number}: not an event: it needs the fields "
                               f"{', '.join(_REQUIRED)}") from None
            seq = record.get("seq")
            if ("state" not in record or type(seq) is not int or type(node) is not int
                    or node < 1 or type(time) not in _NUMBERS):
                raise LogError(f"{name}:{number}: not an event: it needs the fields "
                               f"{', '.join(_REQUIRED)}; 'node' and 'seq' ints, 'time' a "
                               f"number")
            if known is not None and event not in known:
                raise LogError(f"{name}:{number}: unknown event {event!r}; valid: "
                               f"{', '.join(sorted(known))}")
            if log is None or log.node != node:
                log = logs.get(node)
                if log is None:
                    log = logs[node] = NodeLog(node, name)
                elif log.file != name:
                    raise LogError(f"{name}:{number}: node {node} also logs in {log.file}; "
                                   f"one file per node, so that its order is known")
            if pending_torn is not None:
                if event != START:
                    raise LogError(f"{name}:{pending_torn}: not a JSON event")
                log.torn_lines.append((name, pending_torn))
                pending_torn = None
            if log.events and seq != log.events[-1]["seq"] + 1:
                raise LogError(f"{name}:{number}: node {node}'s seq {seq} follows "
                               f"{log.events[-1]['seq']}: lines are missing or out of order")
            log.events.append(record)
            log.lines.append(number)
        if pending_torn is not None:
            if log is None:
                raise LogError(f"{name}:{pending_torn}: not a JSON event")
            log.torn_lines.append((name, pending_torn))
            log.torn = (name, pending_torn)
    return logs


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

    def __init__(self, model: ActorModel, mapping: LogMapping, logs: Mapping[int, NodeLog]
                 ) -> None:
        servers = max(logs)
        self.logs = logs
        self.model = model
        self.mapping = mapping
        self.handlers: dict[str, Callable[[int, Any], Outcome | None]] = dict(
            model.local_actions())
        unknown = sorted(set(mapping.events.values()) - set(self.handlers))
        if unknown:
            raise LogError(f"the log mapping names actions {unknown} that the model "
                           f"{model.name} lacks; valid: {', '.join(self.handlers)}")
        init = model.init_states()[0]
        self.locals: list[Any] = list(init.locals)
        self.net: set = set(init.net)
        self.history: set = set(init.history)
        self.persisted: list[Any] = [None] + [mapping.durable(x) for x in self.locals]
        self.pending: list[_Pending | None] = [None] * (servers + 1)
        self.last_sends: list[frozenset] = [frozenset()] * (servers + 1)
        self.actions: list[tuple[str, dict[str, Any]] | None] = []
        self.always = [(name, pred) for name, kind, pred in model.state_properties()
                       if kind == "always"]
        self.message_props = list(model.message_properties())
        self.next_check = CHECK_EVERY
        self.applied: tuple | None = None
        self.crashed = {"undone": 0, "kept": 0}
        self.fits = mapping.fits
        # The last logged state that was checked against each node's current model state:
        # cleared whenever that model state changes.
        self.checked: list[Any] = [None] * (servers + 1)

        self.dispatch: dict[str, Callable[[Record], None]] = {
            SEND: self._send, PERSIST: self._persist, DELIVER: self._deliver,
            START: self._start, LOG_FULL: self._log_full}
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
            raise _Misfit(f"{m} left before the state that produced it was persisted "
                          f"(memory: {self.mapping.durable(self.locals[s - 1])}, "
                          f"disk: {self.persisted[s]})")
        if m not in self.net:
            sent = ", ".join(map(str, sorted(self.last_sends[s], key=self.model.message_key)))
            raise _Misfit(f"{m} was never sent by a step of the model (node {s}'s last step "
                          f"sent: {sent or 'nothing'})")
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
            raise _Misfit(f"the node recovered {self.persisted[s]} from disk, but the model's "
                          f"{action} recovers {self.mapping.durable(self.locals[s - 1])}")
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
            self.pending[s] = _Pending(len(self.actions) - 1, before, new_history,
                                       frozenset(new_net))
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
            raise _Misfit(f"node {s} went on before its state was persisted (memory: "
                          f"{self.mapping.durable(self.locals[s - 1])}, disk: "
                          f"{self.persisted[s]})")

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
            raise _Misfit(f"the node's state {after}is {logged}, the "
                          f"model's is {model}")
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
            raise LogError(f"{self.where(ev)}: '{ev['event']}' needs a valid 'durable' "
                           f"({exc})") from None

    def allowed(self, s: int) -> list[str]:
        """What the model allowed server ``s`` to do in the current state (for the report)."""
        out = [f"{name}(s={s})" for name, handler in self.handlers.items()
               if handler(s, self.locals[s - 1]) is not None]
        inbound = sorted((m for m in self.net if m.dst == s), key=self.model.message_key)
        shown = ", ".join(map(str, inbound[:6])) + (", ..." if len(inbound) > 6 else "")
        if inbound:
            out.append(f"Receive of {len(inbound)} message(s) in the network: {shown}")
        return out


def merged(logs: Mapping[int, NodeLog], message: Callable[[Any], Hashable],
           stuck: list[Record]) -> Iterator[tuple[Record, Any]]:
    """Events in one order consistent with every node's order and every delivery after a
    send of an equal message; earliest ``time`` first among the ready ones.

    Yields each line with its message (a send or a delivery) or None. If some deliveries
    never become ready, they (each node's first waiting delivery) are put in ``stuck`` at
    the end.
    """

    def bad(ev: Record, exc: Exception) -> LogError:
        return LogError(f"{logs[ev['node']].where(ev)}: '{ev['event']}' needs a valid 'msg' "
                        f"({exc})")

    heads = dict.fromkeys(logs, 0)
    heap = [(log.events[0]["time"], node) for node, log in logs.items() if log.events]
    heapq.heapify(heap)
    sent: set = set()
    waiting: dict[Hashable, list[int]] = {}
    pop, push = heapq.heappop, heapq.heappush
    while heap:
        _, node = pop(heap)
        events = logs[node].events
        end = len(events)
        i = heads[node]
        # Run on along this node while it stays the earliest: most events come in runs (a
        # handled event, its persist, its sends), and this spares the heap.
        while True:
            ev = events[i]
            kind = ev["event"]
            m = None
            if kind == SEND or kind == DELIVER:
                try:
                    m = message(ev["msg"])
                except (KeyError, TypeError, ValueError) as exc:
                    raise bad(ev, exc) from None
                if kind == DELIVER and m not in sent:
                    waiting.setdefault(m, []).append(node)
                    heads[node] = i
                    break
            yield ev, m
            if kind == SEND:
                if m not in sent:
                    sent.add(m)
                    for parked in waiting.pop(m, ()):
                        push(heap, (logs[parked].events[heads[parked]]["time"], parked))
            i += 1
            if i == end:
                heads[node] = i
                break
            if heap and events[i]["time"] > heap[0][0]:
                heads[node] = i
                push(heap, (events[i]["time"], node))
                break
    waiting_heads = [logs[n].events[heads[n]] for nodes in waiting.values() for n in nodes]
    stuck += sorted(waiting_heads, key=lambda e: (e["time"], e["node"]))


def validate_logs(logs: dict[int, NodeLog], mapping: LogMapping) -> Validation:
    """Validate per-node logs (from :func:`read_logs`) against the mapping's model."""
    with _no_gc():
        return _validate_logs(logs, mapping)


def _validate_logs(logs: dict[int, NodeLog], mapping: LogMapping) -> Validation:
    if not logs:
        raise LogError("no events in the logs")
    known = {*mapping.events, PERSIST, SEND, DELIVER, LOG_FULL}
    for log in logs.values():
        for ev in log.events:
            if ev["event"] not in known:
                raise LogError(f"{log.where(ev)}: unknown event {ev['event']!r}; valid: "
                               f"{', '.join(sorted(known))}")
    servers = max(logs)
    records = [ev for log in logs.values() for ev in log.events]
    try:
        model = mapping.model(servers, records)
    except (KeyError, TypeError, ValueError) as exc:
        raise LogError(f"the logs do not give a model: {exc}") from None
    validator = Validator(model, mapping, logs)
    result = Validation(model, logs, {n: 0 for n in sorted(logs)}, validator.actions,
                        crashed=validator.crashed)
    for log in logs.values():
        result.unmatched += [f"{f}:{n}: torn line (node {log.node} killed mid-write)"
                             for f, n in log.torn_lines]
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
        failed.append(Misfit(logs[s].event(item), exc.reason, str(validator.locals[s - 1]),
                             validator.allowed(s)))
    result.validated = {n: counts[n] for n in sorted(logs)}
    if stuck and not failed:
        if capped:
            result.incomplete = (f"node(s) {capped} stopped logging at their size cap; "
                                 f"{len(stuck)} deliveries could not be ordered")
            result.unmatched += [f"{logs[e['node']].where(e)}: delivery of a message whose "
                                 f"send was not logged" for e in stuck]
        else:
            first = stuck[0]
            node = first["node"]
            failed.append(Misfit(logs[node].event(first), "it delivers a message that no "
                                 "line ever sent before it", str(validator.locals[node - 1]),
                                 validator.allowed(node)))
    if failed:
        first_time = min(log.events[0]["time"] for log in logs.values() if log.events)
        result.misfit = Misfit(failed[0].event, failed[0].reason, failed[0].model_state,
                               failed[0].allowed, failed[0].event.time - first_time)
    elif result.incomplete is None:
        problem = validator.check_network()
        if problem is not None:
            last = max((log.events[-1] for log in logs.values() if log.events),
                       key=lambda e: e["time"])
            result.misfit = Misfit(logs[last["node"]].event(last), problem, "", [])
    return result


def validate_dir(logdir: str | Path, mapping: LogMapping) -> Validation:
    """Read every ``*.jsonl`` log under ``logdir`` and validate it."""
    known = {*mapping.events, PERSIST, SEND, DELIVER, LOG_FULL}
    return validate_logs(read_logs(log_files(logdir), known), mapping)


def prefix_steps(model: ActorModel, actions: Sequence[tuple[str, Mapping[str, Any]]],
                 limit: int) -> tuple[ActorState, list[Step]]:
    """The first ``limit`` validated actions as model steps with full states (for a trace)."""
    handlers = dict(model.local_actions())
    init = model.init_states()[0]
    state, steps = init, []
    for action, params in actions[:limit]:
        if action == RECEIVE:
            m = params["m"]
            s, outcome = m.dst, model.receive(state.locals[m.dst - 1], m)
        else:
            s = params["s"]
            outcome = handlers[action](s, state.locals[s - 1])
        assert outcome is not None, "a validated action is enabled"
        state = model.apply(state, s, outcome)
        steps.append(Step(action, dict(params), state, outcome.sends))
    return init, steps


def report(result: Validation, seconds: float | None = None) -> str:
    """The human report: events per node, the verdict, the first misfit, what is unmatched."""
    per_node = ", ".join(f"node {n}: {k}" for n, k in sorted(result.validated.items()))
    speed = f" in {seconds:.2f} s" if seconds is not None else ""
    params = ", ".join(f"{k}={v}" for k, v in result.model.parameters.items())
    lines = [f"validated {result.total} events{speed} ({per_node})"]
    undone, kept = result.crashed.get("undone", 0), result.crashed.get("kept", 0)
    if undone or kept:
        lines.append(f"killed between an event and its persist line: {undone} event(s) "
                     f"undone (the fsync had not finished), {kept} kept (it had)")
    lines += [f"could not be matched: {u}" for u in result.unmatched[:20]]
    if len(result.unmatched) > 20:
        lines.append(f"... and {len(result.unmatched) - 20} more")
    if result.misfit is not None:
        lines.append(result.misfit.describe())
        lines.append(f"verdict: NOT a behaviour of {result.model.name}({params})")
    elif result.incomplete is not None:
        lines.append(f"verdict: incomplete: {result.incomplete}")
    else:
        rest = " (the rest validates)" if result.unmatched else ""
        lines.append(f"verdict: every event fits {result.model.name}({params}){rest}")
    return "\n".join(lines)


def find_bundle(protocol: str | None = None) -> ModuleType:
    """The module ``checker.protocols.<protocol>.validate`` of a bundle that validates logs.

    It provides ``log_mapping()`` (a fresh :class:`LogMapping`) and, for `electkit chaos`,
    ``run_chaos(directory, **options)``. Without a name: the only bundle that has one.
    """
    import checker.protocols as protocols

    names = sorted(m.name for m in pkgutil.iter_modules(protocols.__path__) if m.ispkg)
    if protocol is not None and protocol not in names:
        raise LogError(f"unknown protocol {protocol!r}; valid: {', '.join(names)}")
    found = []
    for name in [protocol] if protocol is not None else names:
        module_name = f"checker.protocols.{name}.validate"
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            continue
        if hasattr(module, "log_mapping"):
            found.append(module)
    if len(found) != 1:
        which = protocol or ", ".join(names) or "none"
        raise LogError(f"no single protocol bundle validates logs (looked at: {which}); "
                       f"name one with --protocol")
    return found[0]
