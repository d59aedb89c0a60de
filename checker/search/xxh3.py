"""xxh3-64 (seed 0, default secret) as machine code, for inputs of at most 240 bytes.

The partitioned search fingerprints every successor with xxh3-64 of its packed bytes
(batch.py's codec, through the ``xxhash`` package). Calling the package once a successor
costs more than the rest of the native loop, so the same function is written here from
xxhash.h (XXH3_64bits: its short and mid-size paths) and run over a whole array of states;
tests/test_native.py checks it against the package for every length from 0 to 240.
"""

from __future__ import annotations

import numpy as np

from checker.search.jit import M32, U64
from checker.search.jit import jit as _jit

MAX_HASHED_BYTES = 240  # the short and mid-size inputs; longer states stay in Python


# xxh3's constants and the first 144 bytes of its default secret (xxhash.h, XXH3_kSecret):
# inputs up to 240 bytes read no further.
_SECRET = bytes.fromhex(
    "b8fe6c3923a44bbe7c01812cf721ad1cded46de9839097db7240a4a4b7b3671f"
    "cb79e64eccc0e578825ad07dccff7221b8084674f743248ee03590e6813a264c"
    "3c2852bb91c300cb88d0658b1b532ea371644897a20df94e3819ef46a9deacd8"
    "a8fa763fe39c343ff9dcbbc7c70b4f1d8a51e04bcdb45931c89f7ec9d9787364"
    "eac5ac8334d3ebc3c581a0fffa1363eb"
)
# The secret as the hash reads it, a little-endian 64-bit word at each byte offset: looked
# up, not assembled byte by byte for every state.
SECRET = np.array(
    [int.from_bytes(_SECRET[pos : pos + 8], "little") for pos in range(len(_SECRET) - 7)],
    dtype=np.uint64,
)


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
    lo = _read64(st, pos) ^ secret[spos]
    return _mul128_fold64(lo, _read64(st, pos + 8) ^ secret[spos + 8])


@_jit
def _xxh3(st, length, secret):
    """XXH3_64bits of the first ``length`` bytes of the words ``st`` (little-endian)."""
    n = U64(length)
    if length == 0:
        return _xxh64_avalanche(secret[56] ^ secret[64])
    if length <= 3:
        c1, c2, c3 = _byte(st, 0), _byte(st, length >> 1), _byte(st, length - 1)
        combined = (c1 << U64(16)) | (c2 << U64(24)) | c3 | (n << U64(8))
        bitflip = (secret[0] & M32) ^ (secret[4] & M32)
        return _xxh64_avalanche(combined ^ bitflip)
    if length <= 8:
        input1, input2 = _read32(st, 0), _read32(st, length - 4)
        bitflip = secret[8] ^ secret[16]
        h = (input2 + (input1 << U64(32))) ^ bitflip
        h ^= _rotl(h, 49) ^ _rotl(h, 24)
        h *= U64(0x9FB21C651E98DF25)
        h ^= (h >> U64(35)) + n
        h *= U64(0x9FB21C651E98DF25)
        return h ^ (h >> U64(28))
    if length <= 16:
        lo = _read64(st, 0) ^ (secret[24] ^ secret[32])
        hi = _read64(st, length - 8) ^ (secret[40] ^ secret[48])
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
def fingerprints(rows, width, secret, fps):
    """``fps[r]``: xxh3 of the first ``width`` bytes of row ``r`` (0 made 1, as batch.py)."""
    for r in range(rows.shape[0]):
        h = _xxh3(rows[r], width, secret)
        fps[r] = h if h != U64(0) else U64(1)
