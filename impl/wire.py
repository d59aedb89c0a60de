"""The datagram codec: versioned, size-limited, authenticated, bound to one cluster.

Layout of one datagram (network byte order)::

    magic  "EK"          2 bytes
    version              1 byte   (1)
    kind                 1 byte   (1 RequestVote, 2 Vote, 3 Heartbeat)
    cluster id length    1 byte   (1..64)
    cluster id           UTF-8
    term                 8 bytes  unsigned
    src, dst             4 bytes each, unsigned
    granted              1 byte   (0/1; always 0 unless kind is Vote)
    mac                  32 bytes HMAC-SHA256(key, everything before it)

:meth:`Codec.decode` refuses anything else with a :class:`WireError` whose ``reason`` is one
of :data:`REASONS`; it never raises anything else, whatever the bytes. The MAC is checked
before any field is trusted. Known limitation: there is no replay protection, so a captured
datagram can be delivered again; the protocol tolerates that, as docs/model.md's ``net`` delivers
any message any number of times.

>>> codec = Codec("demo", b"0123456789abcdef", [1, 2, 3])
>>> codec.decode(codec.encode(Vote(2, 3, 1, True)))
Vote(term=2, src=3, dst=1, granted=True)
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Iterable

from impl.errors import MessageError, WireError
from impl.messages import Heartbeat, Message, RequestVote, Vote

MAGIC = b"EK"
VERSION = 1
MAX_DATAGRAM = 512
MAC_SIZE = 32
MAX_CLUSTER_ID = 64
_HEAD = struct.Struct("!2sBBB")  # magic, version, kind, cluster id length
_BODY = struct.Struct("!QIIB")  # term, src, dst, granted
MIN_DATAGRAM = _HEAD.size + 1 + _BODY.size + MAC_SIZE
_KINDS: dict[type, int] = {RequestVote: 1, Vote: 2, Heartbeat: 3}
_BY_KIND = {v: k for k, v in _KINDS.items()}
_MAX_U32, _MAX_U64 = 2**32 - 1, 2**64 - 1

REASONS = ("oversized", "truncated", "bad-magic", "bad-version", "bad-mac", "malformed",
           "wrong-cluster", "unknown-kind", "unknown-peer")


class Codec:
    """Encode and decode messages of one cluster.

    Parameters: ``cluster_id`` (1..64 UTF-8 bytes, carried in every datagram), ``key`` (the
    shared HMAC key; use 32 random bytes, the CLI refuses fewer than 16), ``node_ids`` (every
    server of the cluster).
    """

    def __init__(self, cluster_id: str, key: bytes, node_ids: Iterable[int]) -> None:
        cid = cluster_id.encode() if isinstance(cluster_id, str) else b""
        if not 1 <= len(cid) <= MAX_CLUSTER_ID:
            raise WireError("config", f"cluster id must be 1..{MAX_CLUSTER_ID} UTF-8 bytes, "
                                      f"got {cluster_id!r}")
        if not isinstance(key, bytes) or not key:
            raise WireError("config", "the cluster key must be non-empty bytes")
        ids = frozenset(node_ids)
        if not ids or any(type(i) is not int or not 1 <= i <= _MAX_U32 for i in ids):
            raise WireError("config", f"node ids must be ints in 1..2^32-1, got {sorted(ids)}")
        self.cluster_id = cluster_id
        self._cid = cid
        self._key = key
        self._ids = ids

    def encode(self, msg: Message) -> bytes:
        """The authenticated datagram for ``msg``."""
        kind = _KINDS.get(type(msg))
        if kind is None:
            raise WireError("unknown-kind", f"cannot encode {msg!r}")
        if msg.src not in self._ids or msg.dst not in self._ids:
            raise WireError("unknown-peer", f"{msg!r} names a server outside {sorted(self._ids)}")
        if msg.term > _MAX_U64:
            raise WireError("malformed", f"term {msg.term} does not fit in 64 bits")
        granted = 1 if isinstance(msg, Vote) and msg.granted else 0
        data = (_HEAD.pack(MAGIC, VERSION, kind, len(self._cid)) + self._cid
                + _BODY.pack(msg.term, msg.src, msg.dst, granted))
        return data + hmac.digest(self._key, data, hashlib.sha256)

    def decode(self, data: bytes) -> Message:
        """The message in ``data``; raises WireError(reason) for anything not exactly valid."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise WireError("malformed", f"expected bytes, got {type(data).__name__}")
        data = bytes(data)
        if len(data) > MAX_DATAGRAM:
            raise WireError("oversized", f"{len(data)} bytes > {MAX_DATAGRAM}")
        if len(data) < MIN_DATAGRAM:
            raise WireError("truncated", f"{len(data)} bytes < {MIN_DATAGRAM}")
        magic, version, kind, cid_len = _HEAD.unpack_from(data)
        if magic != MAGIC:
            raise WireError("bad-magic")
        if version != VERSION:
            raise WireError("bad-version", f"version {version}, this build speaks {VERSION}")
        signed, mac = data[:-MAC_SIZE], data[-MAC_SIZE:]
        if not hmac.compare_digest(mac, hmac.digest(self._key, signed, hashlib.sha256)):
            raise WireError("bad-mac")
        if len(signed) != _HEAD.size + cid_len + _BODY.size:
            raise WireError("malformed", f"length {len(data)} does not match its header")
        cid = signed[_HEAD.size:_HEAD.size + cid_len]
        if cid != self._cid:
            raise WireError("wrong-cluster", f"cluster {cid!r}")
        cls = _BY_KIND.get(kind)
        if cls is None:
            raise WireError("unknown-kind", f"kind {kind}")
        term, src, dst, granted = _BODY.unpack_from(signed, _HEAD.size + cid_len)
        if src not in self._ids or dst not in self._ids:
            raise WireError("unknown-peer", f"src {src}, dst {dst}")
        if granted > 1 or (granted and cls is not Vote):
            raise WireError("malformed", f"granted byte {granted} in a {cls.__name__}")
        try:
            if cls is Vote:
                return Vote(term, src, dst, bool(granted))
            return cls(term, src, dst)
        except MessageError as exc:
            raise WireError("malformed", str(exc)) from None
