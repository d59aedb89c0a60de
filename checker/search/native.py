"""The compiled kernel's tables run as machine code (numba), a batch of states at a time.

The partitioned search (partition.py) spends most of its time in three steps per successor:
the table lookups of :class:`~checker.search.compiled.CompiledKernel`'s ``expand``, its
``canonical`` renaming and the xxh3 fingerprint. Here the same three steps run over a whole
round of frontier states in one call, with the same tables, so they give exactly what the
Python kernel gives: the same successors in the same order (so the same keys), the same
representative of each orbit, the same fingerprints (tests/test_native.py compares them).

A packed state (a Python int) is here ``W`` little-endian 64-bit words, a row of a
``(states, W)`` uint64 array: its bytes are the packed bytes partitions store, zero-padded.

numba compiles on first use and caches the machine code beside this file, so later runs
start at once. Without numba, or for a kernel whose tables do not fit (see
:func:`native_kernel`), the Python kernel runs: slower, the same results.
"""

from __future__ import annotations

import os

import numpy as np

from checker.search.fpset import SPREAD_BITS, SUB_SHIFT, SUBTABLES
from checker.search.jit import U64, get_bits, njit, popcount
from checker.search.jit import jit as _jit
from checker.search.native_sets import (
    Projections,
    Recent,
    _as_words,
    first_of_each,
    group_by_table,
    table_add,
    table_find,
    table_insert,
)
from checker.search.native_shared import SharedRecent
from checker.search.native_symmetry import CHUNK_BITS, canonical_all
from checker.search.xxh3 import MAX_HASHED_BYTES, SECRET, fingerprints

MAX_TABLE_BYTES = 512 << 20  # symmetry tables past this size: the Python kernel instead


def native_kernel(kernel, width: int, symmetric: bool):
    """The :class:`NativeKernel` of compiled ``kernel`` (packed ``width`` bytes a state),
    built once and kept on the kernel (a forked worker inherits it, compiled), or None where
    it cannot run: numba missing, ``ELECTKIT_NATIVE=0`` (to compare the two), a state longer
    than xxh3's mid-size inputs, or symmetry tables too large."""
    cached = getattr(kernel, "_native", {})
    if symmetric in cached:
        return cached[symmetric]
    made = None
    if _runs(kernel, width, symmetric):
        made = NativeKernel(kernel, width, symmetric)
        made.warm_up()
    kernel._native = {**cached, symmetric: made}
    return made


def _runs(kernel, width: int, symmetric: bool) -> bool:
    if njit is None or os.environ.get("ELECTKIT_NATIVE", "1") == "0":
        return False
    if not getattr(kernel, "exact", False) or not width or width > MAX_HASHED_BYTES:
        return False
    if symmetric:
        if not kernel.symmetric:
            return False
        perms = len(kernel._perm_low)
        chunks = -(-kernel.low_bits // CHUNK_BITS)
        if perms * chunks * (1 << CHUNK_BITS) * _words(kernel.low_bits) * 8 > MAX_TABLE_BYTES:
            return False
    return True


def _words(bits: int) -> int:
    return max(1, -(-bits // 64))


class NativeKernel:
    """``kernel``'s tables as arrays, and :meth:`successors` over a batch of states."""

    def __init__(self, kernel, width: int, symmetric: bool) -> None:
        self.kernel, self.width = kernel, width
        self.words = w = _words(width * 8)
        n, uni = kernel.n_servers, kernel.uni
        locals_count = len(uni.locals)
        self.offsets = np.array(kernel.offsets, dtype=np.int64)
        self.keep = np.array(
            [_as_words(~(kernel.local_mask << off) & ((1 << (64 * w)) - 1), w)
             for off in kernel.offsets],
            dtype=np.uint64,
        ).reshape(n, w)  # fmt: skip
        l_start = np.zeros((n, locals_count + 1), dtype=np.int64)
        r_start = np.zeros((n, locals_count + 1), dtype=np.int64)
        l_aid, l_entry, r_bit, r_aid, r_entry = [], [], [], [], []
        for s, (_, _, local_tab, recv_tab) in enumerate(kernel.servers_tables):
            for li in range(locals_count):
                l_start[s, li] = len(l_aid)
                for aid, entry in local_tab[li]:
                    l_aid.append(aid)
                    l_entry.append(_as_words(entry, w))
                r_start[s, li] = len(r_aid)
                for bit, aid, entry in recv_tab[li]:
                    r_bit.append(bit.bit_length() - 1)
                    r_aid.append(aid)
                    r_entry.append(_as_words(entry, w))
            l_start[s, locals_count] = len(l_aid)
            r_start[s, locals_count] = len(r_aid)
        self.l_bounds = _bounds(l_start)
        self.r_bounds = _bounds(r_start)
        self.l_aid = np.array(l_aid, dtype=np.uint8)
        self.l_entry = np.array(l_entry, dtype=np.uint64).reshape(-1, w)
        self.r_bit = np.array(r_bit, dtype=np.int64)
        self.r_aid = np.array(r_aid, dtype=np.uint8)
        self.r_entry = np.array(r_entry, dtype=np.uint64).reshape(-1, w)
        self.kind_masks = np.array(
            [_as_words(m, w) for m in kernel.kind_masks], dtype=np.uint64
        ).reshape(-1, w)
        self.symmetric = symmetric
        if symmetric:
            self._symmetry_arrays()
        else:  # placeholders of the right types: one compiled function serves both
            self.perm_to = np.zeros((1, n), dtype=np.int64)
            self.local_map = np.zeros((1, locals_count), dtype=np.int64)
            self.chunk_tab = np.zeros((1, 1, 1 << CHUNK_BITS, 1), dtype=np.uint64)
            self.sig_masks = np.zeros((2 * n, w), dtype=np.uint64)

    def _symmetry_arrays(self) -> None:
        kernel, w = self.kernel, self.words
        n = kernel.n_servers
        self.perm_to = np.array(
            [[perm[s + 1] - 1 for s in range(n)] for perm, _ in kernel._perm_locals],
            dtype=np.int64,
        )
        self.local_map = np.array([m for _, m in kernel._perm_locals], dtype=np.int64)
        low_words = _words(kernel.low_bits)
        chunks = kernel._perm_low[0]
        tab = np.zeros((len(kernel._perm_low), len(chunks), 1 << CHUNK_BITS, low_words), np.uint64)
        mask = (1 << 64) - 1
        for p, per_chunk in enumerate(kernel._perm_low):
            for c, table in enumerate(per_chunk):
                for x in range(low_words):
                    shift = 64 * x
                    column = [(v >> shift) & mask for v in table]
                    tab[p, c, : len(table), x] = np.array(column, dtype=np.uint64)
        self.chunk_tab = tab
        self.sig_masks = np.array(
            [_as_words(m, w) for m in kernel._signature_masks], dtype=np.uint64
        ).reshape(2 * n, w)

    def successors(
        self, states: np.ndarray, recent: Recent | SharedRecent | None = None, stamps=None
    ):
        """Every successor of every row of ``states`` (``(n, W)`` uint64), in the Python
        kernel's order: ``(rows, parent, ordinal, aid, fps, changed)``, the successor states
        (canonical with symmetry), the row each came from, its position among that row's
        successors, its action id, its fingerprint, and the successors by action id (a
        bincount over all of them). The kernel's enabled-action tallies (``fired_counts``)
        are brought up to date.

        With ``recent``, successors met before (in this call or an earlier one with the same
        ``recent``) are left out: a raw state met before, compared whole, is not renamed
        again, and a representative whose fingerprint was met before is not returned. A
        shared ``recent`` (native_shared.py) needs ``stamps``: each state's stamp
        (``native_shared.round_stamps``), which its successors' extend by their ordinals.
        """
        k = self.kernel
        hist = np.zeros((k.n_servers, len(k.uni.locals)), dtype=np.int64)
        fired = np.zeros(len(k.kind_masks), dtype=np.int64)
        # Room for every transition of every state, enabled or not: each is written before
        # it is known to change the state.
        room = _transitions(states, self.offsets, k.local_bits, self.l_bounds, self.r_bounds)
        rows = np.empty((room, self.words), dtype=np.uint64)
        parent = np.empty(room, dtype=np.int64)
        ordinal = np.empty(room, dtype=np.int64)
        aid = np.empty(room, dtype=np.uint8)
        total = _expand(
            states, self.offsets, k.local_bits, self.keep, self.l_bounds, self.l_aid,
            self.l_entry, self.r_bounds, self.r_bit, self.r_aid, self.r_entry, self.kind_masks,
            hist, fired, rows, parent, ordinal, aid,
        )  # fmt: skip
        rows, parent, ordinal, aid = rows[:total], parent[:total], ordinal[:total], aid[:total]
        changed = np.bincount(aid, minlength=256)
        if recent is not None:
            recent.reserve(len(rows))
            keep = recent.first_rows(rows)
            rows, parent, ordinal, aid = rows[keep], parent[keep], ordinal[keep], aid[keep]
        if self.symmetric:
            canonical_all(
                rows, self.offsets, k.local_bits, k.low_bits, self.perm_to, self.local_map,
                self.chunk_tab, self.sig_masks,
            )  # fmt: skip
        fps = np.empty(len(rows), dtype=np.uint64)
        fingerprints(rows, self.width, SECRET, fps)
        if recent is not None:
            # A shared table's entries carry each successor's stamp: its parent's, and its ordinal.
            marks = stamps[parent] | ordinal.astype(np.uint64) if recent.stamped else None
            keep = recent.first_fps(fps, marks)
            rows, parent, ordinal, aid, fps = (
                rows[keep],
                parent[keep],
                ordinal[keep],
                aid[keep],
                fps[keep],
            )
        for s, row in enumerate(hist.tolist()):
            histogram = k.local_histograms[s]
            for li, times in enumerate(row):
                if times:
                    histogram[li] += times
        for i, times in enumerate(fired.tolist()):
            k.receive_fired[i] += times
        return rows, parent, ordinal, aid, fps, changed

    def warm_up(self) -> None:
        """Compile (or load from numba's cache) every function a partition calls, once, here:
        forked workers inherit them instead of each loading its own."""
        none = np.zeros((0, self.words), dtype=np.uint64)
        self.successors(none, Recent(self.words, limit=16))
        shared = SharedRecent(self.words, 1, limit=16).for_worker(0)
        self.successors(none, shared, np.zeros(0, dtype=np.uint64))
        shared.plan()
        shared.tidy()
        if not self.kernel._general:
            projections = Projections(self.kernel, self.words, limit=16)
            projections.unchecked(none)
            projections.learn(none, [])
        keys, fps = np.zeros(16, dtype=np.uint64), np.zeros(0, dtype=np.uint64)
        table_find(keys, fps, np.zeros(0, dtype=bool))
        table_insert(keys, fps)
        table_add(keys, fps, np.zeros(0, dtype=bool))
        group_by_table(fps, SUB_SHIFT, SUBTABLES, SPREAD_BITS)
        first_of_each(fps, np.zeros(0, dtype=np.int64))

    def to_rows(self, blob: bytes, count: int) -> np.ndarray:
        """``count`` packed states of ``width`` bytes each, back to back, as ``(count, W)``."""
        padded = np.zeros((count, self.words * 8), dtype=np.uint8)
        padded[:, : self.width] = np.frombuffer(blob, dtype=np.uint8).reshape(count, self.width)
        return padded.view(np.uint64)

    def to_blob(self, rows: np.ndarray) -> bytes:
        """Rows back to packed bytes, ``width`` each, back to back."""
        return np.ascontiguousarray(rows.view(np.uint8)[:, : self.width]).tobytes()


def _bounds(start: np.ndarray) -> np.ndarray:
    """(server, local) -> [first, last) entry index, from each server's row of starts (one
    more than its local states: the last is where its entries end)."""
    n, cols = start.shape
    bounds = np.zeros((n, cols - 1, 2), dtype=np.int64)
    bounds[:, :, 0] = start[:, :-1]
    bounds[:, :, 1] = start[:, 1:]
    return bounds


# --- successors --------------------------------------------------------------------------------
@_jit
def _transitions(states, offsets, local_bits, l_bounds, r_bounds):
    """How many table entries the states' local states name: a bound on their successors."""
    total = 0
    for i in range(states.shape[0]):
        for s in range(offsets.shape[0]):
            li = get_bits(states[i], offsets[s], local_bits)
            total += l_bounds[s, li, 1] - l_bounds[s, li, 0]
            total += r_bounds[s, li, 1] - r_bounds[s, li, 0]
    return total


@_jit
def _apply(st, keep, entry, out):
    """Write ``(st & keep) | entry`` to ``out``; whether it differs from ``st``."""
    same = True
    for x in range(st.shape[0]):
        out[x] = (st[x] & keep[x]) | entry[x]
        same = same and out[x] == st[x]
    return not same


@_jit
def _expand(
    states, offsets, local_bits, keep, l_bounds, l_aid, l_entry, r_bounds, r_bit, r_aid,
    r_entry, kind_masks, hist, fired, rows, parent, ordinal, aid,
):  # fmt: skip
    """Write the successors of every state, in compiled.py's expand order (server by
    server: its local actions, then its receives); returns how many."""
    n_states, w = states.shape
    out = 0
    for i in range(n_states):
        st = states[i]
        for k in range(kind_masks.shape[0]):
            for x in range(w):
                fired[k] += popcount(st[x] & kind_masks[k, x])
        o = 0
        for s in range(offsets.shape[0]):
            li = get_bits(st, offsets[s], local_bits)
            hist[s, li] += 1
            for j in range(l_bounds[s, li, 0], l_bounds[s, li, 1]):
                if _apply(st, keep[s], l_entry[j], rows[out]):
                    parent[out], ordinal[out], aid[out] = i, o, l_aid[j]
                    out += 1
                    o += 1
            for j in range(r_bounds[s, li, 0], r_bounds[s, li, 1]):
                b = r_bit[j]
                if (st[b // 64] >> U64(b % 64)) & U64(1) and _apply(
                    st, keep[s], r_entry[j], rows[out]
                ):
                    parent[out], ordinal[out], aid[out] = i, o, r_aid[j]
                    out += 1
                    o += 1
    return out
