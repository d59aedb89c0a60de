"""I/O faults: the injector on real files, the gate's fault stage on the real server, planted
storage bugs it must catch, and real node processes whose storage is taken away."""

from __future__ import annotations

import errno
import functools
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from checker.conformance.iofaults import SHORT_READ, Fault, FaultyFiles, plan
from checker.protocols.raft_election.durability import fault_gate
from impl.errors import StorageError
from impl.node import Durable
from impl.storage import VoteStore, decode_record, encode_record
from tests.conftest import ELECTKIT


# -- the injector -----------------------------------------------------------------------------
def test_plan_covers_every_call_and_kind() -> None:
    faults = plan(["open DIR", "write f", "read f", "fsync f"])
    assert len(faults) == 4 * 3 + 2
    assert {f.kind for f in faults if f.call == 1} == {"ENOSPC", "EIO", "EACCES", "short"}
    assert {f.kind for f in faults if f.call == 3} == {"ENOSPC", "EIO", "EACCES"}


def test_an_error_fires_at_its_call_and_at_every_call_after(tmp_path: Path) -> None:
    files = FaultyFiles(tmp_path, Fault(1, "EIO"))
    fd = files.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT)
    with pytest.raises(OSError) as info:
        files.write(fd, b"abc")
    assert info.value.errno == errno.EIO and (tmp_path / "f").read_bytes() == b""
    with pytest.raises(OSError):
        files.fsync(fd)
    with pytest.raises(OSError):
        files.close(fd)
    with pytest.raises(OSError):  # the close failed, yet the descriptor is gone, as in Linux
        os.fstat(fd)
    assert files.calls == ["open f", "write f", "fsync f", "close f"]
    assert files.errors == 3 and files.failed == "write f"
    assert files.describe() == "EIO at call 2 (write f)"


def test_short_write_and_read_move_part_and_succeed(tmp_path: Path) -> None:
    files = FaultyFiles(tmp_path, Fault(1, "short"))
    fd = files.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT)
    assert files.write(fd, b"0123456789") == 5
    assert files.write(fd, b"56789") == 5  # only one call is short
    files.close(fd)
    assert (tmp_path / "f").read_bytes() == b"0123456789"
    files = FaultyFiles(tmp_path, Fault(1, "short"))
    fd = files.open(tmp_path / "f", os.O_RDONLY)
    (tmp_path / "f").write_bytes(b"x" * 100)
    assert len(files.read(fd, 4096)) == SHORT_READ
    files.close(fd)
    assert files.errors == 0 and files.shortened == "read f"


def test_the_real_store_reads_past_a_short_read_and_writes_past_a_short_write(
    tmp_path: Path,
) -> None:
    VoteStore(tmp_path).save(Durable(123456789, 2))
    for call in range(4):  # lock: mkdir, open, flock; then the load's first read
        store = VoteStore(tmp_path, FaultyFiles(tmp_path, Fault(call, "short")))
        store.lock()
        assert store.load() == Durable(123456789, 2)
        store.unlock()
    store = VoteStore(tmp_path, FaultyFiles(tmp_path, Fault(2, "short")))  # mkdir, open, write
    store.save(Durable(7, 3))
    assert VoteStore(tmp_path).load() == Durable(7, 3)


def test_every_failing_call_of_a_save_is_one_line_naming_file_and_errno(tmp_path: Path) -> None:
    probe = FaultyFiles(tmp_path)
    VoteStore(tmp_path, probe).save(Durable(1, 1))
    assert len(probe.calls) == 12  # the first save also fsyncs the data directory's parent
    for call in range(len(probe.calls)):
        store = VoteStore(tmp_path, FaultyFiles(tmp_path, Fault(call, "ENOSPC")))
        with pytest.raises(StorageError) as info:
            store.save(Durable(2, None))
        message = str(info.value)
        assert "\n" not in message and str(tmp_path / "vote.json") in message
        assert "ENOSPC (No space left on device)" in message
        assert VoteStore(tmp_path).load() in (Durable(1, 1), Durable(2, None))


def test_the_lock_refuses_a_second_store_until_released(tmp_path: Path) -> None:
    first, second = VoteStore(tmp_path), VoteStore(tmp_path)
    first.lock()
    with pytest.raises(StorageError, match="another node is running on the data directory"):
        second.lock()
    first.unlock()
    second.lock()
    second.unlock()


# -- the gate's stage ---------------------------------------------------------------------------
def test_the_real_server_passes_every_fault() -> None:
    passed, summary, details = fault_gate()
    assert passed, details["findings"]
    assert details["calls"] == 19 + 18 and details["runs"] == 3 * 37 + 4
    assert details["by_kind"] == {"ENOSPC": 37, "EIO": 37, "EACCES": 37, "short": 4}
    assert details["damaged"] > 90 and "every run safe" in summary


@functools.cache
def _gate(store: type[VoteStore]) -> tuple[bool, str, dict]:
    return fault_gate(store)  # once per store class: several tests read its findings


class IgnoresFailedSave(VoteStore):
    """Planted bug: a failed save is ignored."""

    def save(self, durable: Durable) -> None:
        try:
            super().save(durable)
        except StorageError:
            pass


class UnreadableAsTermZero(VoteStore):
    """Planted bug: a vote file that cannot be read is taken for no file at all."""

    def load(self) -> Durable:
        try:
            return super().load()
        except StorageError as exc:
            if "cannot read" in str(exc):
                return Durable(0, None)
            raise


class DamagedAsTermZero(VoteStore):
    """Planted bug: a damaged vote file is read as term 0."""

    def load(self) -> Durable:
        try:
            return super().load()
        except StorageError as exc:
            if "cannot read" in str(exc):
                raise
            return Durable(0, None)


class NoLock(VoteStore):
    """Planted bug: two nodes may run on one data directory."""

    def lock(self) -> None:
        pass


class OneWrite(VoteStore):
    """Planted bug: a short write is taken for the whole record."""

    def save(self, durable: Durable) -> None:
        real_write = self.files.write
        self.files.write = lambda fd, data: real_write(fd, data) and len(data)  # type: ignore
        try:
            super().save(durable)
        finally:
            del self.files.write


class OneRead(VoteStore):
    """Planted bug: the vote file is read with one read call."""

    def load(self) -> Durable:
        try:
            fd = self.files.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return Durable(0, None)
        except OSError as exc:
            name = errno.errorcode[exc.errno]
            raise StorageError(f"{self.path}: {exc.strerror}: {name}") from None
        try:
            return decode_record(self.files.read(fd, 4096), self.path)
        finally:
            self.files.close(fd)


@pytest.mark.parametrize(
    ("store", "expected"),
    [
        (IgnoresFailedSave, "kept running after mkdir DIR failed"),
        (IgnoresFailedSave, "but term 6 is above the durable term 5"),
        (IgnoresFailedSave, "sent RequestVote(term=1, src=1, dst=2), but term 1 is above"),
        (UnreadableAsTermZero, "vote, EIO at call 8 (read vote.json): started although read"),
        (DamagedAsTermZero, "started from a damaged vote file (first 0 of 91 bytes) at term 0"),
        (DamagedAsTermZero, "started from a damaged vote file (term 15 changed to 14"),
        (NoLock, "a second node started on the data directory of a running node"),
        (OneWrite, "short at call 13 (write vote.json.tmp): the vote file is unreadable"),
        (OneRead, "short at call 8 (read vote.json): refused to start with no error injected"),
    ],
)
def test_each_planted_storage_bug_is_caught(store: type[VoteStore], expected: str) -> None:
    passed, summary, details = _gate(store)
    assert not passed and "\n" not in summary
    assert any(expected in f for f in details["findings"]), details["findings"]


def test_an_error_without_its_errno_is_a_finding() -> None:
    class Vague(VoteStore):
        def save(self, durable: Durable) -> None:
            try:
                super().save(durable)
            except StorageError:
                raise StorageError(f"{self.path}: cannot save") from None

    passed, _, details = fault_gate(Vague)
    assert not passed
    assert "stopped, but its error does not name the file and ENOSPC" in details["findings"][0]


# -- real node processes ----------------------------------------------------------------------
def _node(tmp_path: Path, data_dir: Path, port: int, *extra: str) -> subprocess.Popen:
    key = tmp_path / "key"
    key.write_text("ab" * 16)
    # Peers 2 and 3 never answer: the node campaigns, and saves, every few milliseconds.
    peers = [f"{i}=127.0.0.1:{p}" for i, p in ((1, port), (2, _free()), (3, _free()))]
    return subprocess.Popen(
        [ELECTKIT, "node", "--id", "1", *(a for p in peers for a in ("--peer", p)),
         "--data-dir", str(data_dir), "--key-file", str(key), "--status-port", "0",
         "--election-timeout", "20-40", "--heartbeat", "5", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _free() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(proc: subprocess.Popen) -> tuple[str, str]:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()


def _wait_up(proc: subprocess.Popen) -> None:
    line = proc.stdout.readline()  # type: ignore[union-attr]
    assert "up, udp" in line, (line, _stop(proc))


def test_two_node_processes_on_one_data_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = _node(tmp_path, data, _free())
    try:
        _wait_up(first)
        second = _node(tmp_path, data, _free())
        try:
            out, err = second.communicate(timeout=30)  # it must exit by itself
        finally:
            _stop(second)
        assert second.returncode == 2, (out, err)
        assert len(err.strip().splitlines()) == 1 and str(data / "vote.lock") in err
        assert "another node is running on the data directory" in err
        assert first.poll() is None  # the first node runs on, untouched
    finally:
        _stop(first)
    assert first.returncode == 0


def test_a_node_whose_storage_is_gone_stops_with_one_line(tmp_path: Path) -> None:
    data = tmp_path / "data"
    node = _node(tmp_path, data, _free(), "--event-log", str(tmp_path / "events.jsonl"))
    try:
        _wait_up(node)
        time.sleep(0.1)  # a few elections: the vote file exists and is being rewritten
        assert VoteStore(data).load().term >= 1
        data.rename(tmp_path / "elsewhere")  # in one step, whatever save is under way
        data.write_text("the data directory is gone")  # the next save cannot make it again
        out, err = node.communicate(timeout=30)
    finally:
        _stop(node)
    assert node.returncode == 2, (out, err)
    assert len(err.strip().splitlines()) == 1, err
    # The save under way fails at its next call (ENOTDIR), or the next save at its mkdir.
    assert re.fullmatch(
        rf"error: {re.escape(str(data / 'vote.json'))}: cannot save vote: \w+ "
        rf"{re.escape(str(data))}\S* failed with (EEXIST \(File exists\)|ENOTDIR \(Not a "
        r"directory\))\n",
        err,
    ), err


def test_a_node_refuses_to_start_from_a_damaged_vote_file(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "vote.json").write_bytes(encode_record(Durable(9, 1))[:40])
    node = _node(tmp_path, data, _free())
    try:
        out, err = node.communicate(timeout=30)  # it must exit by itself
    finally:
        _stop(node)
    assert node.returncode == 2 and len(err.strip().splitlines()) == 1, (out, err)
    assert f"error: {data / 'vote.json'}: corrupt or truncated vote file" in err


def test_a_port_taken_between_runs_is_picked_again(tmp_path: Path) -> None:
    import asyncio

    from checker.protocols.raft_election.iofaults import Harness, _scenario

    harness = Harness(tmp_path, VoteStore)
    stolen = harness.ports[0]
    thief = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        thief.bind(("127.0.0.1", stolen))  # another process took node 1's port
        calls, findings = asyncio.run(_scenario(harness, "vote", None))
    finally:
        thief.close()
        harness.close()
    assert findings == [] and len(calls) == 19 and harness.ports[0] != stolen
