"""The durable vote: real files, real fsync, refusal of anything damaged."""

from __future__ import annotations

import errno
import fcntl
import json
import os
from pathlib import Path

import pytest

from impl.errors import StorageError
from impl.files import OsFileSystem
from impl.node import Durable
from impl.storage import (
    _MAX_SIZE,
    FILE_NAME,
    VoteStore,
    checksum,
    describe_os_error,
    encode_record,
)


def test_absent_file_is_term_zero(tmp_path: Path) -> None:
    assert VoteStore(tmp_path / "never-created").load() == Durable(0, None)


def test_round_trip_and_overwrite(tmp_path: Path) -> None:
    store = VoteStore(tmp_path / "n1")
    for durable in (Durable(1, 1), Durable(2, None), Durable(10**12, 3)):
        store.save(durable)
        assert VoteStore(tmp_path / "n1").load() == durable  # a new object reads the disk
    assert sorted(os.listdir(tmp_path / "n1")) == [FILE_NAME]  # no tmp file left behind


def test_leftover_tmp_file_is_ignored(tmp_path: Path) -> None:
    store = VoteStore(tmp_path)
    store.save(Durable(3, 2))
    (tmp_path / (FILE_NAME + ".tmp")).write_bytes(b"half a rec")  # a save killed mid-write
    assert store.load() == Durable(3, 2)
    store.save(Durable(4, None))
    assert store.load() == Durable(4, None)


def _damaged(tmp_path: Path, data: bytes) -> StorageError:
    (tmp_path / FILE_NAME).write_bytes(data)
    with pytest.raises(StorageError) as info:
        VoteStore(tmp_path).load()
    message = str(info.value)
    assert str(tmp_path / FILE_NAME) in message and "\n" not in message
    return info.value


def test_every_truncation_is_refused(tmp_path: Path) -> None:
    good = encode_record(Durable(12, 3))
    for cut in range(len(good.rstrip())):
        _damaged(tmp_path, good[:cut])


def test_flipped_digit_is_caught_by_checksum(tmp_path: Path) -> None:
    good = encode_record(Durable(12, 3)).decode()
    error = _damaged(tmp_path, good.replace('"term": 12', '"term": 13').encode())
    assert "checksum" in str(error)


def test_every_single_byte_corruption_is_refused_or_harmless(tmp_path: Path) -> None:
    good = encode_record(Durable(7, 2))
    for i in range(len(good)):
        bad = bytearray(good)
        bad[i] ^= 0x01
        (tmp_path / FILE_NAME).write_bytes(bytes(bad))
        try:
            assert VoteStore(tmp_path).load() == Durable(7, 2)  # e.g. whitespace changed
        except StorageError:
            pass


def test_unknown_version_and_garbage_are_refused(tmp_path: Path) -> None:
    record = json.loads(encode_record(Durable(1, 1)))
    record["version"] = 2
    assert "unknown format version 2" in str(_damaged(tmp_path, json.dumps(record).encode()))
    _damaged(tmp_path, b"")
    _damaged(tmp_path, b"\xff\xfe garbage")
    _damaged(tmp_path, b"[1, 2]")
    _damaged(tmp_path, json.dumps({**record, "version": 1, "term": -1}).encode())


def test_unwritable_directory_raises_storage_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StorageError, match="cannot save vote"):
        VoteStore(blocker / "sub").save(Durable(1, 1))


def test_a_term_the_wire_cannot_carry_is_refused(tmp_path):
    from impl.errors import StorageError
    from impl.node import Durable
    from impl.storage import MAX_TERM, VoteStore, encode_record

    (tmp_path / "vote.json").write_bytes(encode_record(Durable(2**64, None)))
    with pytest.raises(StorageError, match="beyond the largest term"):
        VoteStore(tmp_path).load()
    (tmp_path / "vote.json").write_bytes(encode_record(Durable(MAX_TERM, None)))
    assert VoteStore(tmp_path).load().term == MAX_TERM


# ---- each refusal of decode_record in its own words (a later check refusing the same file
# would still stop the node, but with a message naming the wrong cause)


def _record(**changes: object) -> bytes:
    record = json.loads(encode_record(Durable(5, 2)))
    record.update(changes)
    return json.dumps(record).encode()


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "empty or truncated vote file"),
        (b" \n\t", "empty or truncated vote file"),
        (b" " * 5000, "empty or truncated vote file"),
        (b"x" * 5000, "vote file is 4097 bytes, not a vote record"),
        (b'{"term": 1' + b" " * 4100, "vote file is 4097 bytes, not a vote record"),
        (b"{not json", "corrupt or truncated vote file (JSONDecodeError"),
        (b"\xc3\x28", "corrupt or truncated vote file (UnicodeDecodeError"),
        (b"[1, 2]", "not an electkit-vote record"),
        (b"7", "not an electkit-vote record"),
        (None, "not an electkit-vote record"),  # the format field is another's
        (b'{"version": 1}', "not an electkit-vote record"),
        ({"version": None}, "unknown format version None (this build reads version 1)"),
        ({"extra": 1}, "unexpected fields ['crc32', 'extra', 'format', 'term', 'version', 'voted"),
        ({"term": -1}, "corrupt vote record (Durable.term must be an int >= 0, got -1)"),
        ({"term": "5"}, "corrupt vote record (Durable.term must be an int >= 0, got '5')"),
        ({"voted_for": 0}, "corrupt vote record (Durable.voted_for must be None or an int"),
        ({"crc32": 1}, "checksum mismatch, the vote record is corrupt"),
    ],
)
def test_each_damage_is_refused_in_its_own_words(tmp_path: Path, data, why) -> None:
    if data is None:
        data = _record(format="other-vote")
    elif isinstance(data, dict):
        data = _record(**data)
    message = str(_damaged(tmp_path, data))
    assert f"{tmp_path / FILE_NAME}: {why}" in message, message
    assert message.endswith("remove it only if this node never voted")


def test_a_damaged_record_with_a_checksum_that_fits_is_refused(tmp_path: Path) -> None:
    # Written by no build of electkit, but its crc32 matches: the Durable check alone refuses.
    record = {"format": "electkit-vote", "version": 1, "term": -1, "voted_for": None,
              "crc32": checksum(-1, None)}
    error = _damaged(tmp_path, json.dumps(record).encode())
    assert "corrupt vote record (Durable.term" in str(error)


def test_a_record_padded_to_the_size_cap_is_read(tmp_path: Path) -> None:
    good = encode_record(Durable(9, 1))
    for size in (_MAX_SIZE - 1, _MAX_SIZE):
        (tmp_path / FILE_NAME).write_bytes(good + b" " * (size - len(good)))
        assert VoteStore(tmp_path).load() == Durable(9, 1)
    over = good + b" " * (_MAX_SIZE + 1 - len(good))
    assert "vote file is 4097 bytes" in str(_damaged(tmp_path, over))


class OneByteReads(OsFileSystem):
    """The operating system's calls, but every read returns at most one byte (as a read may:
    a pipe, a network file system, a signal)."""

    def read(self, fd: int, size: int) -> bytes:
        return os.read(fd, min(size, 1))


def test_short_reads_are_read_to_the_end_and_to_the_cap(tmp_path: Path) -> None:
    good = encode_record(Durable(8, 3))
    (tmp_path / FILE_NAME).write_bytes(good)
    assert VoteStore(tmp_path, OneByteReads()).load() == Durable(8, 3)
    # A valid record filling the cap, then more: the file is over the cap, however it is read.
    (tmp_path / FILE_NAME).write_bytes(good + b" " * (_MAX_SIZE - len(good)) + b"  ")
    with pytest.raises(StorageError, match="vote file is 4097 bytes"):
        VoteStore(tmp_path, OneByteReads()).load()


def test_describe_os_error_names_the_errno() -> None:
    assert describe_os_error(OSError(errno.EIO, "disk on fire")) == "EIO (disk on fire)"
    assert describe_os_error(OSError(errno.ENOSPC, "")) == f"ENOSPC ({os.strerror(errno.ENOSPC)})"
    assert describe_os_error(OSError(99999, "odd")) == "[Errno 99999] odd"
    assert describe_os_error(OSError("no errno")) == "no errno"
    assert describe_os_error(OSError()) == "OSError"
    assert describe_os_error(FileNotFoundError()) == "FileNotFoundError"


# ---- descriptors and locks: counted on the real process


def _open_fds() -> set[str]:
    return set(os.listdir("/proc/self/fd"))


def test_save_and_load_leave_no_descriptor_open(tmp_path: Path) -> None:
    before = _open_fds()
    store = VoteStore(tmp_path / "n")
    store.save(Durable(1, 1))  # the first save also makes the directory and syncs its parent
    assert _open_fds() == before
    for term in range(2, 5):
        store.save(Durable(term, None))
        assert store.load() == Durable(term, None)
    assert _open_fds() == before


def test_a_second_store_on_one_directory_is_refused_and_leaks_nothing(tmp_path: Path) -> None:
    first = VoteStore(tmp_path / "n")
    first.lock()
    first.lock()  # held already: nothing more is opened
    before = _open_fds()
    second = VoteStore(tmp_path / "n")
    with pytest.raises(StorageError, match="another node is running on the data directory"):
        second.lock()
    assert _open_fds() == before
    first.unlock()
    assert len(_open_fds()) == len(before) - 1  # the lock's descriptor is closed
    first.unlock()  # not held: nothing to do
    second.lock()  # the lock was released with its descriptor
    with pytest.raises(StorageError, match="another node is running"):
        VoteStore(tmp_path / "n").lock()
    second.unlock()


class LockFails(OsFileSystem):
    """The operating system's calls, but flock fails with EIO."""

    def flock(self, fd: int, operation: int) -> None:
        raise OSError(errno.EIO, os.strerror(errno.EIO))


def test_a_lock_that_fails_otherwise_is_refused_with_its_errno(tmp_path: Path) -> None:
    before = _open_fds()
    with pytest.raises(StorageError, match=r"cannot lock the data directory \(EIO"):
        VoteStore(tmp_path / "n", LockFails()).lock()
    assert _open_fds() == before
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(StorageError, match="cannot open the data directory's lock"):
        VoteStore(blocker / "n").lock()


def test_an_unreadable_vote_file_is_refused_naming_the_call(tmp_path: Path) -> None:
    (tmp_path / FILE_NAME).mkdir()  # open works on a directory, read fails with EISDIR
    with pytest.raises(StorageError, match="cannot read vote file: read failed with EISDIR"):
        VoteStore(tmp_path).load()
    (tmp_path / "sub").write_text("")
    with pytest.raises(StorageError, match="cannot read vote file: open failed with ENOTDIR"):
        VoteStore(tmp_path / "sub").load()


class CountingFsync:
    """Wraps ``os.fsync``: records the path of each descriptor fsynced, then calls through."""

    def __init__(self) -> None:
        self.paths: list[str] = []
        self.real = os.fsync

    def __call__(self, fd: int) -> None:
        self.paths.append(os.readlink(f"/proc/self/fd/{fd}"))
        self.real(fd)


def test_a_save_really_fsyncs_the_file_and_the_directories(tmp_path, monkeypatch) -> None:
    calls = CountingFsync()
    monkeypatch.setattr(os, "fsync", calls)
    store = VoteStore(tmp_path / "n")
    store.save(Durable(1, 2))
    # the new vote file (fsynced as vote.json.tmp, before its rename), the data directory
    # (the rename), and, on the first save, its parent (the data directory's own entry)
    assert calls.paths == [str(tmp_path), str(tmp_path / "n" / (FILE_NAME + ".tmp")),
                           str(tmp_path / "n")]
    calls.paths.clear()
    store.save(Durable(2, None))
    assert calls.paths == [str(tmp_path / "n" / (FILE_NAME + ".tmp")), str(tmp_path / "n")]
    assert VoteStore(tmp_path / "n").load() == Durable(2, None)


def test_the_os_file_system_makes_each_call(tmp_path: Path) -> None:
    fs = OsFileSystem()
    fs.makedirs(tmp_path / "a" / "b")
    fs.makedirs(tmp_path / "a" / "b")  # already there: nothing
    fs.mkdir(tmp_path / "a" / "b" / "c")
    assert (tmp_path / "a" / "b" / "c").is_dir()
    with pytest.raises(FileExistsError):
        fs.mkdir(tmp_path / "a" / "b" / "c")
    path = tmp_path / "f"
    fd = fs.open(path, os.O_RDWR | os.O_CREAT)
    assert fs.write(fd, b"abc") == 3
    fs.fsync(fd)
    fs.close(fd)
    with pytest.raises(OSError):
        os.fstat(fd)  # closed
    fd = fs.open(path, os.O_RDONLY)
    assert fs.read(fd, 10) == b"abc"
    fs.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    other = os.open(path, os.O_RDONLY)
    with pytest.raises(BlockingIOError):
        fcntl.flock(other, fcntl.LOCK_EX | fcntl.LOCK_NB)  # the lock is really held
    os.close(other)
    fs.close(fd)
    fs.replace(path, tmp_path / "g")
    assert not path.exists() and (tmp_path / "g").read_bytes() == b"abc"


def test_a_data_directory_whose_parents_are_missing_is_made(tmp_path: Path) -> None:
    store = VoteStore(tmp_path / "a" / "b" / "n")
    store.save(Durable(2, 1))
    assert VoteStore(tmp_path / "a" / "b" / "n").load() == Durable(2, 1)
    locked = VoteStore(tmp_path / "c" / "d" / "n")
    locked.lock()
    assert (tmp_path / "c" / "d" / "n" / "vote.lock").exists()
    locked.unlock()


class FsyncFailsOnce(OsFileSystem):
    """The operating system's calls; the first fsync fails with EIO (and syncs nothing)."""

    def __init__(self) -> None:
        self.failed, self.synced = False, []

    def fsync(self, fd: int) -> None:
        if not self.failed:
            self.failed = True
            raise OSError(errno.EIO, os.strerror(errno.EIO))
        self.synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        os.fsync(fd)


def test_a_failed_sync_of_the_parent_is_tried_again_on_the_next_save(tmp_path: Path) -> None:
    files = FsyncFailsOnce()
    store = VoteStore(tmp_path / "n", files)
    with pytest.raises(StorageError, match=r"cannot save vote: mkdir .* failed with EIO"):
        store.save(Durable(1, 1))
    store.save(Durable(1, 1))
    assert files.synced[0] == str(tmp_path)  # the data directory's entry, this time durable
    assert VoteStore(tmp_path / "n").load() == Durable(1, 1)
