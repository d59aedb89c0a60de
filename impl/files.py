"""The file-system calls the vote store makes, behind one small interface.

:class:`impl.storage.VoteStore` touches the disk only through a :class:`FileSystem`: the
handful of POSIX calls below, one method each, with the operating system's semantics (an
error is an ``OSError`` carrying its errno; ``write`` and ``read`` may be short). The default,
:data:`OS`, is the operating system itself. Anything with the same methods can stand in,
which is how the checker records what a save does (to enumerate the states a crash can
leave) and injects I/O errors at every call (ENOSPC, EIO, EACCES, short writes).

>>> import tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "f")
>>> fd = OS.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
>>> OS.write(fd, b"hello"), OS.fsync(fd), OS.close(fd)
(5, None, None)
"""

from __future__ import annotations

import fcntl
import os
from typing import Protocol

Path = str | os.PathLike[str]


class FileSystem(Protocol):
    """The calls of the vote store; each behaves as its namesake in :mod:`os`."""

    def makedirs(self, path: Path) -> None:
        """Create ``path`` and its parents; nothing when it is already a directory."""

    def mkdir(self, path: Path) -> None:
        """Create the directory ``path`` (FileExistsError when it exists)."""

    def open(self, path: Path, flags: int, mode: int = 0o600) -> int:
        """Open ``path``; return a file descriptor."""

    def read(self, fd: int, size: int) -> bytes:
        """Read up to ``size`` bytes (fewer is not an error; b"" is the end of the file)."""

    def write(self, fd: int, data: bytes | memoryview) -> int:
        """Write some of ``data``; return how many bytes were written (maybe fewer)."""

    def fsync(self, fd: int) -> None:
        """Make the file's data (or, for a directory, its entries) durable."""

    def close(self, fd: int) -> None:
        """Close ``fd``."""

    def replace(self, src: Path, dst: Path) -> None:
        """Rename ``src`` over ``dst`` atomically."""

    def flock(self, fd: int, operation: int) -> None:
        """Take or release an advisory lock on the open file ``fd``."""


class OsFileSystem:
    """The operating system's own calls."""

    def makedirs(self, path: Path) -> None:
        """Create ``path`` and its parents; nothing when it is already a directory."""
        os.makedirs(path, exist_ok=True)

    def mkdir(self, path: Path) -> None:
        """Create the directory ``path`` (FileExistsError when it exists)."""
        os.mkdir(path, 0o700)

    def open(self, path: Path, flags: int, mode: int = 0o600) -> int:
        """Open ``path``; return a file descriptor."""
        return os.open(path, flags, mode)

    def read(self, fd: int, size: int) -> bytes:
        """Read up to ``size`` bytes."""
        return os.read(fd, size)

    def write(self, fd: int, data: bytes | memoryview) -> int:
        """Write some of ``data``; return how many bytes were written."""
        return os.write(fd, data)

    def fsync(self, fd: int) -> None:
        """Make the file's data (or a directory's entries) durable."""
        os.fsync(fd)

    def close(self, fd: int) -> None:
        """Close ``fd``."""
        os.close(fd)

    def replace(self, src: Path, dst: Path) -> None:
        """Rename ``src`` over ``dst`` atomically."""
        os.replace(src, dst)

    def flock(self, fd: int, operation: int) -> None:
        """Take or release an advisory lock on the open file ``fd``."""
        fcntl.flock(fd, operation)


OS: FileSystem = OsFileSystem()
