"""One sent-once table for every forked worker: :class:`~checker.search.native_sets.Recent`'s
role, in memory all of them map, probed and filled at once by machine code.

Why share it. Partitions own states by fingerprint, so a state's parents are spread over
them, and most states of a level are met by several partitions in the same round. A table of
its own catches only a partition's own repeats: with two workers each renamed a third more raw
states than one worker's half, and sent nearly twice the records (docs/scale.md). Shared, a
successor some partition already sent is neither renamed nor sent again.

Why the order stays exact. A partition may leave a successor out only if its owner gets it
anyway with a key no greater, or the first discovery, and with it the ranks and the
counterexample, would depend on timing. So each entry carries a *stamp*, the round it was made
in and the key of the successor that made it: ``round << 36 | (rank - lo) << 16 | ordinal``.
A successor is left out only when its entry's stamp is smaller (an earlier round, or this round
and a smaller key); otherwise it lowers the stamp to its own and goes on. Whoever set a stamp
sends the state, or leaves it out for a yet smaller stamp: the least key always arrives.

Why no lock is needed. Slots are claimed by compare-and-swap; a raw row is compared only once
published (its state word set to READY after the row and stamp are written); stamps only go
down, by compare-and-swap. A slot still being written is passed over, so a state may be
remembered or sent twice, never left out wrongly. Tables are emptied or grown between rounds
only (:meth:`SharedRecent.tidy`, by partition 0), when no worker probes them.
"""

from __future__ import annotations

import copy
import mmap

import numpy as np

from checker.search.jit import U64, atomic_cas, atomic_load, atomic_store
from checker.search.jit import jit as _jit
from checker.search.native_sets import GOLDEN, Recent, _grown

KEY_BITS = 36  # (rank - lo) << 16 | ordinal: rounds of at most 2^20 states
MAX_ROUND = 1 << (KEY_BITS - 16)
READY = np.uint32(2)  # a row slot's state: 0 empty, 1 being written, 2 ready
LINE = 8  # words per worker's counters: one cache line each, so counting does not contend
REFRESH = 16  # inserts between two reads of the other workers' counters


class SharedRecent:
    """Raw successors (compared whole) and representatives' fingerprints that some partition
    already sent, with their stamps, for ``parts`` workers forked after it is made. Tables
    start at ``start`` slots and grow (emptied) up to ``limit`` raw rows, twice as many
    fingerprints; the memory is mapped whole but touched only as far as the tables reach."""

    stamped = True
    me = 0  # the worker whose counters this copy keeps (:meth:`for_worker`)

    def __init__(self, words: int, parts: int, limit: int = 1 << 21, start: int = 1 << 12):
        self.words, self.parts, self.limit = words, parts, limit
        start = max(start, 1 << (parts * LINE * REFRESH).bit_length())  # room for overshoot
        self.start = min(start, limit)
        sizes = {
            "header": (LINE * (parts + 1), np.uint64),
            "rows": (limit * words, np.uint64),
            "row_stamps": (limit, np.uint64),
            "row_states": (limit, np.uint32),
            "fps": (2 * limit, np.uint64),
            "fp_stamps": (2 * limit, np.uint64),
        }
        total = sum(n * np.dtype(t).itemsize for n, t in sizes.values())
        self._memory = mmap.mmap(-1, total)  # shared with the processes forked from here
        arrays, at = {}, 0
        for name, (n, t) in sizes.items():
            arrays[name] = np.frombuffer(self._memory, dtype=t, count=n, offset=at)
            at += n * np.dtype(t).itemsize
        self.header = arrays["header"]
        self.rows = arrays["rows"].reshape(limit, words)
        self.row_stamps, self.row_states = arrays["row_stamps"], arrays["row_states"]
        self.fps, self.fp_stamps = arrays["fps"], arrays["fp_stamps"]
        self.header[0], self.header[1] = self.start, 2 * self.start

    def for_worker(self, me: int) -> SharedRecent:
        """This table, as worker ``me`` (of ``parts``) fills it."""
        view = copy.copy(self)
        view.me = me
        view.local = Recent(self.words, self.limit)
        return view

    def reserve(self, n: int) -> None:
        self.local.reserve(n)

    def first_rows(self, rows: np.ndarray, stamps: np.ndarray) -> np.ndarray:
        """Which raw successors ``rows`` (stamped ``stamps``) must go on to be renamed."""
        return self.local.first_rows(rows)

    def first_fps(self, fps: np.ndarray, stamps: np.ndarray) -> np.ndarray:
        """Which representatives (by fingerprint) must be sent."""
        return _first_fps(fps, stamps, self.fps, self.fp_stamps, self.header, self.me)

    def tidy(self) -> None:
        """Between rounds: make room in each table for what it holds and twice what the
        workers met last round (a guess at the next); a table that grows is emptied, and so
        is one half full at its limit."""
        counts = self.header[LINE:].reshape(self.parts, LINE).sum(axis=0)
        rows, fps, rows_met, fps_met = (int(c) for c in counts[:4])
        slots = int(self.header[0])
        wanted = _grown(slots, rows + 2 * rows_met, self.limit)
        if wanted or 2 * rows >= slots:
            slots = wanted or slots
            self.row_states[:slots] = 0
            self.header[0] = slots
            self.header[LINE::LINE] = 0
        slots = int(self.header[1])
        wanted = _grown(slots, fps + 2 * fps_met, 2 * self.limit)
        if wanted or 2 * fps >= slots:
            slots = wanted or slots
            self.fps[:slots] = 0
            self.fp_stamps[:slots] = 0
            self.header[1] = slots
            self.header[LINE + 1 :: LINE] = 0


def stamps_of(serial: int, relative_ranks: np.ndarray, ordinals: np.ndarray) -> np.ndarray:
    """The stamps of successors of round ``serial`` (from 1): ``serial << 36 | key``, the key
    ``(rank - lo) << 16 | ordinal`` of each."""
    keys = (relative_ranks.astype(np.uint64) << U64(16)) | ordinals.astype(np.uint64)
    return keys | U64(serial << KEY_BITS)


@_jit
def _lower_to(stamps, at, mine):
    """Lower ``stamps[at]`` to ``mine`` (0 counts as no stamp yet); whether it went down, so
    that ``mine`` is now the least one known."""
    while True:
        old = atomic_load(stamps, at)
        if old != U64(0) and old <= mine:
            return False
        if atomic_cas(stamps, at, old, mine) == old:
            return True


@_jit
def _held(header, column):
    total = U64(0)
    for j in range(1, header.shape[0] // LINE):
        total += atomic_load(header, j * LINE + column)
    return total


@_jit
def _first_rows(rows, stamps, table, states, row_stamps, header, me):
    n, w = rows.shape
    slots = np.int64(header[0])
    half = U64(slots // 2)
    mine = (me + 1) * LINE
    header[mine + 2] = U64(n)
    keep = np.zeros(n, dtype=np.bool_)
    held = _held(header, 0)
    for r in range(n):
        row, stamp = rows[r], stamps[r]
        h = U64(0)
        for x in range(w):
            h = (h ^ row[x]) * GOLDEN
            h ^= h >> U64(29)
        at = np.int64(h % U64(slots))
        while True:
            state = atomic_load(states, at)
            if state == np.uint32(0):
                if held >= half:  # no room to remember it: it goes on
                    keep[r] = True
                    break
                if atomic_cas(states, at, np.uint32(0), np.uint32(1)) != np.uint32(0):
                    continue  # another worker took the slot first: look at it again
                for x in range(w):
                    table[at, x] = row[x]
                row_stamps[at] = stamp
                atomic_store(states, at, READY)
                header[mine] += U64(1)
                held += U64(1)
                if header[mine] % U64(REFRESH) == U64(0):
                    held = _held(header, 0)
                keep[r] = True
                break
            if state == READY:
                same = True
                for x in range(w):
                    if table[at, x] != row[x]:
                        same = False
                        break
                if same:
                    keep[r] = _lower_to(row_stamps, at, stamp)
                    break
            at = at + 1 if at + 1 < slots else 0
    return keep


@_jit
def _first_fps(fps, stamps, table, fp_stamps, header, me):
    slots = np.int64(header[1])
    half = U64(slots // 2)
    mine = (me + 1) * LINE + 1
    header[mine + 2] = U64(fps.shape[0])
    keep = np.zeros(fps.shape[0], dtype=np.bool_)
    held = _held(header, 1)
    for r in range(fps.shape[0]):
        f, stamp = fps[r], stamps[r]
        at = np.int64((f * GOLDEN) % U64(slots))
        while True:
            here = atomic_load(table, at)
            if here == U64(0):
                if held >= half:
                    keep[r] = True
                    break
                here = atomic_cas(table, at, U64(0), f)
                if here == U64(0):
                    header[mine] += U64(1)
                    held += U64(1)
                    if header[mine] % U64(REFRESH) == U64(0):
                        held = _held(header, 1)
                    keep[r] = _lower_to(fp_stamps, at, stamp)
                    break
            if here == f:
                keep[r] = _lower_to(fp_stamps, at, stamp)
                break
            at = at + 1 if at + 1 < slots else 0
    return keep
