"""numba's ``njit`` (None without numba) and what the machine-code loops share: the bits
of a state held as little-endian 64-bit words.

The partitioned search's hot loops (native.py, native_sets.py, xxh3.py) are compiled by
numba on first use and cached beside their modules; without numba they stay plain Python
functions, never called: the Python kernel runs instead.
"""

from __future__ import annotations

import numpy as np

try:
    from numba import njit
except ImportError:  # pragma: no cover - numba is a dependency; this keeps Python usable
    njit = None

U64 = np.uint64
M32 = np.uint64(0xFFFFFFFF)


def jit(fn):
    """``fn`` compiled to machine code, cached on disk (plain ``fn`` without numba)."""
    return njit(cache=True, nogil=True)(fn) if njit is not None else fn


def jit_inline(fn):
    """:func:`jit`, and compiled into each caller: for small helpers of the hot loops, whose
    call (arrays passed as structs, tuples returned) would otherwise cost more than they do."""
    return njit(cache=True, nogil=True, inline="always")(fn) if njit is not None else fn


@jit
def get_bits(st, off, nbits):
    word, shift = off // 64, off % 64
    value = st[word] >> U64(shift)
    if shift + nbits > 64:
        value |= st[word + 1] << U64(64 - shift)
    return int(value & ((U64(1) << U64(nbits)) - U64(1)))


@jit
def or_bits(out, off, value):
    word, shift = off // 64, off % 64
    v = U64(value)
    out[word] |= v << U64(shift)
    if shift > 0 and word + 1 < out.shape[0]:
        out[word + 1] |= v >> U64(64 - shift)


@jit
def popcount(x):
    x = x - ((x >> U64(1)) & U64(0x5555555555555555))
    x = (x & U64(0x3333333333333333)) + ((x >> U64(2)) & U64(0x3333333333333333))
    x = (x + (x >> U64(4))) & U64(0x0F0F0F0F0F0F0F0F)
    return int((x * U64(0x0101010101010101)) >> U64(56))


# --- atomics: tables that forked workers share (native_shared.py) ------------------------------
# An array element read or compared-and-swapped in one indivisible step, seen in order
# by every process mapping the same memory. numba has no CPU atomics, so these emit LLVM's.
if njit is not None:
    from numba.core import cgutils
    from numba.extending import intrinsic

    def _pointer(context, builder, array_type, array, index):
        made = context.make_array(array_type)(context, builder, array)
        return cgutils.get_item_pointer(context, builder, array_type, made, [index])

    @intrinsic
    def atomic_load(typingctx, array, index):
        """``array[index]``, read with acquire ordering."""

        def codegen(context, builder, signature, args):
            ptr = _pointer(context, builder, signature.args[0], *args)
            return builder.load_atomic(ptr, "acquire", array.dtype.bitwidth // 8)

        return array.dtype(array, index), codegen

    @intrinsic
    def atomic_cas(typingctx, array, index, expected, new):
        """Set ``array[index]`` to ``new`` if it holds ``expected``; returns what it held."""

        def codegen(context, builder, signature, args):
            ptr = _pointer(context, builder, signature.args[0], args[0], args[1])
            swapped = builder.cmpxchg(ptr, args[2], args[3], "seq_cst", "seq_cst")
            return builder.extract_value(swapped, 0)

        return array.dtype(array, index, array.dtype, array.dtype), codegen

else:  # pragma: no cover - without numba nothing calls them
    atomic_load = atomic_cas = None
