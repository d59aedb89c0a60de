"""Successors in bulk: how states become bytes, and batches of successors as arrays.

A :class:`Batch` is what partitions send each other (partition.py): per successor its
fingerprint, its key, its parent's fingerprint, its action and its packed state, as numpy
arrays and one byte string, so that a batch crosses a process boundary or the network in a
few large pieces.
"""

from __future__ import annotations

import pickle
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import numpy as np
import xxhash

from checker.search.fpset import NATIVE
from checker.search.native_sets import first_of_each


@dataclass(frozen=True)
class Codec:
    """States as bytes: packed for storage, fingerprinted for the visited set."""

    pack: Callable[[Any], bytes]
    unpack: Callable[[bytes], Any]
    fingerprint: Callable[[Any, bytes], int]
    width: int | None = None  # packed ints: bytes each (the hot loop inlines pack and hash)


def codec_for(kernel) -> Codec:
    """Fixed-width little-endian bytes for a compiled kernel's packed ints; pickles (with the
    kernel's own JSON fingerprint, which does not depend on pickling) for any other."""
    digest = xxhash.xxh3_64_intdigest
    if kernel.exact:  # packed ints
        top = max(kernel.offsets) + kernel.local_bits if kernel.offsets else kernel.low_bits
        width = max(1, (top + 7) // 8)
        return Codec(
            lambda st: st.to_bytes(width, "little"),
            lambda b: int.from_bytes(b, "little"),
            lambda st, b: digest(b) or 1,
            width,
        )
    return Codec(
        lambda st: pickle.dumps(st, protocol=5),
        pickle.loads,
        lambda st, b: kernel.fingerprint(st) or 1,
    )


@dataclass
class Batch:
    """Successor records, as arrays: fingerprint, key, parent fingerprint, action, packed state."""

    fps: np.ndarray
    keys: np.ndarray
    parents: np.ndarray
    aids: np.ndarray
    offsets: np.ndarray  # state i is blob[offsets[i]:offsets[i + 1]]
    blob: bytes
    labels: tuple[str, ...] = ()  # action id -> name, as the partition that made it has them

    @staticmethod
    def of(rows: list[tuple[int, int, int, int, bytes]], labels: tuple[str, ...] = ()) -> Batch:
        if not rows:
            return Batch.empty()
        column = [itemgetter(i) for i in range(5)]  # zip(*rows) is many times slower
        blobs = list(map(column[4], rows))
        offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
        np.cumsum(np.frombuffer(array("q", map(len, blobs)), dtype=np.int64), out=offsets[1:])
        return Batch(
            np.frombuffer(array("Q", map(column[0], rows)), dtype=np.uint64),
            np.frombuffer(array("q", map(column[1], rows)), dtype=np.int64),
            np.frombuffer(array("Q", map(column[2], rows)), dtype=np.uint64),
            np.frombuffer(array("B", map(column[3], rows)), dtype=np.uint8),
            offsets,
            b"".join(blobs),
            labels,
        )

    @staticmethod
    def fixed(fps, keys, parents, aids, blob: bytes, width: int, labels=()) -> Batch:
        """Records whose packed states are all ``width`` bytes, back to back in ``blob``."""
        offsets = np.arange(len(fps) + 1, dtype=np.int64) * width
        return Batch(
            np.ascontiguousarray(fps, dtype=np.uint64), np.ascontiguousarray(keys, np.int64),
            np.ascontiguousarray(parents, np.uint64), np.ascontiguousarray(aids, np.uint8),
            offsets, blob, tuple(labels),
        )  # fmt: skip

    @staticmethod
    def empty() -> Batch:
        z = np.zeros(0, dtype=np.uint64)
        return Batch(z, z.astype(np.int64), z, z.astype(np.uint8), np.zeros(1, np.int64), b"")

    def fixed_width(self) -> int | None:
        """The one size of every packed state, if they are all one size."""
        if not len(self.fps):
            return None
        width = int(self.offsets[1] - self.offsets[0])
        if width and int(self.offsets[-1]) == width * len(self.fps):
            steps = np.diff(self.offsets)
            if bool((steps == width).all()):
                return width
        return None

    def __len__(self) -> int:
        return len(self.fps)

    def state(self, i: int) -> bytes:
        return self.blob[self.offsets[i] : self.offsets[i + 1]]

    def take(self, idx: np.ndarray) -> Batch:
        """The records at ``idx``, in that order."""
        width = self.fixed_width()
        if width:
            rows = np.frombuffer(self.blob, dtype=np.uint8).reshape(len(self), width)[idx]
            return Batch.fixed(
                self.fps[idx], self.keys[idx], self.parents[idx], self.aids[idx],
                rows.tobytes(), width, self.labels,
            )  # fmt: skip
        blob, offsets = self.blob, self.offsets.tolist()
        blobs = [blob[offsets[i] : offsets[i + 1]] for i in idx.tolist()]
        new_offsets = np.zeros(len(blobs) + 1, dtype=np.int64)
        np.cumsum(np.frombuffer(array("q", map(len, blobs)), dtype=np.int64), out=new_offsets[1:])
        return Batch(
            self.fps[idx], self.keys[idx], self.parents[idx], self.aids[idx], new_offsets,
            b"".join(blobs), self.labels,
        )  # fmt: skip

    def first_discoveries(self) -> np.ndarray:
        """The record with the least key of each fingerprint (the first discovery), in key
        order.

        Each batch is made in key order, so a stable sort merges a few sorted runs (numpy's
        timsort does it in about linear time); the first record of each fingerprint met in
        key order is then its least."""
        order = np.argsort(self.keys, kind="stable")
        if NATIVE:
            return order[first_of_each(np.ascontiguousarray(self.fps), order)]
        by_fp = np.argsort(self.fps[order], kind="stable")  # key order kept within a print
        sorted_fps = self.fps[order][by_fp]
        first = np.ones(len(order), dtype=bool)
        first[1:] = sorted_fps[1:] != sorted_fps[:-1]
        return order[np.sort(by_fp[first])]

    def pieces(self) -> list:
        """The batch as buffers back to back (see :meth:`from_bytes`): a header of three
        int64 (records, blob bytes, offsets kept or not), then the arrays, 8-byte ones first."""
        n, fixed = len(self), self.fixed_width() is not None or not len(self)
        head = np.array([n, len(self.blob), 0 if fixed else 1], dtype=np.int64)
        columns = [head, self.fps, self.keys, self.parents]
        if not fixed:
            columns.append(self.offsets)
        return [*(np.ascontiguousarray(c) for c in columns), self.aids, self.blob]

    @staticmethod
    def from_bytes(data: bytes | bytearray, labels: tuple[str, ...] = ()) -> Batch:
        """The batch :meth:`pieces` wrote (arrays are views of ``data``)."""
        n, blob_bytes, kept = (int(x) for x in np.frombuffer(data, dtype=np.int64, count=3))
        at = 24
        fps, keys, parents = (
            np.frombuffer(data, dtype=t, count=n, offset=at + 8 * n * i)
            for i, t in enumerate((np.uint64, np.int64, np.uint64))
        )
        at += 24 * n
        if kept:
            offsets = np.frombuffer(data, dtype=np.int64, count=n + 1, offset=at)
            at += 8 * (n + 1)
        else:
            offsets = np.arange(n + 1, dtype=np.int64) * (blob_bytes // n if n else 0)
        aids = np.frombuffer(data, dtype=np.uint8, count=n, offset=at)
        blob = bytes(data[at + n : at + n + blob_bytes])
        return Batch(fps, keys, parents, aids, offsets, blob, labels)

    @staticmethod
    def concat(batches: Sequence[Batch]) -> Batch:
        batches = [b for b in batches if len(b)]
        if not batches:
            return Batch.empty()
        offsets, base = [np.zeros(1, np.int64)], 0
        for b in batches:
            offsets.append(b.offsets[1:] + base)
            base += b.offsets[-1]
        return Batch(
            np.concatenate([b.fps for b in batches]),
            np.concatenate([b.keys for b in batches]),
            np.concatenate([b.parents for b in batches]),
            np.concatenate([b.aids for b in batches]),
            np.concatenate(offsets),
            b"".join(b.blob for b in batches),
            batches[0].labels,
        )


def route(rows: list[tuple], parts: int) -> list[list[Batch]]:
    per = [[] for _ in range(parts)]
    for row in rows:
        per[row[0] % parts].append(row)
    return [[Batch.of(r)] for r in per]


def merge_ranks(keys: list[np.ndarray], base: int) -> list[np.ndarray]:
    """Each partition's keys' ranks among all partitions' keys (distinct), from ``base``."""
    if len(keys) == 1:
        return [base + np.arange(len(keys[0]), dtype=np.int64)]
    every = np.concatenate(keys)
    rank = np.empty(len(every), dtype=np.int64)
    rank[np.argsort(every, kind="stable")] = base + np.arange(len(every), dtype=np.int64)
    out, at = [], 0
    for k in keys:
        out.append(rank[at : at + len(k)])
        at += len(k)
    return out
