"""The tables a partition keeps between rounds, probed by machine code.

- :class:`Recent`: what the partition already sent, so that it sends each successor once.
- :class:`Projections`: what the properties say of each projection (a state without its
  network bits), so that most new states are checked without the Python kernel.
- :func:`table_find`, :func:`table_insert`: the visited set's linear probing (fpset.py).

Open addressing over numpy arrays; each table that only speeds things up is emptied when
half full, since forgetting only costs doing the work again.
"""

from __future__ import annotations

import numpy as np

from checker.search.jit import M32, U64
from checker.search.jit import jit as _jit


def _as_words(value: int, words: int) -> list[int]:
    return [(value >> (64 * w)) & 0xFFFFFFFFFFFFFFFF for w in range(words)]


class Recent:
    """What one partition already sent, so that it sends each successor once: raw successors
    whole (so none is renamed twice, and no hash collision can hide a state) and
    representatives by fingerprint (the visited set's own identity). Each table is emptied
    when half full: forgetting only costs sending a record again. Tables start small and
    grow (emptied) up to ``limit`` slots, so a small search touches little memory."""

    def __init__(self, words: int, limit: int = 1 << 21, start: int = 1 << 12) -> None:
        self.words, self.limit = words, limit
        self.counts = np.zeros(2, dtype=np.int64)  # rows held, fingerprints held
        self.rows = np.zeros((0, words), dtype=np.uint64)
        self.used = np.zeros(0, dtype=np.uint8)
        self.fps = np.zeros(0, dtype=np.uint64)  # 0: an empty slot (no fingerprint is 0)
        self._grow_rows(min(start, limit))
        self._grow_fps(min(2 * start, 2 * limit))

    def reserve(self, n: int) -> None:
        """Make room for ``n`` more entries in each table, as far as the limit allows."""
        if len(self.used) < self.limit and 2 * (int(self.counts[0]) + n) > len(self.used):
            self._grow_rows(min(self.limit, _power_of_two(2 * (int(self.counts[0]) + n))))
        if len(self.fps) < 2 * self.limit and 2 * (int(self.counts[1]) + n) > len(self.fps):
            self._grow_fps(min(2 * self.limit, _power_of_two(2 * (int(self.counts[1]) + n))))

    def _grow_rows(self, slots: int) -> None:
        self.rows = np.zeros((slots, self.words), dtype=np.uint64)
        self.used = np.zeros(slots, dtype=np.uint8)
        self.counts[0] = 0

    def _grow_fps(self, slots: int) -> None:
        self.fps = np.zeros(slots, dtype=np.uint64)
        self.counts[1] = 0


def _power_of_two(n: int) -> int:
    return 1 << max(0, n - 1).bit_length()


@_jit
def _first_rows(rows, table, used, counts):
    """Which rows were not in ``table`` (and are now): open addressing, rows compared whole."""
    slots, w = table.shape
    keep = np.zeros(rows.shape[0], dtype=np.bool_)
    for r in range(rows.shape[0]):
        if 2 * counts[0] >= slots:
            used[:] = 0
            counts[0] = 0
        h = U64(0)
        for x in range(w):
            h = (h ^ rows[r, x]) * U64(0x9E3779B97F4A7C15)
            h ^= h >> U64(29)
        at = np.int64(h % U64(slots))
        while True:
            if used[at] == 0:
                used[at] = 1
                for x in range(w):
                    table[at, x] = rows[r, x]
                counts[0] += 1
                keep[r] = True
                break
            same = True
            for x in range(w):
                if table[at, x] != rows[r, x]:
                    same = False
                    break
            if same:
                break
            at = at + 1 if at + 1 < slots else 0
    return keep


@_jit
def _first_fps(fps, table, counts):
    """Which fingerprints were not in ``table`` (and are now)."""
    slots = table.shape[0]
    keep = np.zeros(fps.shape[0], dtype=np.bool_)
    for r in range(fps.shape[0]):
        if 2 * counts[1] >= slots:
            table[:] = 0
            counts[1] = 0
        f = fps[r]
        at = np.int64((f * U64(0x9E3779B97F4A7C15)) % U64(slots))
        while True:
            here = table[at]
            if here == U64(0):
                table[at] = f
                counts[1] += 1
                keep[r] = True
                break
            if here == f:
                break
            at = at + 1 if at + 1 < slots else 0
    return keep


@_jit
def _unchecked(rows, mask, table, used, bad, counts, learn):
    """Which rows need their properties checked one by one: those whose projection (the
    row under ``mask``) is not in ``table``, or holds a message its ``bad`` mask names. With
    ``learn``, rows whose projection is new are added, with their ``bad`` masks from
    ``learn_bad`` rows instead (see :meth:`Projections.learn`)."""
    slots, w = table.shape
    needs = np.zeros(rows.shape[0], dtype=np.bool_)
    proj = np.empty(w, dtype=np.uint64)
    for r in range(rows.shape[0]):
        h = U64(0)
        for x in range(w):
            proj[x] = rows[r, x] & mask[x]
            h = (h ^ proj[x]) * U64(0x9E3779B97F4A7C15)
            h ^= h >> U64(29)
        at = np.int64(h % U64(slots))
        found = False
        while used[at]:
            same = True
            for x in range(w):
                if table[at, x] != proj[x]:
                    same = False
                    break
            if same:
                found = True
                break
            at = at + 1 if at + 1 < slots else 0
        if found:
            for x in range(w):
                if rows[r, x] & bad[at, x]:
                    needs[r] = True
                    break
        elif learn.shape[0] > 0:
            if 2 * counts[0] >= slots:
                used[:] = 0
                counts[0] = 0
                at = np.int64(h % U64(slots))
            used[at] = 1
            counts[0] += 1
            for x in range(w):
                table[at, x] = proj[x]
                bad[at, x] = learn[r, x]
        else:
            needs[r] = True
    return needs


class Projections:
    """What the properties say of each projection (a state without its network): the mask
    of messages whose presence breaks one, as compiled.py's property cache has it, kept
    here so that a state is checked by machine code. Emptied when half full."""

    def __init__(self, kernel, words: int, limit: int = 1 << 20, start: int = 1 << 12) -> None:
        self.kernel, self.words, self.limit = kernel, words, limit
        self.mask = np.array(
            _as_words(((1 << (64 * words)) - 1) & ~kernel.net_mask, words), dtype=np.uint64
        )
        self.counts = np.zeros(1, dtype=np.int64)
        self._none = np.zeros((0, words), dtype=np.uint64)
        self._grow(min(start, limit))

    def _grow(self, slots: int) -> None:
        self.rows = np.zeros((slots, self.words), dtype=np.uint64)
        self.bad = np.zeros((slots, self.words), dtype=np.uint64)
        self.used = np.zeros(slots, dtype=np.uint8)
        self.counts[0] = 0

    def unchecked(self, rows: np.ndarray) -> np.ndarray:
        """Which of ``rows`` the kernel must check one by one (``violates``)."""
        return _unchecked(rows, self.mask, self.rows, self.used, self.bad, self.counts, self._none)

    def learn(self, rows: np.ndarray, states: list[int]) -> None:
        """Keep the masks of ``states`` (``rows``, checked by the kernel already), except
        those a property breaks whatever the network holds."""
        k = self.kernel
        masks = [k._property_cache.get(st >> k.net_bits) for st in states]
        keep = [i for i, m in enumerate(masks) if m is not None and m >= 0]
        if keep:
            held = int(self.counts[0]) + len(keep)
            if len(self.used) < self.limit and 2 * held > len(self.used):
                self._grow(min(self.limit, _power_of_two(2 * held)))
            words = rows.shape[1]
            learn = np.array([_as_words(masks[i], words) for i in keep], dtype=np.uint64)
            subset = np.ascontiguousarray(rows[keep])
            _unchecked(subset, self.mask, self.rows, self.used, self.bad, self.counts, learn)


@_jit
def table_find(keys, fps, found):
    """Mark in ``found`` which of ``fps`` are in the linear-probing table ``keys``."""
    size = keys.shape[0]
    for i in range(fps.shape[0]):
        f = fps[i]
        at = np.int64(((f & M32) * U64(size)) >> U64(32))
        while True:
            here = keys[at]
            if here == U64(0):
                break
            if here == f:
                found[i] = True
                break
            at = at + 1 if at + 1 < size else 0


@_jit
def table_insert(keys, fps):
    """Insert ``fps`` (distinct, absent) into the linear-probing table ``keys``."""
    size = keys.shape[0]
    for i in range(fps.shape[0]):
        at = np.int64(((fps[i] & M32) * U64(size)) >> U64(32))
        while keys[at] != U64(0):
            at = at + 1 if at + 1 < size else 0
        keys[at] = fps[i]
