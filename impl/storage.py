"""The durable vote: a node's term and vote, written atomically and fsynced.

The file ``DIR/vote.json`` holds one JSON object::

    {"format": "electkit-vote", "version": 1, "term": 3, "voted_for": 2, "crc32": 1234567890}

``crc32`` covers the other four fields, so a flipped digit is caught even though the JSON
still parses. A save writes ``vote.json.tmp``, fsyncs it, renames it over ``vote.json`` and
fsyncs the directory, so after a crash the file holds either the old or the new record, never
a mix. A file that is corrupt, truncated or of an unknown version is refused with a
StorageError naming it: starting again at term 0 could let the node vote twice in a term.
So is a file that cannot be read to its end, and a save that fails at any call raises a
StorageError naming the call and the errno: the caller must then send nothing.

A running node holds ``DIR/vote.lock`` (an ``flock``), so a second node on the same directory
is refused. Every call goes through :class:`impl.files.FileSystem`; docs/durability.md says
what a crash can leave on disk and how the checker explores it.

>>> import tempfile
>>> store = VoteStore(tempfile.mkdtemp())
>>> store.load()
Durable(term=0, voted_for=None)
>>> store.save(Durable(4, 2)); store.load()
Durable(term=4, voted_for=2)
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from impl.errors import MessageError, StorageError
from impl.files import OS, FileSystem
from impl.node import Durable

FORMAT = "electkit-vote"
VERSION = 1
FILE_NAME = "vote.json"
LOCK_NAME = "vote.lock"
MAX_TERM = 2**63 - 1  # well inside the wire's 64 bits, with room for every election to come
T = TypeVar("T")
_MAX_SIZE = 4096  # a valid record is ~100 bytes; anything far larger is not ours


def checksum(term: object, voted_for: object) -> int:
    """The record's ``crc32``: of the format, the version, the term and the vote."""
    payload = json.dumps([FORMAT, VERSION, term, voted_for], separators=(",", ":"))
    return zlib.crc32(payload.encode())


def encode_record(durable: Durable) -> bytes:
    """The exact bytes stored for ``durable``."""
    record = {"format": FORMAT, "version": VERSION, "term": durable.term,
              "voted_for": durable.voted_for,
              "crc32": checksum(durable.term, durable.voted_for)}
    return (json.dumps(record) + "\n").encode()


def decode_record(data: bytes, path: Path) -> Durable:
    """Parse stored bytes; raise StorageError naming ``path`` when they are not a record."""
    def bad(why: str) -> StorageError:
        return StorageError(f"{path}: {why}; refusing to start (a lost vote could be cast "
                            f"twice): restore the file or remove it only if this node never voted")

    if not data.strip():
        raise bad("empty or truncated vote file")
    if len(data) > _MAX_SIZE:
        raise bad(f"vote file is {len(data)} bytes, not a vote record")
    try:
        record = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(f"corrupt or truncated vote file ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise bad(f"not an {FORMAT} record")
    if record.get("version") != VERSION:
        raise bad(f"unknown format version {record.get('version')!r} (this build reads "
                  f"version {VERSION})")
    if set(record) != {"format", "version", "term", "voted_for", "crc32"}:
        raise bad(f"unexpected fields {sorted(record)}")
    term, voted_for = record["term"], record["voted_for"]
    if type(term) is int and term > MAX_TERM:
        # The wire carries 64-bit terms, and a timeout adds one: a larger stored term could
        # never be sent, and the node would sit silent.
        raise bad(f"term {term} is beyond the largest term the wire can carry ({MAX_TERM})")
    try:
        durable = Durable(term, voted_for)
    except MessageError as exc:
        raise bad(f"corrupt vote record ({exc})") from None
    if record["crc32"] != checksum(term, voted_for):
        raise bad("checksum mismatch, the vote record is corrupt")
    return durable


def describe_os_error(exc: OSError) -> str:
    """An OSError as one line: its errno's name and the system's words, e.g. ``EIO (I/O ...)``."""
    name = errno.errorcode.get(exc.errno) if exc.errno is not None else None
    if name is None:
        return str(exc) or exc.__class__.__name__
    return f"{name} ({exc.strerror or os.strerror(exc.errno)})"


class VoteStore:
    """Durable storage of one node's :class:`Durable` state in a directory.

    Every file-system call goes through ``files`` (:data:`impl.files.OS` by default), so a
    checker can record a save's calls or make any of them fail.
    """

    def __init__(self, directory: str | Path, files: FileSystem = OS) -> None:
        self.directory = Path(directory)
        self.path = self.directory / FILE_NAME
        self.lock_path = self.directory / LOCK_NAME
        self.files = files
        self._tmp = self.directory / (FILE_NAME + ".tmp")
        self._lock_fd: int | None = None
        self._parent_synced = False  # the data directory's own entry is durable

    def lock(self) -> None:
        """Hold the directory's lock until :meth:`unlock`: one node per data directory.

        Two nodes on one directory would share one vote, and each could cast it. The lock is
        an ``flock`` on ``DIR/vote.lock``; the kernel drops it when the process dies, so a
        crash never leaves a stale lock behind.
        """
        if self._lock_fd is not None:
            return
        files = self.files
        try:
            self._ensure_directory()
            fd = files.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise StorageError(f"{self.lock_path}: cannot open the data directory's lock "
                               f"({describe_os_error(exc)}); refusing to start") from None
        try:
            files.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            self._close_quietly(fd)
            if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise StorageError(f"{self.lock_path}: another node is running on the data "
                                   f"directory {self.directory}; refusing to start (two nodes "
                                   f"on one directory would cast one vote twice)") from None
            raise StorageError(f"{self.lock_path}: cannot lock the data directory "
                               f"({describe_os_error(exc)}); refusing to start") from None
        self._lock_fd = fd

    def unlock(self) -> None:
        """Release the lock taken by :meth:`lock` (nothing if it is not held)."""
        fd, self._lock_fd = self._lock_fd, None
        if fd is not None:
            self._close_quietly(fd)  # closing the only descriptor releases the flock

    def _ensure_directory(self) -> None:
        """Create the data directory if it is missing, and make its own entry durable.

        A save fsyncs the directory, which makes the vote file's entry durable, but not the
        directory's entry in its parent: a crash could lose a directory made moments before,
        and the vote with it. So the first call of each store fsyncs the parent; raises
        OSError.
        """
        files = self.files
        try:
            files.mkdir(self.directory)
        except FileExistsError:
            pass
        except FileNotFoundError:  # its parents are missing too: they are made, not synced
            files.makedirs(self.directory.parent)
            files.mkdir(self.directory)
        if not self._parent_synced:
            fd = files.open(self.directory.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                files.fsync(fd)
            finally:
                files.close(fd)
            self._parent_synced = True

    def _close_quietly(self, fd: int) -> None:
        try:
            self.files.close(fd)
        except OSError:
            pass  # the descriptor is released even when close fails, and with it the lock

    def load(self) -> Durable:
        """The stored state, or ``Durable(0, None)`` when nothing was ever saved.

        The file is read to its end (a short read is not the end); any error but "no such
        file" is a StorageError: a node must never start from a vote it could not read.
        """
        files = self.files
        try:
            fd = files.open(self.path, os.O_RDONLY)
        except FileNotFoundError:
            # A leftover .tmp means a first save died before its rename: nothing was sent
            # that depended on it, so term 0 is correct.
            return Durable(0, None)
        except OSError as exc:
            raise self._unreadable("open", exc) from None
        chunks: list[bytes] = []
        size = 0
        try:
            try:
                while size <= _MAX_SIZE:
                    chunk = files.read(fd, _MAX_SIZE + 1 - size)
                    if not chunk:
                        break
                    chunks.append(chunk)
                    size += len(chunk)
            finally:
                files.close(fd)
        except OSError as exc:
            raise self._unreadable("read", exc) from None
        return decode_record(b"".join(chunks), self.path)

    def _unreadable(self, call: str, exc: OSError) -> StorageError:
        return StorageError(f"{self.path}: cannot read vote file: {call} failed with "
                            f"{describe_os_error(exc)}; refusing to start")

    def save(self, durable: Durable) -> None:
        """Write ``durable`` atomically and durably: tmp file, fsync, rename, fsync dir.

        Any failed call raises StorageError naming the file, the call and the errno; the
        caller must then send nothing that depends on ``durable``.
        """
        data = encode_record(durable)
        files, tmp, call = self.files, self._tmp, self._saving
        call("mkdir", self.directory, self._ensure_directory)
        fd = call("open", tmp, files.open, tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            view = memoryview(data)
            while view:  # a short write is not an error: write the rest
                view = view[call("write", tmp, files.write, fd, view):]
            call("fsync", tmp, files.fsync, fd)
        finally:
            call("close", tmp, files.close, fd)
        call("rename", tmp, files.replace, tmp, self.path)
        dir_fd = call("open", self.directory, files.open, self.directory,
                      os.O_RDONLY | os.O_DIRECTORY)
        try:
            call("fsync", self.directory, files.fsync, dir_fd)  # makes the rename durable
        finally:
            call("close", self.directory, files.close, dir_fd)

    def _saving(self, name: str, target: Path, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)``; an OSError becomes a StorageError naming the call and its target."""
        try:
            return fn(*args)
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot save vote: {name} {target} failed with "
                               f"{describe_os_error(exc)}") from None
