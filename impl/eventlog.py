"""Node event logs: writing them (one JSON object a line), reading them, and two safety checks.

Each line is one event of one node with the node's state after it; docs/validation.md gives
the format. :class:`EventLogWriter` writes them for :mod:`impl.server`: one ``write(2)`` per
line on an ``O_APPEND`` descriptor, a per-node sequence number that continues across
restarts, a torn last line (a node killed mid-write) closed off before the next start writes,
and a size cap. Over the logs of every node of a run, across restarts, :func:`check_logs`
checks that:

* no two nodes were ever leader in the same term (ElectionSafety), and
* no node persisted two different votes in one term (the durable vote did its job).

>>> check_logs({1: [{"state": {"term": 2, "role": "leader", "voted_for": 1}}],
...             2: [{"state": {"term": 2, "role": "leader", "voted_for": 2}}]})
['term 2 has two leaders: nodes [1, 2]']
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from impl.errors import ImplError
from impl.messages import Message, message_to_dict
from impl.node import Durable, Node, Output

DEFAULT_MAX_BYTES = 256 * 2**20
_TAIL = 1 << 16  # a line is far shorter: the last complete one is always in this window


class EventLogWriter:
    """Appends the events of one node to ``path``, at most ``max_bytes`` of them.

    When the cap is reached one last ``log-full`` line is written and later events are
    dropped (the node keeps running): validation then covers the run up to that line.
    """

    def __init__(self, path: str | Path, node_id: int,
                 max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self.path = Path(path)
        self.node_id = node_id
        self.max_bytes = max_bytes
        self.seq = 0
        self._fd: int | None = None
        self._size = 0
        self._full = False

    def open(self) -> None:
        """Open for appending; continue the sequence; close off a torn last line."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        self._size = os.fstat(self._fd).st_size
        tail = os.pread(self._fd, min(self._size, _TAIL), max(0, self._size - _TAIL))
        if tail and not tail.endswith(b"\n"):
            # The previous process died mid-write: end its torn line, so that it stays the
            # last line of that process and this process starts on a line of its own.
            os.write(self._fd, b"\n")
            self._size += 1
        self.seq = last_seq(tail)
        self._full = self._size >= self.max_bytes

    def write(self, event: str, state: dict[str, Any], **fields: Any) -> int | None:
        """Append one event; returns its sequence number, or None when not written."""
        if self._fd is None or self._full:
            return None
        self.seq += 1
        record = {"seq": self.seq, "node": self.node_id, "time": time.time(), "event": event,
                  **fields, "state": state}
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        if self._size + len(line) > self.max_bytes:
            self._full = True
            record = {"seq": self.seq, "node": self.node_id, "time": time.time(),
                      "event": "log-full", "state": state}
            line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        # One write(2) per line on an O_APPEND fd: lines of one file never interleave.
        os.write(self._fd, line)
        self._size += len(line)
        return None if self._full else self.seq

    def close(self) -> None:
        """Close the file; idempotent."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class EventJournal:
    """What the server logs and when: the one place that decides the log's lines.

    ``handled`` is called after a handler and before its save, ``persisted`` after the fsync,
    ``send`` before a datagram leaves. An idle event (state unchanged, nothing to persist,
    every message a repeat of one already logged) and repeated sends are left out unless
    ``log_idle``. Every message a node sends carries its current term, so the memory of
    logged messages is cleared when the term changes.
    """

    def __init__(self, writer: EventLogWriter, log_idle: bool = False) -> None:
        self.writer = writer
        self.log_idle = log_idle
        self._state: dict[str, Any] | None = None
        self._sent: set[Message] = set()
        self._term = -1

    def start(self, node: Node) -> None:
        """The process (re)started; ``node`` was rebuilt from the vote file."""
        self._state = node.snapshot().to_dict()
        self.writer.write("start", self._state, pid=os.getpid(),
                          durable=_durable_view(node.durable()))

    def handled(self, event: str, msg: Message | None, out: Output, node: Node) -> None:
        """A handler ran: ``timeout``, ``heartbeat`` or ``deliver`` (of ``msg``)."""
        state = node.snapshot().to_dict()
        if state["term"] != self._term:
            self._sent.clear()
            self._term = state["term"]
        idle = (state == self._state and out.persist is None
                and all(m in self._sent for m in out.send))
        if idle and not self.log_idle:
            return
        fields: dict[str, Any] = {} if msg is None else {"msg": message_to_dict(msg)}
        self.writer.write(event, state, **fields)
        self._state = state

    def persisted(self, durable: Durable, node: Node) -> None:
        """``durable`` is on disk (the fsync returned)."""
        self.writer.write("persist", node.snapshot().to_dict(), durable=_durable_view(durable))

    def send(self, m: Message, node: Node) -> None:
        """``m`` is about to leave (or to be dropped by a partition: a lost message)."""
        if m in self._sent and not self.log_idle:
            return
        if self.writer.write("send", node.snapshot().to_dict(),
                             msg=message_to_dict(m)) is not None:
            self._sent.add(m)


def _durable_view(durable: Durable) -> dict[str, Any]:
    return {"term": durable.term, "voted_for": durable.voted_for}


def last_seq(tail: bytes) -> int:
    """The ``seq`` of the last complete JSON line in ``tail`` (0 when there is none)."""
    for line in reversed(tail.split(b"\n")):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and type(record.get("seq")) is int:
            return record["seq"]
    return 0


def read_event_log(path: str | Path) -> list[dict[str, Any]]:
    """Every event of one log file; raises ImplError naming the file and line if damaged.

    A torn line (a node killed mid-write) is skipped: one that is the file's last line or is
    followed by the next process's ``start``. Any other line that is not JSON is damage.
    """
    events: list[dict[str, Any]] = []
    torn: tuple[int, str] | None = None
    with open(path, encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                if torn is not None:
                    break
                torn = (number, str(exc))
                continue
            if torn is not None and record.get("event") != "start":
                break
            torn = None
            events.append(record)
        else:
            return events
    assert torn is not None
    raise ImplError(f"{path}:{torn[0]}: not a JSON event ({torn[1]})")


def leaders_by_term(logs: Mapping[int, Iterable[dict[str, Any]]]) -> dict[int, set[int]]:
    """term -> the set of nodes whose log shows them leading that term."""
    leaders: dict[int, set[int]] = defaultdict(set)
    for node, events in logs.items():
        for event in events:
            state = event["state"]
            if state["role"] == "leader":
                leaders[state["term"]].add(node)
    return dict(leaders)


def votes_by_term(logs: Mapping[int, Iterable[dict[str, Any]]]) -> dict[tuple[int, int], set[int]]:
    """(node, term) -> the servers the node's log shows it durably voting for in that term.

    Only persisted votes count (``start`` and ``persist`` lines): a vote held in memory by a
    node killed before its fsync never left the node, and the restarted node may vote again.
    """
    votes: dict[tuple[int, int], set[int]] = defaultdict(set)
    for node, events in logs.items():
        for event in events:
            durable = event.get("durable")
            if durable is not None and durable["voted_for"] is not None:
                votes[(node, durable["term"])].add(durable["voted_for"])
    return dict(votes)


def check_logs(logs: Mapping[int, Iterable[dict[str, Any]]]) -> list[str]:
    """The safety violations visible in ``logs`` (node -> events); empty when safe."""
    logs = {node: list(events) for node, events in logs.items()}
    problems = [f"term {t} has two leaders: nodes {sorted(ns)}"
                for t, ns in sorted(leaders_by_term(logs).items()) if len(ns) > 1]
    problems += [f"node {n} voted for {sorted(vs)} in term {t}"
                 for (n, t), vs in sorted(votes_by_term(logs).items()) if len(vs) > 1]
    return problems
