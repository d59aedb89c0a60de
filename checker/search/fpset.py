"""A compact set of 64-bit fingerprints: numpy open addressing in memory, sorted runs on disk.

The visited set of the partitioned search (partition.py). Keys are 64-bit fingerprints, never
0 (0 marks an empty slot; :func:`fingerprints` maps a hash of 0 to 1). Work is done a batch at a
time, vectorized: :meth:`FingerprintSet.add_new` inserts a batch and says which keys were new.

In memory the keys live in ``SUBTABLES`` linear-probing tables, chosen by the key's top bits,
each kept between half and three quarters full: 8 bytes a slot, so 10.7 to 16 bytes a key.
A table grows alone, so growing costs a few percent of the set, not a second copy of it.

Past ``memory_limit`` bytes the tables are written out as one sorted run (a numpy file, read
through a memory map) and emptied, as TLC's DiskFPSet does; a key is then looked up in the
tables and, by binary search, in each run.

>>> import numpy as np
>>> seen = FingerprintSet()
>>> seen.add_new(np.array([5, 7, 9], dtype=np.uint64)).tolist()
[True, True, True]
>>> seen.add_new(np.array([7, 11], dtype=np.uint64)).tolist(), len(seen)
([False, True], 4)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import xxhash

from checker.search.jit import njit
from checker.search.native_sets import group_by_table, table_add, table_find, table_insert

# The same probing as machine code (native_sets.py); numpy's vectorized passes without numba.
NATIVE = njit is not None and os.environ.get("ELECTKIT_NATIVE", "1") != "0"

SUBTABLES = 16
SUB_SHIFT = np.uint64(60)  # the top 4 bits pick the table
MIN_SLOTS = 1024
MAX_LOAD = 0.75
GROWTH = 1.5
SPREAD_BITS = 12  # keys probed in order of their home slot's 1/4096th of a table
TAIL = 64  # keys still probing after the vectorized passes: finished one by one (long clusters)


def fingerprints(blobs: Iterable[bytes]) -> np.ndarray:
    """The xxh3-64 fingerprint of each byte string, with 0 (the empty slot) mapped to 1."""
    digest = xxhash.xxh3_64_intdigest
    fps = np.fromiter((digest(b) for b in blobs), dtype=np.uint64)
    fps[fps == 0] = 1
    return fps


class _Table:
    """One linear-probing table of keys; ``slots`` of them, 0 for empty."""

    def __init__(self, slots: int) -> None:
        self.keys = np.zeros(slots, dtype=np.uint64)
        self.count = 0

    def _home(self, fps: np.ndarray) -> np.ndarray:
        # Multiply-shift on the low 32 bits: any table size, not only powers of two.
        low = fps & np.uint64(0xFFFFFFFF)
        return ((low * np.uint64(len(self.keys))) >> np.uint64(32)).astype(np.int64)

    def find(self, fps: np.ndarray) -> np.ndarray:
        """Which of ``fps`` are in the table."""
        found = np.zeros(len(fps), dtype=bool)
        if NATIVE:
            table_find(self.keys, np.ascontiguousarray(fps, dtype=np.uint64), found)
            return found
        pending = np.arange(len(fps))
        slot = self._home(fps)
        size = len(self.keys)
        while pending.size > TAIL:
            here = self.keys[slot]
            hit = here == fps[pending]
            found[pending[hit]] = True
            go_on = ~hit & (here != 0)
            pending, slot = pending[go_on], slot[go_on] + 1
            slot[slot == size] = 0
        keys = self.keys
        for i, at in zip(pending.tolist(), slot.tolist(), strict=True):
            want = int(fps[i])
            while (here := int(keys[at])) != 0:
                if here == want:
                    found[i] = True
                    break
                at = at + 1 if at + 1 < size else 0
        return found

    def insert_absent(self, fps: np.ndarray) -> None:
        """Insert distinct keys known to be absent."""
        if NATIVE:
            table_insert(self.keys, np.ascontiguousarray(fps, dtype=np.uint64))
            self.count += len(fps)
            return
        pending = np.arange(len(fps))
        slot = self._home(fps)
        size = len(self.keys)
        while pending.size > TAIL:
            free = self.keys[slot] == 0
            where = np.flatnonzero(free)
            # Two keys may want the same free slot: the first takes it, the other probes on.
            _, first = np.unique(slot[where], return_index=True)
            winners = where[first]
            self.keys[slot[winners]] = fps[pending[winners]]
            stay = np.ones(len(pending), dtype=bool)
            stay[winners] = False
            pending, slot, free = pending[stay], slot[stay], free[stay]
            slot[~free] += 1
            slot[slot == size] = 0
        keys = self.keys
        for i, at in zip(pending.tolist(), slot.tolist(), strict=True):
            while keys[at] != 0:
                at = at + 1 if at + 1 < size else 0
            keys[at] = fps[i]
        self.count += len(fps)

    def grown(self) -> _Table:
        bigger = _Table(int(len(self.keys) * GROWTH) + 1)
        bigger.insert_absent(self.keys[self.keys != 0])
        return bigger


class FingerprintSet:
    """Distinct 64-bit fingerprints; memory past ``memory_limit`` bytes spills to ``spill_dir``."""

    exact = False

    def __init__(self, memory_limit: int | None = None, spill_dir: Path | None = None) -> None:
        self.tables = [_Table(MIN_SLOTS) for _ in range(SUBTABLES)]
        self.runs: list[np.ndarray] = []  # sorted, memory-mapped from spill_dir
        self.memory_limit = memory_limit
        self.spill_dir = spill_dir
        self.spilled = 0

    def __len__(self) -> int:
        return sum(t.count for t in self.tables) + self.spilled

    @property
    def nbytes(self) -> int:
        """Bytes the tables hold in memory."""
        return sum(t.keys.nbytes for t in self.tables)

    @property
    def disk_bytes(self) -> int:
        return 8 * self.spilled

    def add_new(self, fps: np.ndarray) -> np.ndarray:
        """Insert the distinct keys ``fps``; returns a mask of those that were not there."""
        fps = np.asarray(fps, dtype=np.uint64)
        if NATIVE:
            return self._add_new_native(np.ascontiguousarray(fps))
        new = ~self.contains(fps)
        sub = (fps >> SUB_SHIFT).astype(np.int64)
        for t in np.unique(sub[new]):
            keys = fps[new & (sub == t)]
            table = self.tables[t]
            while table.count + len(keys) > MAX_LOAD * len(table.keys):
                table = self.tables[t] = table.grown()
            table.insert_absent(keys)
        if self.memory_limit is not None and self.nbytes > self.memory_limit:
            self.spill()
        return new

    def _add_new_native(self, fps: np.ndarray) -> np.ndarray:
        """:meth:`add_new` as machine code: each key probed once, where a find would look."""
        new = np.zeros(len(fps), dtype=bool)
        order, bounds = group_by_table(fps, SUB_SHIFT, SUBTABLES, SPREAD_BITS)
        for t in range(SUBTABLES):
            idx = order[bounds[t] : bounds[t + 1]]
            if not idx.size:
                continue
            keys = fps[idx]
            if self.runs:  # spilled keys are not new: left out before inserting
                absent = ~self._in_runs(keys)
                idx, keys = idx[absent], keys[absent]
            table = self.tables[t]
            while table.count + len(keys) > MAX_LOAD * len(table.keys):
                table = self.tables[t] = table.grown()
            added = np.zeros(len(keys), dtype=bool)
            table.count += table_add(table.keys, keys, added)
            new[idx[added]] = True
        if self.memory_limit is not None and self.nbytes > self.memory_limit:
            self.spill()
        return new

    def _in_runs(self, fps: np.ndarray) -> np.ndarray:
        """Which of ``fps`` are in a spilled run."""
        found = np.zeros(len(fps), dtype=bool)
        for run in self.runs:
            at = np.searchsorted(run, fps)
            at[at == len(run)] = len(run) - 1
            found |= run[at] == fps
        return found

    def contains(self, fps: np.ndarray) -> np.ndarray:
        """Which of ``fps`` are in the set."""
        found = np.zeros(len(fps), dtype=bool)
        sub = (fps >> SUB_SHIFT).astype(np.int64)
        order = np.argsort(sub, kind="stable")
        bounds = np.searchsorted(sub[order], np.arange(SUBTABLES + 1))
        for t in range(SUBTABLES):
            lo, hi = bounds[t], bounds[t + 1]
            if lo < hi and self.tables[t].count:
                idx = order[lo:hi]
                found[idx] = self.tables[t].find(fps[idx])
        if self.runs:
            rest = np.flatnonzero(~found)
            found[rest[self._in_runs(fps[rest])]] = True
        return found

    def spill(self) -> None:
        """Write every in-memory key to a new sorted run on disk and empty the tables."""
        if self.spill_dir is None:
            raise ValueError("a memory limit needs a folder to spill to")
        keys = np.sort(np.concatenate([t.keys[t.keys != 0] for t in self.tables]))
        if not keys.size:
            return
        path = Path(self.spill_dir) / f"visited-run-{len(self.runs)}.npy"
        tmp = path.with_suffix(".tmp")
        with open(tmp, "wb") as f:
            np.save(f, keys)
        os.replace(tmp, path)
        self.runs.append(np.load(path, mmap_mode="r"))
        self.spilled += len(keys)
        self.tables = [_Table(MIN_SLOTS) for _ in range(SUBTABLES)]

    def collision_probability(self) -> float:
        """About n²/2⁶⁵ for n uniformly hashed states (the birthday bound TLC reports)."""
        n = len(self)
        return n * n / 2.0**65
