"""The event log writer: sequence across restarts, a torn line closed off, the size cap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from impl.errors import ImplError
from impl.eventlog import EventLogWriter, read_event_log

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
