"""The crash-state explorer: the POSIX rules it enumerates, and the store bugs it catches.

Each broken store below is a planted durability bug of issue 10, written against the real
file-system interface; the explorer records its saves in a real directory (real fsync) and
recovers every crash state with the node's real recovery path.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from checker.conformance.crashstates import crash_states, explore
from checker.conformance.fsrecord import Recorder
from checker.protocols.raft_election.durability import crash_gate, explore_store
from impl.node import Durable
from impl.storage import VoteStore, encode_record


def _files(states) -> set[tuple]:
    return {state.files for state in states}


def _write(rec: Recorder, name: str, data: bytes, *, sync: bool, flags: int = 0) -> None:
    fd = rec.open(rec.root / name, os.O_WRONLY | os.O_CREAT | flags)
    rec.write(fd, data)
    if sync:
        rec.fsync(fd)
    rec.close(fd)


def _sync_dir(rec: Recorder) -> None:
    fd = rec.open(rec.root, os.O_RDONLY | os.O_DIRECTORY)
    rec.fsync(fd)
    rec.close(fd)


def test_unsynced_data_may_be_lost_kept_or_zero(tmp_path: Path) -> None:
    rec = Recorder(tmp_path)
    _write(rec, "f", b"abc", sync=False)
    final = [s for s in crash_states({}, rec.ops) if s.point == 2]
    assert _files(final) == {(), (("f", b""),), (("f", b"\0\0\0"),), (("f", b"abc"),)}


def test_a_file_fsync_persists_data_but_not_its_name(tmp_path: Path) -> None:
    rec = Recorder(tmp_path)
    _write(rec, "f", b"abc", sync=True)
    final = [s for s in crash_states({}, rec.ops) if s.point == 3]
    assert _files(final) == {(), (("f", b"abc"),)}
    _sync_dir(rec)
    final = [s for s in crash_states({}, rec.ops) if s.point == 4]
    assert _files(final) == {(("f", b"abc"),)}


def test_a_long_write_is_torn_at_sector_boundaries(tmp_path: Path) -> None:
    rec = Recorder(tmp_path)
    data = bytes(range(256)) * 5  # 1280 bytes: three sectors
    _write(rec, "f", data, sync=False)
    contents = {dict(s.files).get("f") for s in crash_states({}, rec.ops) if s.point == 2}
    assert {data[:512], data[:1024], data, bytes(1280), b"", None} == contents


def test_a_rename_without_directory_fsync_may_not_persist(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(b"old")
    rec = Recorder(tmp_path)
    _write(rec, "f.tmp", b"new", sync=True)
    rec.replace(tmp_path / "f.tmp", tmp_path / "f")
    final = _files(s for s in crash_states(rec.initial, rec.ops) if s.point == 4)
    assert (("f", b"old"),) in final and (("f", b"new"),) in final
    assert (("f", b"new"), ("f.tmp", b"new")) not in final  # a rename is atomic


def test_the_real_store_recovers_every_crash_state() -> None:
    report = explore_store()
    assert report.passed, report.findings
    # mkdir and fsync of its parent, 4 saves of 5; the second run truncates a leftover tmp
    assert report.runs == 2 and report.calls == 2 + 20 + 1 + 10
    assert report.states > report.distinct > 10
    assert report.outcomes["being saved"] > 0 and report.outcomes["acknowledged"] > 0
    passed, summary, details = crash_gate()
    assert passed and f"{report.states} crash states" in summary


# -- planted bugs: each is caught -------------------------------------------------------------
class WriteInPlace(VoteStore):
    """Planted bug: the vote file is rewritten in place (no temp file and rename)."""

    def save(self, durable: Durable) -> None:
        files = self.files
        files.makedirs(self.directory)  # made durable at once: not this test's bug
        fd = files.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        files.write(fd, encode_record(durable))
        files.fsync(fd)
        files.close(fd)
        dir_fd = files.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        files.fsync(dir_fd)
        files.close(dir_fd)


class NoDirectoryFsync(VoteStore):
    """Planted bug: the rename is never made durable."""

    def save(self, durable: Durable) -> None:
        files = self.files
        files.makedirs(self.directory)  # made durable at once: not this test's bug
        fd = files.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        files.write(fd, encode_record(durable))
        files.fsync(fd)
        files.close(fd)
        files.replace(self._tmp, self.path)


class NoFileFsync(VoteStore):
    """Planted bug: the temp file is renamed before its data is durable."""

    def save(self, durable: Durable) -> None:
        files = self.files
        files.makedirs(self.directory)  # made durable at once: not this test's bug
        fd = files.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        files.write(fd, encode_record(durable))
        files.close(fd)
        files.replace(self._tmp, self.path)
        dir_fd = files.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        files.fsync(dir_fd)
        files.close(dir_fd)


class NoTruncate(VoteStore):
    """Planted bug: the temp file is not truncated, so a longer leftover keeps its tail."""

    def save(self, durable: Durable) -> None:
        files = self.files
        files.makedirs(self.directory)  # made durable at once: not this test's bug
        fd = files.open(self._tmp, os.O_WRONLY | os.O_CREAT, 0o600)
        files.write(fd, encode_record(durable))
        files.fsync(fd)
        files.close(fd)
        files.replace(self._tmp, self.path)
        dir_fd = files.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        files.fsync(dir_fd)
        files.close(dir_fd)


class NoParentFsync(VoteStore):
    """Planted bug: the data directory is made, but its own entry is never made durable."""

    def __init__(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().__init__(*args, **kwargs)
        self._parent_synced = True


class DamagedReadAsZero(WriteInPlace):
    """Planted bug: a damaged vote file is read as term 0 (with a store that can damage it)."""

    def load(self) -> Durable:
        try:
            return super().load()
        except Exception:
            return Durable(0, None)


@pytest.mark.parametrize(
    ("store", "expected"),
    [
        (WriteInPlace, "refused to start: DIR/data/vote.json: empty or truncated vote file"),
        (NoDirectoryFsync, "recovered Durable(term=0, voted_for=None); expected Durable(term=1"),
        (NoFileFsync, "refused to start"),
        (NoParentFsync, "[lost: mkdir data]: recovered Durable(term=0, voted_for=None); expected"),
        (NoTruncate, "refused to start: DIR/data/vote.json: corrupt or truncated vote file"),
        (DamagedReadAsZero, "recovered Durable(term=0, voted_for=None); expected Durable(term=1"),
    ],
)
def test_each_planted_store_bug_is_caught(store: type[VoteStore], expected: str) -> None:
    passed, summary, details = crash_gate(store)
    assert not passed
    assert expected in details["findings"][0], details["findings"][0]
    assert "\n" not in summary


def test_an_older_term_after_a_crash_is_caught() -> None:
    # Without a directory fsync, a crash after an acknowledged save can bring back the one
    # before it: an older term, the bug that lets a node vote twice.
    findings = explore_store(NoDirectoryFsync, max_findings=10**6).findings
    assert any("recovered Durable(term=1, voted_for=1); expected Durable(term=2" in f
               for f in findings)


def test_a_save_that_fails_while_recording_is_a_finding() -> None:
    class Unwritable(VoteStore):
        def save(self, durable: Durable) -> None:
            raise OSError(28, "No space left on device", str(self.path))

    passed, summary, details = crash_gate(Unwritable)
    assert not passed
    assert details["findings"][0] == (
        "a save failed while recording: OSError: [Errno 28] No space left on device: "
        "'DIR/run/data/vote.json'"
    )


def test_a_crashing_recovery_is_a_finding(tmp_path: Path) -> None:
    def record(rec: Recorder) -> None:
        with rec.saving(1):
            _write(rec, "v", b"1", sync=True)
            _sync_dir(rec)

    def recover(directory: Path) -> int:
        return int((directory / "v").read_bytes())  # no file: FileNotFoundError

    report = explore(record, recover, 0)
    assert not report.passed
    assert "recovery failed: FileNotFoundError" in report.findings[0]
    assert "DIR/v" in report.findings[0] and str(tmp_path) not in report.findings[0]


# -- the model against the real file system ---------------------------------------------------
NAMES = ("a", "b", "c")
CALLS = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.sampled_from(NAMES), st.binary(max_size=1100)),
        st.tuples(st.just("fsync"), st.sampled_from(NAMES)),
        st.tuples(st.just("rename"), st.sampled_from(NAMES), st.sampled_from(NAMES)),
        st.tuples(st.just("unlink"), st.sampled_from(NAMES)),
        st.tuples(st.just("sync dir")),
    ),
    max_size=8,
)


def _run(rec: Recorder, calls: list[tuple]) -> None:
    root = rec.root
    for call in calls:
        kind, *args = call
        if kind == "write":
            fd = rec.open(root / args[0], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            rec.write(fd, args[1])
            rec.close(fd)
        elif kind == "fsync" and (root / args[0]).exists():
            fd = rec.open(root / args[0], os.O_RDONLY)
            rec.fsync(fd)
            rec.close(fd)
        elif kind == "rename" and (root / args[0]).exists() and args[0] != args[1]:
            rec.replace(root / args[0], root / args[1])
        elif kind == "unlink" and (root / args[0]).exists():
            rec.unlink(root / args[0])
        elif kind == "sync dir":
            _sync_dir(rec)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calls=CALLS)
def test_the_disk_as_it_is_is_always_a_crash_state(tmp_path_factory, calls) -> None:
    root = tmp_path_factory.mktemp("fs")
    rec = Recorder(root)
    _run(rec, calls)
    real = tuple(sorted((p.name, p.read_bytes()) for p in root.iterdir()))
    last = max(s.point for s in crash_states({}, rec.ops))
    final = _files(s for s in crash_states({}, rec.ops) if s.point == last)
    assert real in final
    # Everything synced: the file system promises this state and no other.
    for name, _ in real:
        fd = rec.open(root / name, os.O_RDONLY)
        rec.fsync(fd)
        rec.close(fd)
    _sync_dir(rec)
    last = max(s.point for s in crash_states({}, rec.ops))
    assert _files(s for s in crash_states({}, rec.ops) if s.point == last) == {real}
