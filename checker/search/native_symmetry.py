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

NARROW_FROM = 4  # as compiled.py: ties among this many renamings narrowed by signatures


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
    full = low_bits // 64
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
                    c += popcount(st[x] & sig_masks[q, x])
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
            or_bits(st, offsets[t], best[t])
