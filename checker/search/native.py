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

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is a dependency; this keeps Python usable
    njit = None

CHUNK_BITS = 12  # as compiled.py: permutation tables over 12-bit chunks of the low bits
NARROW_FROM = 4  # as compiled.py: ties among this many renamings narrowed by signatures
MAX_HASHED_BYTES = 240  # xxh3's short and mid-size inputs; longer states stay in Python
MAX_TABLE_BYTES = 512 << 20  # symmetry tables past this size: the Python kernel instead

# xxh3's constants and the first 144 bytes of its default secret (xxhash.h, XXH3_kSecret):
# inputs up to 240 bytes read no further.
_SECRET = bytes.fromhex(
    "b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671f"
    "cb79e64eccc0e578825ad07dccff7221b8084674f743248ee03590e6813a264c"
    "3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8"
    "a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364"
    "eac5ac8334d3ebc3c581a0fffa1363eb"
)
SECRET = np.frombuffer(_SECRET, dtype=np.uint8).copy()


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


def _as_words(value: int, words: int) -> list[int]:
    return [(value >> (64 * w)) & 0xFFFFFFFFFFFFFFFF for w in range(words)]


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
        # Entries of server s, local li: l_start[s, li] to the next li's start, which is the
        # next row's first for the last li; rows are laid out server after server.
        self.l_bounds = _bounds(l_start, len(l_aid))
        self.r_bounds = _bounds(r_start, len(r_aid))
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

    def successors(self, states: np.ndarray, recent: Recent | None = None):
        """Every successor of every row of ``states`` (``(n, W)`` uint64), in the Python
        kernel's order: ``(rows, parent, ordinal, aid, fps, changed)``, the successor states
        (canonical with symmetry), the row each came from, its position among that row's
        successors, its action id, its fingerprint, and the successors by action id (a
        bincount over all of them). The kernel's enabled-action tallies (``fired_counts``)
        are brought up to date.

        With ``recent``, successors met before (in this call or an earlier one with the same
        ``recent``) are left out: a raw state met before, compared whole, is not renamed
        again, and a representative whose fingerprint was met before is not returned.
        """
        k = self.kernel
        hist = np.zeros((k.n_servers, len(k.uni.locals)), dtype=np.int64)
        fired = np.zeros(len(k.kind_masks), dtype=np.int64)
        counts = _count(
            states, self.offsets, k.local_bits, self.keep, self.l_bounds, self.l_entry,
            self.r_bounds, self.r_bit, self.r_entry,
        )  # fmt: skip
        total = int(counts.sum())
        # One spare row: a candidate is written before it is known to change the state.
        rows = np.empty((total + 1, self.words), dtype=np.uint64)
        parent = np.empty(total, dtype=np.int64)
        ordinal = np.empty(total, dtype=np.int64)
        aid = np.empty(total, dtype=np.uint8)
        _expand(
            states, self.offsets, k.local_bits, self.keep, self.l_bounds, self.l_aid,
            self.l_entry, self.r_bounds, self.r_bit, self.r_aid, self.r_entry, self.kind_masks,
            hist, fired, rows, parent, ordinal, aid,
        )  # fmt: skip
        rows = rows[:total]
        changed = np.bincount(aid, minlength=256)
        if recent is not None:
            recent.reserve(len(rows))
            keep = _first_rows(rows, recent.rows, recent.used, recent.counts)
            rows, parent, ordinal, aid = rows[keep], parent[keep], ordinal[keep], aid[keep]
        if self.symmetric:
            _canonical_all(
                rows, self.offsets, k.local_bits, k.low_bits, self.perm_to, self.local_map,
                self.chunk_tab, self.sig_masks,
            )  # fmt: skip
        fps = np.empty(len(rows), dtype=np.uint64)
        _fingerprints(rows, self.width, SECRET, fps)
        if recent is not None:
            keep = _first_fps(fps, recent.fps, recent.counts)
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
        if not self.kernel._general:
            projections = Projections(self.kernel, self.words, limit=16)
            projections.unchecked(none)
            _unchecked(
                none, projections.mask, projections.rows, projections.used, projections.bad,
                projections.counts, none,
            )  # fmt: skip
        keys, fps = np.zeros(16, dtype=np.uint64), np.zeros(0, dtype=np.uint64)
        table_find(keys, fps, np.zeros(0, dtype=bool))
        table_insert(keys, fps)

    def to_rows(self, blob: bytes, count: int) -> np.ndarray:
        """``count`` packed states of ``width`` bytes each, back to back, as ``(count, W)``."""
        padded = np.zeros((count, self.words * 8), dtype=np.uint8)
        padded[:, : self.width] = np.frombuffer(blob, dtype=np.uint8).reshape(count, self.width)
        return padded.view(np.uint64)

    def to_blob(self, rows: np.ndarray) -> bytes:
        """Rows back to packed bytes, ``width`` each, back to back."""
        return np.ascontiguousarray(rows.view(np.uint8)[:, : self.width]).tobytes()

    def canonical_rows(self, rows: np.ndarray) -> np.ndarray:
        """A copy of ``rows`` with each state replaced by its orbit's representative."""
        out = np.ascontiguousarray(rows, dtype=np.uint64).copy()
        k = self.kernel
        _canonical_all(
            out, self.offsets, k.local_bits, k.low_bits, self.perm_to, self.local_map,
            self.chunk_tab, self.sig_masks,
        )  # fmt: skip
        return out

    def fingerprint_rows(self, rows: np.ndarray) -> np.ndarray:
        """xxh3 of each row's packed bytes (0 made 1), as codec_for's fingerprint."""
        fps = np.empty(len(rows), dtype=np.uint64)
        _fingerprints(np.ascontiguousarray(rows), self.width, SECRET, fps)
        return fps


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


def _bounds(start: np.ndarray, total: int) -> np.ndarray:
    """(server, local) -> [first, last) entry index, from the per-row starts."""
    n, cols = start.shape
    bounds = np.zeros((n, cols - 1, 2), dtype=np.int64)
    bounds[:, :, 0] = start[:, :-1]
    bounds[:, :, 1] = start[:, 1:]
    return bounds


def _jit(fn):
    return njit(cache=True, nogil=True)(fn) if njit is not None else fn


U64 = np.uint64
M32 = np.uint64(0xFFFFFFFF)


# --- bits of a multi-word state --------------------------------------------------------------
@_jit
def _get_bits(st, off, nbits):
    word, shift = off // 64, off % 64
    value = st[word] >> U64(shift)
    if shift + nbits > 64:
        value |= st[word + 1] << U64(64 - shift)
    return int(value & ((U64(1) << U64(nbits)) - U64(1)))


@_jit
def _or_bits(out, off, value):
    word, shift = off // 64, off % 64
    v = U64(value)
    out[word] |= v << U64(shift)
    if shift > 0 and word + 1 < out.shape[0]:
        out[word + 1] |= v >> U64(64 - shift)


@_jit
def _popcount(x):
    x = x - ((x >> U64(1)) & U64(0x5555555555555555))
    x = (x & U64(0x3333333333333333)) + ((x >> U64(2)) & U64(0x3333333333333333))
    x = (x + (x >> U64(4))) & U64(0x0F0F0F0F0F0F0F0F)
    return int((x * U64(0x0101010101010101)) >> U64(56))


# --- successors --------------------------------------------------------------------------------
@_jit
def _count(states, offsets, local_bits, keep, l_bounds, l_entry, r_bounds, r_bit, r_entry):
    """How many successors (changing transitions) each state has."""
    n_states, w = states.shape
    counts = np.zeros(n_states, dtype=np.int64)
    nxt = np.empty(w, dtype=np.uint64)
    for i in range(n_states):
        st = states[i]
        c = 0
        for s in range(offsets.shape[0]):
            li = _get_bits(st, offsets[s], local_bits)
            for j in range(l_bounds[s, li, 0], l_bounds[s, li, 1]):
                same = True
                for x in range(w):
                    nxt[x] = (st[x] & keep[s, x]) | l_entry[j, x]
                    same = same and nxt[x] == st[x]
                if not same:
                    c += 1
            for j in range(r_bounds[s, li, 0], r_bounds[s, li, 1]):
                b = r_bit[j]
                if (st[b // 64] >> U64(b % 64)) & U64(1):
                    same = True
                    for x in range(w):
                        nxt[x] = (st[x] & keep[s, x]) | r_entry[j, x]
                        same = same and nxt[x] == st[x]
                    if not same:
                        c += 1
        counts[i] = c
    return counts


@_jit
def _expand(
    states, offsets, local_bits, keep, l_bounds, l_aid, l_entry, r_bounds, r_bit, r_aid,
    r_entry, kind_masks, hist, fired, rows, parent, ordinal, aid,
):  # fmt: skip
    """The successors of every state, in compiled.py's expand order (server by server: its
    local actions, then its receives)."""
    n_states, w = states.shape
    out = 0
    for i in range(n_states):
        st = states[i]
        for k in range(kind_masks.shape[0]):
            for x in range(w):
                fired[k] += _popcount(st[x] & kind_masks[k, x])
        o = 0
        for s in range(offsets.shape[0]):
            li = _get_bits(st, offsets[s], local_bits)
            hist[s, li] += 1
            for j in range(l_bounds[s, li, 0], l_bounds[s, li, 1]):
                same = True
                for x in range(w):
                    rows[out, x] = (st[x] & keep[s, x]) | l_entry[j, x]
                    same = same and rows[out, x] == st[x]
                if not same:
                    parent[out] = i
                    ordinal[out] = o
                    aid[out] = l_aid[j]
                    out += 1
                    o += 1
            for j in range(r_bounds[s, li, 0], r_bounds[s, li, 1]):
                b = r_bit[j]
                if (st[b // 64] >> U64(b % 64)) & U64(1):
                    same = True
                    for x in range(w):
                        rows[out, x] = (st[x] & keep[s, x]) | r_entry[j, x]
                        same = same and rows[out, x] == st[x]
                    if not same:
                        parent[out] = i
                        ordinal[out] = o
                        aid[out] = r_aid[j]
                        out += 1
                        o += 1


# --- symmetry ----------------------------------------------------------------------------------
@_jit
def _canonical_all(rows, offsets, local_bits, low_bits, perm_to, local_map, chunk_tab, sig_masks):
    """Each row replaced by compiled.py's ``canonical`` of it: the least renaming in the order
    (local states, message signatures, low bits)."""
    n = offsets.shape[0]
    n_perms = perm_to.shape[0]
    low_words = chunk_tab.shape[3]
    n_chunks = chunk_tab.shape[1]
    w = rows.shape[1]
    li = np.empty(n, dtype=np.int64)
    best = np.empty(n, dtype=np.int64)
    renamed = np.empty(n, dtype=np.int64)
    which = np.empty(n_perms, dtype=np.int64)
    sig = np.empty(2 * n, dtype=np.int64)
    best_sig = np.empty(2 * n, dtype=np.int64)
    renamed_sig = np.empty(2 * n, dtype=np.int64)
    low = np.empty(low_words, dtype=np.uint64)
    best_low = np.empty(low_words, dtype=np.uint64)
    cand = np.empty(low_words, dtype=np.uint64)
    full = low_bits // 64
    for r in range(rows.shape[0]):
        st = rows[r]
        for s in range(n):
            li[s] = _get_bits(st, offsets[s], local_bits)
        # The least renaming of the local states, compared as compiled.py's int: the highest
        # server first.
        count = 0
        for p in range(n_perms):
            for s in range(n):
                renamed[perm_to[p, s]] = local_map[p, li[s]]
            order = 0
            if count > 0:
                for t in range(n - 1, -1, -1):
                    if renamed[t] != best[t]:
                        order = -1 if renamed[t] < best[t] else 1
                        break
            if count == 0 or order < 0:
                best[:] = renamed
                which[0] = p
                count = 1
            elif order == 0:
                which[count] = p
                count += 1
        if count >= NARROW_FROM:
            # Narrow by message signatures, compared as compiled.py's lists: server 1 first.
            for q in range(2 * n):
                c = 0
                for x in range(w):
                    c += _popcount(st[x] & sig_masks[q, x])
                sig[q] = c
            kept = 0
            for a in range(count):
                p = which[a]
                for s in range(n):
                    t = perm_to[p, s]
                    renamed_sig[2 * t] = sig[2 * s]
                    renamed_sig[2 * t + 1] = sig[2 * s + 1]
                order = 0
                if kept > 0:
                    for q in range(2 * n):
                        if renamed_sig[q] != best_sig[q]:
                            order = -1 if renamed_sig[q] < best_sig[q] else 1
                            break
                if kept == 0 or order < 0:
                    best_sig[:] = renamed_sig
                    which[0] = p
                    kept = 1
                elif order == 0:
                    which[kept] = p
                    kept += 1
            count = kept
        for x in range(low_words):
            low[x] = st[x]
        if low_bits % 64:
            low[full] &= (U64(1) << U64(low_bits % 64)) - U64(1)
        for a in range(count):
            p = which[a]
            cand[:] = 0
            for c in range(n_chunks):
                off = c * 12
                word, shift = off // 64, off % 64
                chunk = low[word] >> U64(shift)
                if shift > 52 and word + 1 < low_words:
                    chunk |= low[word + 1] << U64(64 - shift)
                chunk &= U64(0xFFF)
                for x in range(low_words):
                    cand[x] |= chunk_tab[p, c, chunk, x]
            smaller = a == 0
            if not smaller:
                for x in range(low_words - 1, -1, -1):
                    if cand[x] != best_low[x]:
                        smaller = cand[x] < best_low[x]
                        break
            if smaller:
                best_low[:] = cand
        for x in range(w):
            st[x] = best_low[x] if x < low_words else U64(0)
        if low_bits % 64:
            st[full] &= (U64(1) << U64(low_bits % 64)) - U64(1)
        for t in range(n):
            _or_bits(st, offsets[t], best[t])


# --- what was sent before --------------------------------------------------------------------
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


# --- the visited set's tables (fpset.py), probed as it probes them ------------------------------
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


# --- xxh3 (64-bit, seed 0, default secret), inputs of at most 240 bytes -------------------------
@_jit
def _read64(st, pos):
    word, shift = pos // 8, pos % 8
    if shift == 0:
        return st[word]
    return (st[word] >> U64(8 * shift)) | (st[word + 1] << U64(64 - 8 * shift))


@_jit
def _read32(st, pos):
    word, shift = pos // 8, pos % 8
    value = st[word] >> U64(8 * shift)
    if shift > 4:
        value |= st[word + 1] << U64(64 - 8 * shift)
    return value & M32


@_jit
def _byte(st, pos):
    return (st[pos // 8] >> U64(8 * (pos % 8))) & U64(0xFF)


@_jit
def _secret64(secret, pos):
    value = U64(0)
    for k in range(8):
        value |= U64(secret[pos + k]) << U64(8 * k)
    return value


@_jit
def _mul128_fold64(a, b):
    a_lo, a_hi, b_lo, b_hi = a & M32, a >> U64(32), b & M32, b >> U64(32)
    lo_lo, hi_lo, lo_hi, hi_hi = a_lo * b_lo, a_hi * b_lo, a_lo * b_hi, a_hi * b_hi
    cross = (lo_lo >> U64(32)) + (hi_lo & M32) + lo_hi
    upper = (hi_lo >> U64(32)) + (cross >> U64(32)) + hi_hi
    lower = (cross << U64(32)) | (lo_lo & M32)
    return lower ^ upper


@_jit
def _rotl(x, r):
    return (x << U64(r)) | (x >> U64(64 - r))


@_jit
def _avalanche(h):
    h ^= h >> U64(37)
    h *= U64(0x165667919E3779F9)
    return h ^ (h >> U64(32))


@_jit
def _xxh64_avalanche(h):
    h ^= h >> U64(33)
    h *= U64(0xC2B2AE3D27D4EB4F)
    h ^= h >> U64(29)
    h *= U64(0x165667B19E3779F9)
    return h ^ (h >> U64(32))


@_jit
def _mix16(st, pos, secret, spos):
    lo = _read64(st, pos) ^ _secret64(secret, spos)
    return _mul128_fold64(lo, _read64(st, pos + 8) ^ _secret64(secret, spos + 8))


@_jit
def _xxh3(st, length, secret):
    """XXH3_64bits of the first ``length`` bytes of the words ``st`` (little-endian)."""
    n = U64(length)
    if length == 0:
        return _xxh64_avalanche(_secret64(secret, 56) ^ _secret64(secret, 64))
    if length <= 3:
        c1, c2, c3 = _byte(st, 0), _byte(st, length >> 1), _byte(st, length - 1)
        combined = (c1 << U64(16)) | (c2 << U64(24)) | c3 | (n << U64(8))
        bitflip = (_secret64(secret, 0) & M32) ^ (_secret64(secret, 4) & M32)
        return _xxh64_avalanche(combined ^ bitflip)
    if length <= 8:
        input1, input2 = _read32(st, 0), _read32(st, length - 4)
        bitflip = _secret64(secret, 8) ^ _secret64(secret, 16)
        h = (input2 + (input1 << U64(32))) ^ bitflip
        h ^= _rotl(h, 49) ^ _rotl(h, 24)
        h *= U64(0x9FB21C651E98DF25)
        h ^= (h >> U64(35)) + n
        h *= U64(0x9FB21C651E98DF25)
        return h ^ (h >> U64(28))
    if length <= 16:
        lo = _read64(st, 0) ^ (_secret64(secret, 24) ^ _secret64(secret, 32))
        hi = _read64(st, length - 8) ^ (_secret64(secret, 40) ^ _secret64(secret, 48))
        swapped = U64(0)
        for k in range(8):
            swapped |= ((lo >> U64(8 * k)) & U64(0xFF)) << U64(56 - 8 * k)
        return _avalanche(n + swapped + hi + _mul128_fold64(lo, hi))
    acc = n * U64(0x9E3779B185EBCA87)
    if length <= 128:
        if length > 32:
            if length > 64:
                if length > 96:
                    acc += _mix16(st, 48, secret, 96)
                    acc += _mix16(st, length - 64, secret, 112)
                acc += _mix16(st, 32, secret, 64)
                acc += _mix16(st, length - 48, secret, 80)
            acc += _mix16(st, 16, secret, 32)
            acc += _mix16(st, length - 32, secret, 48)
        acc += _mix16(st, 0, secret, 0)
        acc += _mix16(st, length - 16, secret, 16)
        return _avalanche(acc)
    for i in range(8):
        acc += _mix16(st, 16 * i, secret, 16 * i)
    acc = _avalanche(acc)
    for i in range(8, length // 16):
        acc += _mix16(st, 16 * i, secret, 16 * (i - 8) + 3)
    acc += _mix16(st, length - 16, secret, 136 - 17)
    return _avalanche(acc)


@_jit
def _fingerprints(rows, width, secret, fps):
    for r in range(rows.shape[0]):
        h = _xxh3(rows[r], width, secret)
        fps[r] = h if h != U64(0) else U64(1)
