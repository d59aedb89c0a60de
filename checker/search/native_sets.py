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

from checker.search.jit import M32, U64, jit_inline
from checker.search.jit import jit as _jit


def _as_words(value: int, words: int) -> list[int]:
    return [(value >> (64 * w)) & 0xFFFFFFFFFFFFFFFF for w in range(words)]


GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # multiplicative hashing's constant (2^64 / golden ratio)


class Recent:
    """What one partition already sent, so that it sends each successor once: raw successors
    whole (so none is renamed twice, and no hash collision can hide a state) and
    representatives by fingerprint (the visited set's own identity). Each table is emptied
    when half full: forgetting only costs sending a record again. Tables start small and
    grow (emptied) up to ``limit`` slots, so a small search touches little memory."""

    def __init__(
        self, words: int, limit: int = 1 << 21, start: int = 1 << 12, fps: bool = True
    ) -> None:
        self.words, self.limit = words, limit
        self.fp_limit = 2 * limit if fps else 1  # without fps: raw rows only (native_shared.py)
        self.row_count = np.zeros(1, dtype=np.int64)  # held in rows / in fps: updated by
        self.fp_count = np.zeros(1, dtype=np.int64)  # first_rows and first_fps
        self._grow_rows(min(start, limit))
        self._grow_fps(min(2 * start, self.fp_limit))

    stamped = False  # its entries need no stamps: one partition meets successors in key order

    def first_rows(self, rows: np.ndarray) -> np.ndarray:
        """Which raw successors ``rows`` were not met before (and now are)."""
        return first_rows(rows, self.rows, self.used, self.row_count)

    def first_fps(self, fps: np.ndarray, stamps=None) -> np.ndarray:
        """Which representatives' fingerprints were not met before (and now are)."""
        return first_fps(fps, self.fps, self.fp_count)

    def plan(self) -> None:
        """Nothing: the tables are emptied as they fill."""

    def tidy(self) -> None:
        """Nothing: the tables are emptied as they fill."""

    def reserve(self, n: int) -> None:
        """Make room for ``n`` more entries in each table, as far as the limit allows."""
        slots = _grown(len(self.used), int(self.row_count[0]) + n, self.limit)
        if slots:
            self._grow_rows(slots)
        slots = _grown(len(self.fps), int(self.fp_count[0]) + n, self.fp_limit)
        if slots:
            self._grow_fps(slots)

    def _grow_rows(self, slots: int) -> None:
        self.rows = np.zeros((slots, self.words), dtype=np.uint64)
        self.used = np.zeros(slots, dtype=np.uint8)
        self.row_count[0] = 0

    def _grow_fps(self, slots: int) -> None:
        self.fps = np.zeros(slots, dtype=np.uint64)  # 0: an empty slot (no fingerprint is 0)
        self.fp_count[0] = 0


def _grown(slots: int, held: int, limit: int) -> int:
    """The size to grow a table of ``slots`` to so that ``held`` entries fill at most half
    of it (at most ``limit``), or 0 if it need not (or cannot) grow."""
    if slots >= limit or 2 * held <= slots:
        return 0
    return min(limit, 1 << max(0, 2 * held - 1).bit_length())


@jit_inline
def _slot(table, used, row):
    """Where ``row`` is in the open-addressing ``table`` (rows compared whole), or the free
    slot where it would go; and whether it is there."""
    slots, w = table.shape
    h = U64(0)
    for x in range(w):
        h = (h ^ row[x]) * GOLDEN
        h ^= h >> U64(29)
    at = np.int64(h % U64(slots))
    while used[at]:
        same = True
        for x in range(w):
            if table[at, x] != row[x]:
                same = False
                break
        if same:
            return at, True
        at = at + 1 if at + 1 < slots else 0
    return at, False


@_jit
def first_rows(rows, table, used, count):
    """Which rows were not in ``table`` (and are now)."""
    keep = np.zeros(rows.shape[0], dtype=np.bool_)
    for r in range(rows.shape[0]):
        if 2 * count[0] >= table.shape[0]:
            used[:] = 0
            count[0] = 0
        at, found = _slot(table, used, rows[r])
        if not found:
            used[at] = 1
            for x in range(rows.shape[1]):  # not table[at] = rows[r]: 3x slower in numba
                table[at, x] = rows[r, x]
            count[0] += 1
            keep[r] = True
    return keep


@_jit
def first_fps(fps, table, count):
    """Which fingerprints were not in ``table`` (and are now)."""
    slots = table.shape[0]
    keep = np.zeros(fps.shape[0], dtype=np.bool_)
    for r in range(fps.shape[0]):
        if 2 * count[0] >= slots:
            table[:] = 0
            count[0] = 0
        f = fps[r]
        at = np.int64((f * GOLDEN) % U64(slots))
        while table[at] != U64(0) and table[at] != f:
            at = at + 1 if at + 1 < slots else 0
        if table[at] == U64(0):
            table[at] = f
            count[0] += 1
            keep[r] = True
    return keep


@_jit
def _unchecked(rows, mask, table, used, bad):
    """Which rows need their properties checked one by one: those whose projection (the
    row under ``mask``) is not in ``table``, or holds a message its ``bad`` mask names."""
    needs = np.zeros(rows.shape[0], dtype=np.bool_)
    proj = np.empty(rows.shape[1], dtype=np.uint64)
    for r in range(rows.shape[0]):
        row = rows[r]
        for x in range(row.shape[0]):
            proj[x] = row[x] & mask[x]
        at, found = _slot(table, used, proj)
        needs[r] = not found
        if found:
            for x in range(row.shape[0]):
                if row[x] & bad[at, x]:
                    needs[r] = True
                    break
    return needs


@_jit
def _learn(rows, mask, table, used, bad, count, masks):
    """Add each row's projection with its ``bad`` mask (a row of ``masks``)."""
    proj = np.empty(rows.shape[1], dtype=np.uint64)
    for r in range(rows.shape[0]):
        if 2 * count[0] >= table.shape[0]:
            used[:] = 0
            count[0] = 0
        for x in range(rows.shape[1]):
            proj[x] = rows[r, x] & mask[x]
        at, found = _slot(table, used, proj)
        if not found:
            used[at] = 1
            for x in range(rows.shape[1]):
                table[at, x] = proj[x]
            count[0] += 1
        for x in range(rows.shape[1]):
            bad[at, x] = masks[r, x]


class Projections:
    """What the properties say of each projection (a state without its network): the mask
    of messages whose presence breaks one, as compiled.py's property cache has it, kept
    here so that a state is checked by machine code. Emptied when half full."""

    def __init__(self, kernel, words: int, limit: int = 1 << 20, start: int = 1 << 12) -> None:
        self.kernel, self.words, self.limit = kernel, words, limit
        self.mask = np.array(
            _as_words(((1 << (64 * words)) - 1) & ~kernel.net_mask, words), dtype=np.uint64
        )
        self.count = np.zeros(1, dtype=np.int64)
        self._grow(min(start, limit))

    def _grow(self, slots: int) -> None:
        self.rows = np.zeros((slots, self.words), dtype=np.uint64)
        self.bad = np.zeros((slots, self.words), dtype=np.uint64)
        self.used = np.zeros(slots, dtype=np.uint8)
        self.count[0] = 0

    def unchecked(self, rows: np.ndarray) -> np.ndarray:
        """Which of ``rows`` the kernel must check one by one (``violates``)."""
        return _unchecked(rows, self.mask, self.rows, self.used, self.bad)

    def learn(self, rows: np.ndarray, states: list[int]) -> None:
        """Keep the masks of ``states`` (``rows``, checked by the kernel already), except
        those a property breaks whatever the network holds."""
        k = self.kernel
        masks = [k._property_cache.get(st >> k.net_bits) for st in states]
        keep = [i for i, m in enumerate(masks) if m is not None and m >= 0]
        slots = _grown(len(self.used), int(self.count[0]) + len(keep), self.limit)
        if slots:
            self._grow(slots)
        learned = np.array([_as_words(masks[i], self.words) for i in keep], dtype=np.uint64)
        _learn(
            np.ascontiguousarray(rows[keep]), self.mask, self.rows, self.used, self.bad,
            self.count, learned.reshape(len(keep), self.words),
        )  # fmt: skip


@jit_inline
def _home(f, size):
    """A key's first slot in a table of ``size``: multiply-shift on its low 32 bits (any
    size, not only powers of two), as fpset._Table._home has it."""
    return np.int64(((f & M32) * U64(size)) >> U64(32))


@_jit
def table_find(keys, fps, found):
    """Mark in ``found`` which of ``fps`` are in the linear-probing table ``keys``."""
    size = keys.shape[0]
    for i in range(fps.shape[0]):
        f = fps[i]
        at = _home(f, size)
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
        at = _home(fps[i], size)
        while keys[at] != U64(0):
            at = at + 1 if at + 1 < size else 0
        keys[at] = fps[i]


@_jit
def table_add(keys, fps, added):
    """Insert each of ``fps`` (distinct) not yet in the linear-probing table ``keys``, marking
    in ``added`` those it inserted; returns how many. One probe a key: the same slot a find
    would reach is where the key goes."""
    size, count = keys.shape[0], 0
    for i in range(fps.shape[0]):
        f = fps[i]
        at = _home(f, size)
        while True:
            here = keys[at]
            if here == U64(0):
                keys[at] = f
                added[i] = True
                count += 1
                break
            if here == f:
                break
            at = at + 1 if at + 1 < size else 0
    return count


@_jit
def group_by_table(fps, shift, tables, spread):
    """The positions of ``fps`` grouped by table, ``fps >> shift`` (of ``tables``), and
    within a table by the top ``spread`` bits of the low 32 (where
    :func:`table_add` starts probing): a counting sort, stable. Returns the order and where
    each table's group starts (``tables + 1`` bounds). Probing in that order walks each table
    from start to end instead of at random: about half the cost once tables outgrow the
    caches."""
    buckets = tables << spread
    starts = np.zeros(buckets + 1, dtype=np.int64)
    low = U64(32 - spread)
    for i in range(fps.shape[0]):
        f = fps[i]
        b = (np.int64(f >> U64(shift)) << spread) | np.int64((f & M32) >> low)
        starts[b + 1] += 1
    for b in range(buckets):
        starts[b + 1] += starts[b]
    bounds = np.empty(tables + 1, dtype=np.int64)
    for t in range(tables + 1):
        bounds[t] = starts[t << spread]
    order = np.empty(fps.shape[0], dtype=np.int64)
    for i in range(fps.shape[0]):
        f = fps[i]
        b = (np.int64(f >> U64(shift)) << spread) | np.int64((f & M32) >> low)
        order[starts[b]] = i
        starts[b] += 1
    return order, bounds


@_jit
def first_of_each(fps, order):
    """Which positions of ``order`` hold the first of their fingerprint (``fps[order[i]]``)."""
    n = order.shape[0]
    bits = 4
    while (1 << bits) < 2 * n:
        bits += 1
    seen = np.zeros(1 << bits, dtype=np.uint64)  # fingerprints are never 0
    first = np.zeros(n, dtype=np.bool_)
    mask = U64((1 << bits) - 1)
    for i in range(n):
        f = fps[order[i]]
        at = np.int64((f * GOLDEN) >> U64(64 - bits))
        while True:
            here = seen[at]
            if here == U64(0):
                seen[at] = f
                first[i] = True
                break
            if here == f:
                break
            at = np.int64((U64(at) + U64(1)) & mask)
    return first
