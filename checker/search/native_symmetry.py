"""compiled.py's ``canonical`` as machine code, over a whole array of states at once.

The representative of a state's orbit under renaming of the servers is its least renaming
in the order (local states, message signatures, low bits), exactly as
:meth:`~checker.search.compiled.CompiledKernel.canonical` computes it and with its tables
(native.py lays them out as arrays), so the native search stores the same representatives.
"""

from __future__ import annotations

import numpy as np

from checker.search.jit import U64, get_bits, or_bits, popcount
from checker.search.jit import jit as _jit

CHUNK_BITS = 12  # as compiled.py: permutation tables over 12-bit chunks of the low bits
NARROW_FROM = 4  # as compiled.py: ties among this many renamings narrowed by signatures


@_jit
def _order(a, b, highest_first):
    """-1, 0 or 1 as ``a`` sorts before, with or after ``b`` (same length), compared from the
    last element down (as ints whose last element is most significant) or from the first."""
    n = a.shape[0]
    for k in range(n):
        i = n - 1 - k if highest_first else k
        if a[i] != b[i]:
            return -1 if a[i] < b[i] else 1
    return 0


@_jit
def _keep_least(order, p, which, count):
    """Among the renamings ``which[:count]`` tied for least, account for renaming ``p``
    that sorts ``order`` against them; returns the new count (1 when ``p`` is the new least)."""
    if count == 0 or order < 0:
        which[0] = p
        return 1
    if order == 0:
        which[count] = p
        return count + 1
    return count


@_jit
def canonical_all(rows, offsets, local_bits, low_bits, perm_to, local_map, chunk_tab, sig_masks):
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
    for r in range(rows.shape[0]):
        st = rows[r]
        for s in range(n):
            li[s] = get_bits(st, offsets[s], local_bits)
        # The least renaming of the local states, compared as compiled.py's int: the highest
        # server first.
        count = 0
        for p in range(n_perms):
            for s in range(n):
                renamed[perm_to[p, s]] = local_map[p, li[s]]
            order = _order(renamed, best, True) if count else -1
            if order < 0:
                best[:] = renamed
            count = _keep_least(order, p, which, count)
        if count >= NARROW_FROM:
            # Narrow by message signatures, compared as compiled.py's lists: server 1 first.
            for q in range(2 * n):
                c = 0
                for x in range(w):
                    c += popcount(st[x] & sig_masks[q, x])
                sig[q] = c
            kept = 0
            for a in range(count):
                p = which[a]  # read before _keep_least writes which[kept], kept <= a
                for s in range(n):
                    t = perm_to[p, s]
                    renamed_sig[2 * t] = sig[2 * s]
                    renamed_sig[2 * t + 1] = sig[2 * s + 1]
                order = _order(renamed_sig, best_sig, False) if kept else -1
                if order < 0:
                    best_sig[:] = renamed_sig
                kept = _keep_least(order, p, which, kept)
            count = kept
        for x in range(low_words):
            low[x] = st[x]
        if low_bits % 64:
            low[low_words - 1] &= (U64(1) << U64(low_bits % 64)) - U64(1)
        for a in range(count):
            p = which[a]
            cand[:] = 0
            for c in range(n_chunks):
                word, shift = (c * CHUNK_BITS) // 64, (c * CHUNK_BITS) % 64
                chunk = low[word] >> U64(shift)
                if shift > 64 - CHUNK_BITS and word + 1 < low_words:
                    chunk |= low[word + 1] << U64(64 - shift)
                chunk &= U64((1 << CHUNK_BITS) - 1)
                for x in range(low_words):
                    cand[x] |= chunk_tab[p, c, chunk, x]
            if a == 0 or _order(cand, best_low, True) < 0:
                best_low[:] = cand
        # The tables rename only the low bits: the local states' bits of best_low are 0.
        for x in range(w):
            st[x] = best_low[x] if x < low_words else U64(0)
        for t in range(n):
            or_bits(st, offsets[t], best[t])
