"""Batches from worker to worker: each forked worker's outbox, an anonymous in-memory file.

After expanding, a worker writes the batches it made for the other partitions to its outbox
and the coordinator passes on only where each lies (a :class:`Posted`); the owner reads them
itself. So a batch is copied twice (into the file, out of it) instead of being pickled to the
coordinator and again to its owner, and the coordinator does not compete with the workers for
the cores to relay it. The files are made before the workers are forked, so every worker
holds every outbox, and they vanish with the processes however these end.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from typing import Any

from checker.search.batch import Batch


@dataclass(frozen=True)
class Posted:
    """A batch a worker wrote to its outbox: where it lies there, and its action names."""

    sender: int
    offset: int
    size: int
    labels: tuple[str, ...]


class Mailboxes:
    """One outbox a worker: an anonymous in-memory file (memfd) made before the workers are
    forked, so every one can read every other's. Batches travel worker to worker through
    them; the coordinator passes on only where each lies (:class:`Posted`). Each round's
    batches overwrite the last round's, which their owners have read by then."""

    def __init__(self, parts: int) -> None:
        if hasattr(os, "memfd_create"):
            self._files = []
            self.fds = [os.memfd_create(f"electkit-outbox-{i}", 0) for i in range(parts)]
        else:  # no memfd (not Linux): unlinked temporary files do the same, through the disk
            self._files = [tempfile.TemporaryFile() for _ in range(parts)]
            self.fds = [f.fileno() for f in self._files]
        self.sizes = [0] * parts

    def post(self, me: int, value: Any) -> Any:
        """``value`` with every :class:`Batch` in it (at the top, or in a list or tuple at
        the top) written to outbox ``me`` and replaced by where it lies."""
        at, fd = 0, self.fds[me]
        pieces = []

        def place(item):
            nonlocal at
            if isinstance(item, Batch):
                parts = item.pieces()
                size = sum(memoryview(p).nbytes for p in parts)
                pieces.extend(parts)
                posted = Posted(me, at, size, tuple(item.labels))
                at += size
                return posted
            if isinstance(item, list | tuple) and any(isinstance(x, Batch) for x in item):
                return type(item)(place(x) for x in item)
            return item

        placed = type(value)(place(x) for x in value) if isinstance(value, tuple) else value
        if at > self.sizes[me]:
            os.ftruncate(fd, at)
            self.sizes[me] = at
        offset = 0
        for piece in pieces:
            data = memoryview(piece).cast("B")
            while data:  # a write may be short (Linux writes at most 2 GB at once)
                done = os.pwrite(fd, data, offset)
                offset, data = offset + done, data[done:]
        return placed

    def fetch(self, value: Any) -> Any:
        """``value`` with every :class:`Posted` in it read back as its :class:`Batch`."""
        if isinstance(value, Posted):
            data, got = bytearray(value.size), 0
            view = memoryview(data)
            while got < value.size:  # a read may be short too
                done = os.preadv(self.fds[value.sender], [view[got:]], value.offset + got)
                if not done:
                    raise EOFError(f"outbox {value.sender} ended {value.size - got} bytes short")
                got += done
            return Batch.from_bytes(data, value.labels)
        if isinstance(value, list | tuple):
            return type(value)(self.fetch(x) for x in value)
        return value

    def close(self) -> None:
        for f in self._files:
            f.close()
        for fd in self.fds if not self._files else []:
            with contextlib.suppress(OSError):
                os.close(fd)
