"""Bad datagrams for fault injection: garbage, forgeries and near misses of a real cluster.

Used by the tests and by the flood benchmark to check that nothing off the wire but a valid,
authenticated message of a known peer can reach the node.

>>> codec = Codec("c", b"k" * 32, [1, 2, 3])
>>> refused = 0
>>> for data in bad_datagrams(b"k" * 32, "c", [1, 2, 3], 60, seed=1):
...     try:
...         codec.decode(data)
...     except WireError:
...         refused += 1
>>> refused
60
"""

from __future__ import annotations

import random

from impl.errors import WireError  # noqa: F401  (doctest)
from impl.messages import Heartbeat, Message, RequestVote, Vote
from impl.wire import Codec

KINDS = ("random bytes", "wrong key", "wrong cluster id", "unknown peer", "one bit flipped",
         "oversized")


def bad_datagrams(key: bytes, cluster_id: str, ids: list[int], count: int,
                  seed: int) -> list[bytes]:
    """``count`` datagrams, cycling through :data:`KINDS`, reproducible from ``seed``.

    None of them may be accepted by a node of the cluster (``key``, ``cluster_id``, ``ids``).
    """
    rng = random.Random(seed)
    codec = Codec(cluster_id, key, ids)
    forger = Codec(cluster_id, rng.randbytes(32), ids)
    stranger = Codec(cluster_id + "-other", key, ids)
    outsider_id = max(ids) + 1
    outsider = Codec(cluster_id, key, [*ids, outsider_id])
    out = []
    for k in range(count):
        src, dst = rng.sample(ids, 2) if len(ids) > 1 else (ids[0], ids[0] + 1)
        term = rng.randrange(1, 10**6)
        kind = KINDS[k % len(KINDS)]
        if kind == "random bytes":
            out.append(rng.randbytes(rng.randrange(0, 600)))
            continue
        if kind == "unknown peer":
            src = outsider_id
        msg: Message = rng.choice([RequestVote(term, src, dst), Vote(term, src, dst, True),
                                   Heartbeat(term, src, dst)])
        if kind == "wrong key":
            out.append(forger.encode(msg))
        elif kind == "wrong cluster id":
            out.append(stranger.encode(msg))
        elif kind == "unknown peer":
            out.append(outsider.encode(msg))
        elif kind == "one bit flipped":
            good = bytearray(codec.encode(msg))
            good[rng.randrange(len(good))] ^= 1 << rng.randrange(8)
            out.append(bytes(good))
        else:
            out.append(codec.encode(msg) + bytes(600))
    return out
