"""A store's file-system calls, made for real and recorded as what they ask of the disk.

A :class:`Recorder` has the methods of ``impl.files.FileSystem``: each call is made for real
in a real directory and recorded as an operation on directory entries (:class:`Create`,
:class:`Rename`, :class:`Unlink`), on a file's data (:class:`Write`, :class:`Truncate`) or
as a barrier (:class:`SyncFile`, :class:`SyncDir`). Files are numbered like inodes, so a
rename moves data, not a name. :mod:`checker.conformance.crashstates` turns the record into
the states a crash can leave.

>>> import tempfile
>>> root = Path(tempfile.mkdtemp())
>>> rec = Recorder(root)
>>> fd = rec.open(root / "f", os.O_WRONLY | os.O_CREAT)
>>> rec.write(fd, b"data"), rec.fsync(fd), rec.close(fd)
(4, None, None)
>>> [describe(op) for op in rec.ops]
['create f', 'write 4 bytes at 0 of file #1', 'fsync file #1']
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


# -- what a recorded call asks of the disk ----------------------------------------------------
@dataclass(frozen=True)
class Create:
    """A new directory entry ``name`` for a new, empty file."""

    name: str
    inode: int


@dataclass(frozen=True)
class Rename:
    """``src`` renamed over ``dst`` (atomic)."""

    src: str
    dst: str
    inode: int


@dataclass(frozen=True)
class Mkdir:
    """A new directory entry ``name`` for a new, empty directory."""

    name: str


@dataclass(frozen=True)
class Unlink:
    """The entry ``name`` removed."""

    name: str


@dataclass(frozen=True)
class Write:
    """``data`` written at ``offset`` of a file."""

    inode: int
    offset: int
    data: bytes


@dataclass(frozen=True)
class Truncate:
    """A file cut (or grown) to ``size`` bytes."""

    inode: int
    size: int


@dataclass(frozen=True)
class SyncFile:
    """``fsync`` of a file: its data is durable."""

    inode: int


@dataclass(frozen=True)
class SyncDir:
    """``fsync`` of a directory: its entries are durable."""

    directory: str


@dataclass(frozen=True)
class Begin:
    """A save of ``value`` starts (a marker, not a call)."""

    value: Any


@dataclass(frozen=True)
class Ack:
    """The save of ``value`` returned: it is acknowledged (a marker, not a call)."""

    value: Any


EntryOp = Create | Rename | Unlink | Mkdir
DataOp = Write | Truncate
Op = EntryOp | DataOp | SyncFile | SyncDir | Begin | Ack


def describe(op: Op) -> str:
    """One call as a reader of a finding wants it."""
    match op:
        case Create(name, _):
            return f"create {name}"
        case Rename(src, dst, _):
            return f"rename {src} -> {dst}"
        case Unlink(name):
            return f"unlink {name}"
        case Mkdir(name):
            return f"mkdir {name}"
        case Write(inode, offset, data):
            return f"write {len(data)} bytes at {offset} of file #{inode}"
        case Truncate(inode, size):
            return f"truncate file #{inode} to {size}"
        case SyncFile(inode):
            return f"fsync file #{inode}"
        case SyncDir(directory):
            return f"fsync directory {directory or '.'}"
    return repr(op)


# -- the recorder -------------------------------------------------------------------------------
@dataclass
class _Open:
    name: str
    inode: int | None  # None: a directory
    offset: int = 0


class Recorder:
    """A file system that makes every call for real under ``root`` and records it.

    ``initial`` (name -> bytes) is what ``root`` held when recording began, taken as durable.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.ops: list[Op] = []
        self.initial: dict[str, bytes] = {}
        self._names: dict[str, int] = {}
        self._sizes: dict[int, int] = {}
        self._fds: dict[int, _Open] = {}
        for path in sorted(self.root.rglob("*")):
            if path.is_file():
                name = self._name(path)
                self.initial[name] = path.read_bytes()
                self._names[name] = inode = len(self._sizes) + 1
                self._sizes[inode] = len(self.initial[name])

    def _name(self, path: Any) -> str:
        relative = os.path.relpath(os.fspath(path), self.root)
        if relative.startswith(".."):
            raise ValueError(f"{path} is outside the recorded directory {self.root}")
        return "" if relative == "." else relative.replace(os.sep, "/")

    # -- markers --------------------------------------------------------------------------------
    def acknowledged(self, value: Any) -> None:
        """Say that ``value`` is what recovery must give from the disk as it is now."""
        self.ops.append(Ack(value))

    @contextmanager
    def saving(self, value: Any) -> Iterator[None]:
        """Mark the calls of the block as the save of ``value``, acknowledged when it returns."""
        self.ops.append(Begin(value))
        yield
        self.ops.append(Ack(value))

    # -- the calls of impl.files.FileSystem -------------------------------------------------------
    def makedirs(self, path: Any) -> None:
        """Create a directory and its parents (taken as durable: not modelled)."""
        os.makedirs(path, exist_ok=True)

    def mkdir(self, path: Any) -> None:
        """Create a directory for real; record its new entry."""
        os.mkdir(path, 0o700)
        self.ops.append(Mkdir(self._name(path)))

    def open(self, path: Any, flags: int, mode: int = 0o600) -> int:
        """Open for real; record the new entry (O_CREAT) or the truncation (O_TRUNC)."""
        name = self._name(path)
        existed = os.path.lexists(path)
        fd = os.open(path, flags, mode)
        if os.path.isdir(path):
            self._fds[fd] = _Open(name, None)
            return fd
        if not existed:
            inode = len(self._sizes) + 1
            self._names[name], self._sizes[inode] = inode, 0
            self.ops.append(Create(name, inode))
        inode = self._names[name]
        if existed and flags & os.O_TRUNC and flags & (os.O_WRONLY | os.O_RDWR):
            self._sizes[inode] = 0
            self.ops.append(Truncate(inode, 0))
        self._fds[fd] = _Open(name, inode, self._sizes[inode] if flags & os.O_APPEND else 0)
        return fd

    def read(self, fd: int, size: int) -> bytes:
        """Read for real."""
        data = os.read(fd, size)
        self._fds[fd].offset += len(data)
        return data

    def write(self, fd: int, data: bytes | memoryview) -> int:
        """Write for real; record what was written where."""
        written = os.write(fd, data)
        handle = self._fds[fd]
        assert handle.inode is not None, "a write to a directory"
        self.ops.append(Write(handle.inode, handle.offset, bytes(data[:written])))
        handle.offset += written
        self._sizes[handle.inode] = max(self._sizes[handle.inode], handle.offset)
        return written

    def fsync(self, fd: int) -> None:
        """fsync for real; record it."""
        os.fsync(fd)
        handle = self._fds[fd]
        self.ops.append(SyncDir(handle.name) if handle.inode is None else SyncFile(handle.inode))

    def close(self, fd: int) -> None:
        """Close for real (a close persists nothing)."""
        os.close(fd)
        del self._fds[fd]

    def replace(self, src: Any, dst: Any) -> None:
        """Rename for real; record it."""
        os.replace(src, dst)
        old, new = self._name(src), self._name(dst)
        inode = self._names.pop(old)
        self._names[new] = inode
        self.ops.append(Rename(old, new, inode))

    def unlink(self, path: Any) -> None:
        """Unlink for real; record it."""
        os.unlink(path)
        name = self._name(path)
        self._names.pop(name, None)
        self.ops.append(Unlink(name))

    def flock(self, fd: int, operation: int) -> None:
        """Lock for real (a lock does not outlive a crash)."""
        fcntl.flock(fd, operation)
