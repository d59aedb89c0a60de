"""The durable vote: real files, real fsync, refusal of anything damaged."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from impl.errors import StorageError
from impl.node import Durable
from impl.storage import FILE_NAME, VoteStore, encode_record


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
