"""The event log writer: sequence across restarts, a torn line closed off, the size cap."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

from impl import eventlog
from impl.errors import ImplError
from impl.eventlog import (
    EventJournal,
    EventLogWriter,
    check_logs,
    last_seq,
    leaders_by_term,
    read_event_log,
    votes_by_term,
)
from impl.messages import Heartbeat, RequestVote, Vote
from impl.node import Durable, Node, Output

STATE = {"id": 1, "term": 0, "voted_for": None, "role": "follower", "votes": [], "leader": None}


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def test_the_sequence_continues_after_a_restart_and_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    first = EventLogWriter(path, 1)
    first.open()
    assert [first.write("start", STATE), first.write("timeout", STATE)] == [1, 2]
    first.close()
    with open(path, "ab") as f:
        f.write(b'{"seq": 3, "node": 1, "ev')  # killed mid-write
    second = EventLogWriter(path, 1)
    second.open()
    assert second.write("start", STATE) == 3
    second.close()
    lines = _lines(path)
    assert lines[2] == '{"seq": 3, "node": 1, "ev' and json.loads(lines[3])["event"] == "start"
    assert [e["seq"] for e in read_event_log(path)] == [1, 2, 3]  # the torn line is skipped


def test_garbage_that_is_not_a_torn_line_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    writer = EventLogWriter(path, 1)
    writer.open()
    writer.write("start", STATE)
    with open(path, "ab") as f:
        f.write(b"garbage\n")
    writer.write("timeout", STATE)
    writer.close()
    with pytest.raises(ImplError, match="events.jsonl:2: not a JSON event"):
        read_event_log(path)


def test_the_size_cap_ends_the_log_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    writer = EventLogWriter(path, 1, max_bytes=1000)
    writer.open()
    written = [writer.write("timeout", STATE) for _ in range(20)]
    writer.close()
    assert None in written and path.stat().st_size <= 1000 + 300
    events = [json.loads(line)["event"] for line in _lines(path)]
    assert events[-1] == "log-full" and events.count("log-full") == 1


# ---- the writer's edges: the size cap to the byte, the sequence, the descriptor


@pytest.fixture
def fixed_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every line the same length: the time field is fixed (so the cap can be hit exactly)."""
    monkeypatch.setattr(eventlog, "time", SimpleNamespace(time=lambda: 1700000000.5))


def _line(seq: int, event: str = "timeout", state: dict = STATE) -> bytes:
    record = {"seq": seq, "node": 1, "time": 1700000000.5, "event": event, "state": state}
    return (json.dumps(record, separators=(",", ":")) + "\n").encode()


def test_a_line_that_fills_the_cap_exactly_is_written(tmp_path: Path, fixed_time: None) -> None:
    path = tmp_path / "events.jsonl"
    writer = EventLogWriter(path, 1, max_bytes=len(_line(1)) + len(_line(2)))
    assert writer.seq == 0
    writer.open()
    assert [writer.write("timeout", STATE), writer.write("timeout", STATE)] == [1, 2]
    assert writer.write("timeout", STATE) is None  # full: dropped, no log-full line fits
    writer.close()
    assert path.read_bytes() == _line(1) + _line(2) + _line(3, "log-full")
    again = EventLogWriter(path, 1, max_bytes=path.stat().st_size)  # full at the start
    again.open()
    assert again.write("start", STATE) is None
    again.close()
    assert path.read_bytes() == _line(1) + _line(2) + _line(3, "log-full")


def test_the_cap_counts_the_newline_that_closes_a_torn_line(
    tmp_path: Path, fixed_time: None
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(_line(1) + b'{"seq":2,"no')  # killed mid-write
    size = len(_line(1)) + len(b'{"seq":2,"no') + 1  # with the newline that ends it
    writer = EventLogWriter(path, 1, max_bytes=size + len(_line(2)))
    writer.open()
    assert writer.write("timeout", STATE) == 2  # fits exactly
    assert writer.write("timeout", STATE) is None
    writer.close()
    assert path.read_bytes() == _line(1) + b'{"seq":2,"no\n' + _line(2) + _line(3, "log-full")


def test_a_log_below_its_cap_at_the_start_is_written(tmp_path: Path, fixed_time: None) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(_line(1))
    writer = EventLogWriter(path, 1, max_bytes=len(_line(1)) + 1)
    writer.open()
    assert writer.write("timeout", STATE) is None  # the cap is reached: one log-full line
    writer.close()
    assert path.read_bytes() == _line(1) + _line(2, "log-full")


def test_close_releases_the_descriptor_and_is_idempotent(tmp_path: Path) -> None:
    before = set(os.listdir("/proc/self/fd"))
    writer = EventLogWriter(tmp_path / "a" / "b" / "events.jsonl", 1)  # parents made
    assert writer.write("start", STATE) is None  # not open: nothing written
    writer.open()
    assert len(os.listdir("/proc/self/fd")) == len(before) + 1
    writer.close()
    writer.close()
    assert set(os.listdir("/proc/self/fd")) == before
    assert writer.write("start", STATE) is None  # closed: nothing written


@pytest.mark.parametrize(
    ("tail", "seq"),
    [
        (b"", 0),
        (b'{"seq": 4}\n', 4),
        (b'{"seq": 4}\n{"seq": 5, "ev', 4),  # a torn last line
        (b'{"seq": 4}\n[5]\n{"seq": true}\n"x"\n', 4),
        (b"garbage\n", 0),
    ],
)
def test_last_seq_is_that_of_the_last_complete_record(tail: bytes, seq: int) -> None:
    assert last_seq(tail) == seq


def test_a_torn_line_is_skipped_only_before_a_start_or_at_the_end(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    start, timeout = '{"seq": 2, "event": "start"}\n', '{"seq": 2, "event": "timeout"}\n'
    path.write_text('{"seq": 1, "event": "start"}\n{"seq": 2, "ev\n' + start)
    assert [e["seq"] for e in read_event_log(path)] == [1, 2]
    path.write_text('{"seq": 1, "event": "start"}\n{"seq": 2, "ev\n' + timeout)
    with pytest.raises(ImplError, match=r"events.jsonl:2: not a JSON event \(Invalid control"):
        read_event_log(path)
    path.write_text('{"seq": 1, "event": "start"}\n{"se\n{"se\n' + start)
    with pytest.raises(ImplError, match="events.jsonl:2: not a JSON event"):
        read_event_log(path)
    path.write_text('{"seq": 1, "event": "start"}\n{"se')
    assert [e["seq"] for e in read_event_log(path)] == [1]
    path.write_text("")
    assert read_event_log(path) == []


# ---- the journal: what the server logs and when


def _events(path: Path) -> list[tuple]:
    return [(e["event"], e.get("msg", {}).get("type"), e["state"]["term"])
            for e in read_event_log(path)]


def test_the_journal_logs_changes_and_leaves_out_idle_events(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    writer = EventLogWriter(path, 1)
    writer.open()
    journal, node = EventJournal(writer), Node(1, [1, 2, 3], Durable(0, None))
    journal.start(node)
    out = node.on_election_timeout()  # term 1, a candidate: a change
    journal.handled("timeout", None, out, node)
    journal.persisted(out.persist, node)
    for m in out.send:
        journal.send(m, node)
    journal.send(out.send[0], node)  # the same datagram again: a repeat, left out
    refused = node.on_message(Vote(1, 2, 1, False))  # nothing changes: idle, left out
    journal.handled("deliver", Vote(1, 2, 1, False), refused, node)
    journal.send(out.send[0], node)  # still a repeat after an idle event of the same term
    out = node.on_message(Vote(1, 2, 1, True))  # elected: a change, with new messages
    journal.handled("deliver", Vote(1, 2, 1, True), out, node)
    beat = node.on_heartbeat_timer()  # the same state, but heartbeats not sent before
    journal.handled("heartbeat", None, beat, node)
    for m in beat.send:
        journal.send(m, node)
    journal.handled("heartbeat", None, node.on_heartbeat_timer(), node)  # a repeat: idle
    writer.close()
    assert _events(path) == [
        ("start", None, 0),
        ("timeout", None, 1),
        ("persist", None, 1),
        ("send", "RequestVote", 1),
        ("send", "RequestVote", 1),
        ("deliver", "Vote", 1),
        ("heartbeat", None, 1),
        ("send", "Heartbeat", 1),
        ("send", "Heartbeat", 1),
    ]
    events = read_event_log(path)
    assert events[0]["pid"] == os.getpid() and events[0]["durable"] == {"term": 0,
                                                                       "voted_for": None}
    assert events[2]["durable"] == {"term": 1, "voted_for": 1}
    assert events[5]["msg"] == {"type": "Vote", "term": 1, "src": 2, "dst": 1, "granted": True}
    assert events[5]["state"]["role"] == "leader"


def test_a_persist_alone_is_not_idle(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    writer = EventLogWriter(path, 1)
    writer.open()
    journal, node = EventJournal(writer), Node(1, [1, 2], Durable(0, None))
    journal.start(node)
    journal.handled("timeout", None, Output(persist=Durable(0, None)), node)
    writer.close()
    assert _events(path) == [("start", None, 0), ("timeout", None, 0)]


def test_with_log_idle_every_event_and_send_is_logged(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    writer = EventLogWriter(path, 1)
    writer.open()
    journal, node = EventJournal(writer, log_idle=True), Node(1, [1, 2], Durable(0, None))
    journal.start(node)
    journal.handled("heartbeat", None, node.on_heartbeat_timer(), node)
    m = RequestVote(0, 1, 2)
    journal.send(m, node)
    journal.send(m, node)
    writer.close()
    assert _events(path) == [("start", None, 0), ("heartbeat", None, 0),
                             ("send", "RequestVote", 0), ("send", "RequestVote", 0)]


def test_a_send_dropped_by_a_full_log_is_tried_again(tmp_path: Path, fixed_time: None) -> None:
    path = tmp_path / "events.jsonl"
    writer = EventLogWriter(path, 1, max_bytes=10)
    writer.open()
    journal, node = EventJournal(writer), Node(1, [1, 2], Durable(0, None))
    m = RequestVote(0, 1, 2)
    journal.send(m, node)  # the log is full at once: log-full, the send not remembered
    writer.max_bytes, writer._full = 10**6, False  # room again (as after a rotation)
    journal.send(m, node)
    writer.close()
    assert [e["event"] for e in read_event_log(path)] == ["log-full", "send"]


def test_a_new_term_forgets_the_messages_sent_before(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    writer = EventLogWriter(path, 1)
    writer.open()
    journal, node = EventJournal(writer), Node(1, [1, 2, 3], Durable(0, None))
    m = Heartbeat(0, 1, 2)
    journal.handled("timeout", None, Output(), node)  # term 0 seen
    journal.send(m, node)
    node.on_message(RequestVote(3, 2, 1))  # term 3
    journal.handled("deliver", RequestVote(3, 2, 1), Output(), node)
    assert journal._sent == set()  # the memory of term 0's messages is gone
    writer.close()


def test_check_logs_finds_two_leaders_and_two_votes_in_a_term() -> None:
    def ev(term: int, role: str, voted_for: int | None = None, durable: bool = False) -> dict:
        event = {"state": {"term": term, "role": role, "voted_for": voted_for}}
        if durable:
            event["durable"] = {"term": term, "voted_for": voted_for}
        return event

    safe = {1: [ev(1, "leader", 1, True), ev(2, "follower", 2, True)],
            2: [ev(1, "follower", 1, True), ev(2, "leader", 2, True)],
            3: [ev(2, "candidate", 3), ev(2, "follower", None, True)]}
    assert check_logs(safe) == []
    assert leaders_by_term(safe) == {1: {1}, 2: {2}}
    assert votes_by_term(safe) == {(1, 1): {1}, (1, 2): {2}, (2, 1): {1}, (2, 2): {2}}
    unsafe = {1: [ev(4, "leader", 1)], 2: [ev(4, "leader", 2)],
              3: [ev(4, "follower", 1, True), ev(4, "follower", 2, True), ev(4, "follower", 9)]}
    assert check_logs(unsafe) == ["term 4 has two leaders: nodes [1, 2]",
                                  "node 3 voted for [1, 2] in term 4"]
    assert len(check_logs({n: iter(events) for n, events in unsafe.items()})) == 2


class _FailingWrites:
    """The os module, but the next ``failures`` calls of ``write`` fail with ENOSPC before
    writing anything (a full disk), as the real call would."""

    def __init__(self, failures: int) -> None:
        self.failures = failures

    def __getattr__(self, name: str) -> object:
        return getattr(os, name)

    def write(self, fd: int, data: bytes) -> int:
        if self.failures:
            self.failures -= 1
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return os.write(fd, data)


def test_a_line_that_failed_to_be_written_does_not_count_toward_the_cap(
    tmp_path: Path, fixed_time: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.jsonl"
    writer = EventLogWriter(path, 1, max_bytes=len(_line(1)) + len(_line(3)))
    writer.open()
    assert writer.write("timeout", STATE) == 1
    monkeypatch.setattr(eventlog, "os", _FailingWrites(1))
    with pytest.raises(OSError):
        writer.write("timeout", STATE)  # seq 2: lost with the write that failed
    assert writer.write("timeout", STATE) == 3  # fits exactly: the lost line took no room
    writer.close()
    assert path.read_bytes() == _line(1) + _line(3)


def test_a_newline_that_failed_to_be_written_does_not_count_toward_the_cap(
    tmp_path: Path, fixed_time: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.jsonl"
    path.write_bytes(_line(1) + b'{"se')  # torn
    writer = EventLogWriter(path, 1, max_bytes=len(_line(1)) + 4 + len(_line(2)))
    monkeypatch.setattr(eventlog, "os", _FailingWrites(1))
    with pytest.raises(OSError):
        writer.open()  # closing off the torn line failed: nothing was added
    assert writer.write("timeout", STATE) is not None  # fits exactly (its seq was not read)
    writer.close()
    assert path.stat().st_size == writer.max_bytes
    assert path.read_bytes().startswith(_line(1) + b'{"se{"seq":')


def test_an_event_whose_line_was_lost_is_logged_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.jsonl"
    writer = EventLogWriter(path, 1)
    writer.open()
    journal, node = EventJournal(writer), Node(1, [1, 2, 3], Durable(0, None))
    journal.start(node)
    out = node.on_election_timeout()
    monkeypatch.setattr(eventlog, "os", _FailingWrites(1))
    with pytest.raises(OSError):
        journal.handled("timeout", None, out, node)  # the disk was full: the line is lost
    journal.handled("timeout", None, Output(), node)  # the same state: not idle, not logged yet
    writer.close()
    assert [(e["event"], e["state"]["term"]) for e in read_event_log(path)] == [
        ("start", 0), ("timeout", 1)]
