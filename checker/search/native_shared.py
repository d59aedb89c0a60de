"""One sent-once table of fingerprints for every forked worker: the half of
:class:`~checker.search.native_sets.Recent` that says which representatives were sent, in
memory all of them map, probed and filled at once by machine code.

Why share it. Partitions own states by fingerprint, so a state's parents are spread over
them, and most states of a level are met by several partitions in the same round. A table of
its own catches only a partition's own repeats: at N=3, T=2 each of two workers sent 148,000
records for 84,000 distinct states. Shared, a representative some partition already sent is not
sent again. (Raw successors stay in a table of each worker's own: sharing them too, measured,
cost more in compare-and-swap than it saved in renaming.)

Why the order stays exact. A partition may leave a successor out only if its owner gets it
anyway with a key no greater, or the first discovery, and with it the ranks and the
counterexample, would depend on timing. So each entry carries a *stamp*, the round it was made
in and the key of the successor that made it: ``round << 36 | (rank - lo) << 16 | ordinal``.
A successor is left out only when its entry's stamp is smaller (an earlier round, or this round
and a smaller key); otherwise it lowers the stamp to its own and is sent. Whoever set a stamp
sent the state: the least key always arrives.

Why no lock is needed. Slots are claimed by compare-and-swap and stamps only go down, by
compare-and-swap; a stamp not yet written reads as none, so its reader sends. At worst a state
is sent twice, never left out wrongly. Tables are emptied or grown between rounds only
(:meth:`SharedRecent.tidy`, each worker its share), when no worker probes them.
"""

from __future__ import annotations

import copy
import mmap

import numpy as np

from checker.search.jit import U64, atomic_cas, atomic_load
from checker.search.jit import jit as _jit
from checker.search.native_sets import GOLDEN, Recent, _grown

KEY_BITS = 36  # (rank - lo) << 16 | ordinal: rounds of at most 2^20 states
MAX_ROUND = 1 << (KEY_BITS - 16)
LINE = 8  # words per worker's counters: one cache line each, so counting does not contend
REFRESH = 16  # inserts between two reads of the other workers' counters


class SharedRecent:
    """Representatives' fingerprints some partition already sent, with their stamps, for
    ``parts`` workers forked after it is made; raw successors in a table of each worker's own.
    The table starts at ``start`` slots and grows (emptied) up to ``2 * limit``; its memory is
    mapped whole but touched only as far as the table reaches."""

    stamped = True
    me = 0  # the worker whose counters this copy keeps (:meth:`for_worker`)
    _plan: int | None = None  # the table's size after the next tidy, if it is emptied

    def __init__(self, words: int, parts: int, limit: int = 1 << 21, start: int = 1 << 12):
        self.words, self.parts, self.limit = words, parts, limit
        # Each worker may pass the half-full mark by REFRESH inserts before it sees it.
        start = max(start, 1 << (4 * parts * REFRESH).bit_length())
        self.start = min(2 * start, 2 * limit)
        header, slots = LINE * (parts + 1), 2 * limit
        self._memory = mmap.mmap(-1, 8 * (header + 2 * slots))  # shared with forked workers
        self.header = np.frombuffer(self._memory, dtype=np.uint64, count=header)
        self.fps, self.fp_stamps = (
            np.frombuffer(self._memory, dtype=np.uint64, count=slots, offset=8 * (header + at))
            for at in (0, slots)
        )
        self.header[0] = self.start
        self.rows = None

    def for_worker(self, me: int) -> SharedRecent:
        """This table, as worker ``me`` (of ``parts``) fills it."""
        view = copy.copy(self)
        view.me = me
        view.rows = Recent(self.words, self.limit, fps=False)
        return view

    def reserve(self, n: int) -> None:
        """Room in this worker's table of raw successors (the shared one grows in :meth:`tidy`)."""
        self.rows.reserve(n)

    def first_rows(self, rows: np.ndarray) -> np.ndarray:
        """Which raw successors ``rows`` this worker had not met (and now has)."""
        return self.rows.first_rows(rows)

    def first_fps(self, fps: np.ndarray, stamps: np.ndarray) -> np.ndarray:
        """Which representatives (by fingerprint) must be sent."""
        return _first_fps(fps, stamps, self.fps, self.fp_stamps, self.header, self.me)

    def plan(self) -> None:
        """After a round's expansion, before any :meth:`tidy`: decide how the table is
        tidied, as every worker will (the counts do not move until the next expansion).
        Room for what it holds and twice what the workers met last round (a guess at the
        next); a table that grows is emptied, and so is one half full at its limit."""
        counts = self.header[LINE:].reshape(self.parts, LINE).sum(axis=0)
        held, met = int(counts[0]), int(counts[1])
        slots = int(self.header[0])
        wanted = _grown(slots, held + 2 * met, 2 * self.limit)
        self._plan = (wanted or slots) if wanted or 2 * held >= slots else None

    def tidy(self) -> None:
        """Between rounds, when no worker probes the table: empty this worker's share of it
        if :meth:`plan` said so (worker 0 also resets the size and the counts)."""
        slots, self._plan = self._plan, None
        if slots is None:
            return
        lo, hi = slots * self.me // self.parts, slots * (self.me + 1) // self.parts
        self.fps[lo:hi] = 0
        self.fp_stamps[lo:hi] = 0
        if self.me == 0:
            self.header[0] = slots
            self.header[LINE::LINE] = 0


def round_stamps(serial: int, relative_ranks: np.ndarray) -> np.ndarray:
    """The stamps of states expanded in round ``serial`` (from 1), ranked ``relative_ranks``
    from the round's first: ``serial << 36 | rank << 16``. A successor's stamp is its
    parent's with its ordinal in the low 16 bits, ``(rank - lo) << 16 | ordinal`` being its
    key within the round."""
    return (relative_ranks.astype(np.uint64) << U64(16)) | U64(serial << KEY_BITS)


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
def _first_fps(fps, stamps, table, fp_stamps, header, me):
    """Which ``fps`` (stamped ``stamps``) worker ``me`` must send; see the module's doc."""
    slots = np.int64(header[0])
    half = U64(slots // 2)
    mine = (me + 1) * LINE
    header[mine + 1] = U64(fps.shape[0])
    keep = np.zeros(fps.shape[0], dtype=np.bool_)
    held = _held(header, 0)
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
                    # Claimed: this worker sends it. A plain store, even over a smaller stamp
                    # a reader set meanwhile: every stamp ever held is some sender's key.
                    fp_stamps[at] = stamp
                    header[mine] += U64(1)
                    held += U64(1)
                    if header[mine] % U64(REFRESH) == U64(0):
                        held = _held(header, 0)
                    keep[r] = True
                    break
            if here == f:
                keep[r] = _lower_to(fp_stamps, at, stamp)
                break
            at = at + 1 if at + 1 < slots else 0
    return keep
