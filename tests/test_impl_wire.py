"""The codec: round trips, and every kind of bad datagram refused with a WireError."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impl.errors import WireError
from impl.messages import Heartbeat, Message, RequestVote, Vote
from impl.wire import MAX_DATAGRAM, REASONS, Codec

KEY = b"k" * 32
CODEC = Codec("test-cluster", KEY, [1, 2, 3, 4, 5])

ids = st.integers(1, 5)
terms = st.integers(0, 2**64 - 1)


@st.composite
def messages(draw: st.DrawFn) -> Message:
    src = draw(ids)
    dst = draw(ids.filter(lambda d: d != src))
    kind = draw(st.sampled_from([RequestVote, Vote, Heartbeat]))
    if kind is Vote:
        return Vote(draw(terms), src, dst, draw(st.booleans()))
    return kind(draw(terms), src, dst)


@given(messages())
def test_round_trip(msg: Message) -> None:
    assert CODEC.decode(CODEC.encode(msg)) == msg


def _reason(data: bytes, codec: Codec = CODEC) -> str:
    with pytest.raises(WireError) as info:
        codec.decode(data)
    assert info.value.reason in REASONS
    return info.value.reason


@settings(max_examples=500)
@given(st.binary(max_size=MAX_DATAGRAM + 64))
def test_random_bytes_are_refused(data: bytes) -> None:
    _reason(data)


@settings(max_examples=500)
@given(messages(), st.data())
def test_any_mutation_of_a_valid_datagram_is_refused(msg: Message, data: st.DataObject) -> None:
    good = bytearray(CODEC.encode(msg))
    i = data.draw(st.integers(0, len(good) - 1))
    good[i] ^= data.draw(st.integers(1, 255))
    _reason(bytes(good))


@given(messages(), st.integers(1, 60))
def test_truncated_and_extended_are_refused(msg: Message, k: int) -> None:
    good = CODEC.encode(msg)
    assert _reason(good[:-k]) in {"truncated", "bad-mac"}
    assert _reason(good + b"\0" * k) == "bad-mac"


def _forge(
    kind: int,
    cid: bytes,
    term: int,
    src: int,
    dst: int,
    granted: int,
    key: bytes = KEY,
    version: int = 1,
) -> bytes:
    import struct

    body = (
        struct.pack("!2sBBB", b"EK", version, kind, len(cid))
        + cid
        + struct.pack("!QIIB", term, src, dst, granted)
    )
    return body + hmac.digest(key, body, hashlib.sha256)


def test_each_refusal_reason() -> None:
    assert _reason(b"x" * (MAX_DATAGRAM + 1)) == "oversized"
    assert _reason(b"EK") == "truncated"
    assert _reason(b"XX" + CODEC.encode(Heartbeat(1, 1, 2))[2:]) == "bad-magic"
    assert _reason(_forge(3, b"test-cluster", 1, 1, 2, 0, version=9)) == "bad-version"
    assert _reason(_forge(3, b"test-cluster", 1, 1, 2, 0, key=b"other" * 8)) == "bad-mac"
    assert _reason(_forge(3, b"other-cluster", 1, 1, 2, 0)) == "wrong-cluster"
    assert _reason(_forge(7, b"test-cluster", 1, 1, 2, 0)) == "unknown-kind"
    assert _reason(_forge(3, b"test-cluster", 1, 9, 2, 0)) == "unknown-peer"
    assert _reason(_forge(3, b"test-cluster", 1, 1, 2, 1)) == "malformed"  # granted heartbeat
    assert _reason(_forge(2, b"test-cluster", 1, 1, 2, 2)) == "malformed"
    assert _reason(_forge(3, b"test-cluster", 1, 2, 2, 0)) == "malformed"  # to itself
    # A valid MAC over a header that lies about the cluster id length.
    lying = bytearray(_forge(3, b"test-cluster", 1, 1, 2, 0)[:-32])
    lying[4] = 5
    assert _reason(bytes(lying) + hmac.digest(KEY, bytes(lying), hashlib.sha256)) == "malformed"


def test_other_cluster_with_other_key_is_refused() -> None:
    other = Codec("prod", b"p" * 32, [1, 2, 3])
    assert _reason(other.encode(RequestVote(3, 1, 2))) == "bad-mac"


def test_encode_refuses_unknown_server_and_bad_config() -> None:
    with pytest.raises(WireError, match="unknown-peer"):
        Codec("c", KEY, [1, 2]).encode(RequestVote(1, 1, 3))
    with pytest.raises(WireError):
        Codec("", KEY, [1])
    with pytest.raises(WireError):
        Codec("c", b"", [1])
    with pytest.raises(WireError):
        Codec("c", KEY, [0])
