"""Event logs of a real run, read and merged: the input of log validation (validate.py).

docs/validation.md gives the format: one JSON object per line, with ``seq``, ``node``,
``time``, ``event`` and ``state``. :func:`read_logs` groups the lines by node, keeps each
node's file order, tells a torn line (a node killed mid-write) from damage, and refuses what
cannot be read with its file and line. :func:`merged` orders every node's lines into one
sequence in which each delivery comes after a line that sent an equal message.
"""

from __future__ import annotations

import gc
import heapq
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from checker.errors import ElectkitError

START, PERSIST, SEND, DELIVER, LOG_FULL = "start", "persist", "send", "deliver", "log-full"
BUILT_IN = (PERSIST, SEND, DELIVER, LOG_FULL)  # events the engine knows; the rest: a mapping
_REQUIRED = ("seq", "node", "time", "event", "state")
_NUMBERS = (int, float)


class LogError(ElectkitError):
    """A log that cannot be read: a line that is not JSON or names an unknown event."""


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
        for index, entry in enumerate(self.events):
            if entry is record:  # only on the way to a report: a scan is fine
                return Event(
                    self.node, record["event"], record["time"], self.file, self.lines[index], record
                )
        raise ValueError(f"not a record of node {self.node}")

    def where(self, record: Record) -> str:
        """``file:line`` of one of this node's records."""
        return self.event(record).where


@contextmanager
def no_gc() -> Iterator[None]:
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
    with no_gc():
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
                raise LogError(
                    f"{name}:{number}: not an event: it needs the fields {', '.join(_REQUIRED)}"
                ) from None
            seq = record.get("seq")
            if (
                "state" not in record
                or type(seq) is not int
                or type(node) is not int
                or node < 1
                or type(time) not in _NUMBERS
            ):
                raise LogError(
                    f"{name}:{number}: not an event: it needs the fields "
                    f"{', '.join(_REQUIRED)}; 'node' and 'seq' ints, 'time' a "
                    f"number"
                )
            if known is not None and event not in known:
                raise LogError(
                    f"{name}:{number}: unknown event {event!r}; valid: {', '.join(sorted(known))}"
                )
            if log is None or log.node != node:
                log = logs.get(node)
                if log is None:
                    log = logs[node] = NodeLog(node, name)
                elif log.file != name:
                    raise LogError(
                        f"{name}:{number}: node {node} also logs in {log.file}; "
                        f"one file per node, so that its order is known"
                    )
            if pending_torn is not None:
                if event != START:
                    raise LogError(f"{name}:{pending_torn}: not a JSON event")
                log.torn_lines.append((name, pending_torn))
                pending_torn = None
            if log.events and seq != log.events[-1]["seq"] + 1:
                raise LogError(
                    f"{name}:{number}: node {node}'s seq {seq} follows "
                    f"{log.events[-1]['seq']}: lines are missing or out of order"
                )
            log.events.append(record)
            log.lines.append(number)
        if pending_torn is not None:
            if log is None:
                raise LogError(f"{name}:{pending_torn}: not a JSON event")
            log.torn_lines.append((name, pending_torn))
            log.torn = (name, pending_torn)
    return logs


def merged(
    logs: Mapping[int, NodeLog], message: Callable[[Any], Hashable], stuck: list[Record]
) -> Iterator[tuple[Record, Any]]:
    """Events in one order consistent with every node's order and every delivery after a
    send of an equal message; earliest ``time`` first among the ready ones.

    Yields each line with its message (a send or a delivery) or None. If some deliveries
    never become ready, they (each node's first waiting delivery) are put in ``stuck`` at
    the end.
    """

    def bad(ev: Record, exc: Exception) -> LogError:
        return LogError(
            f"{logs[ev['node']].where(ev)}: '{ev['event']}' needs a valid 'msg' ({exc})"
        )

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
