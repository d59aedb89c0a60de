"""The codec: round trips, and every kind of bad datagram refused with a WireError."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impl.errors import MessageError, WireError
from impl.messages import (
    Heartbeat,
    Message,
    RequestVote,
    Vote,
    message_from_dict,
    message_to_dict,
)
from impl.wire import MAX_DATAGRAM, MIN_DATAGRAM, REASONS, Codec

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


# ---- the API is public (an embedder may build messages and codecs directly): every check of
# its input must hold on its own, not only behind the CLI and the codec.


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: RequestVote(-1, 1, 2), r"RequestVote\.term must be an int >= 0, got -1"),
        (lambda: RequestVote(True, 1, 2), r"RequestVote\.term must be an int >= 0, got True"),
        (lambda: RequestVote(1, 0, 2), r"RequestVote\.src must be an int >= 1, got 0"),
        (lambda: RequestVote(1, 1, 0), r"RequestVote\.dst must be an int >= 1, got 0"),
        (lambda: RequestVote(1, 2, 2), "RequestVote: src and dst are both 2"),
        (lambda: Vote(-1, 1, 2, True), r"Vote\.term must be an int >= 0, got -1"),
        (lambda: Vote(1, 1, 2, 1), r"Vote\.granted must be a bool, got 1"),
        (lambda: Vote(1, "1", 2, True), r"Vote\.src must be an int >= 1, got '1'"),
        (lambda: Heartbeat(-1, 1, 2), r"Heartbeat\.term must be an int >= 0, got -1"),
        (lambda: Heartbeat(1, 3, 3), "Heartbeat: src and dst are both 3"),
    ],
)
def test_a_message_refuses_each_bad_field_by_name(build, message) -> None:
    with pytest.raises(MessageError, match=message):
        build()


def test_the_smallest_fields_are_accepted() -> None:
    assert (RequestVote(0, 1, 2).term, Heartbeat(0, 2, 1).src, Vote(0, 1, 2, False).dst) == (
        0, 2, 2)


@pytest.mark.parametrize(
    ("view", "message"),
    [
        ([1], "a message must be a JSON object, got list"),
        ({"type": "Ping", "term": 1, "src": 1, "dst": 2}, "unknown message type 'Ping'"),
        ({"term": 1, "src": 1, "dst": 2}, "unknown message type None"),
        ({"type": "Vote", "term": 1, "src": 1, "dst": 2},
         r"Vote needs fields \['dst', 'granted', 'src', 'term'\]"),
        ({"type": "RequestVote", "term": 1, "src": 1, "dst": 2, "granted": True},
         r"RequestVote needs fields \['dst', 'src', 'term'\], got \['dst', 'granted'"),
        ({"type": "Heartbeat", "term": 1, "src": 1}, "Heartbeat needs fields"),
    ],
)
def test_message_from_dict_refuses_each_malformed_view(view, message) -> None:
    with pytest.raises(MessageError, match=message):
        message_from_dict(view)


def test_message_views_round_trip() -> None:
    for msg in (RequestVote(3, 1, 2), Vote(3, 2, 1, True), Vote(3, 2, 1, False),
                Heartbeat(4, 1, 3)):
        assert message_from_dict(message_to_dict(msg)) == msg


def test_wire_error_carries_reason_and_detail() -> None:
    bare, detailed = WireError("bad-mac"), WireError("malformed", "granted byte 2")
    assert (str(bare), bare.reason, bare.detail) == ("bad-mac", "bad-mac", "")
    assert str(detailed) == "malformed: granted byte 2"
    assert (detailed.reason, detailed.detail) == ("malformed", "granted byte 2")


def test_codec_config_is_checked_on_its_own() -> None:
    for args, message in [
        (("", KEY, [1]), "cluster id must be 1..64"),
        (("c" * 65, KEY, [1]), "cluster id must be 1..64"),
        (("c", b"", [1]), "the cluster key must be non-empty bytes"),
        (("c", "k" * 32, [1]), "the cluster key must be non-empty bytes"),
        (("c", KEY, []), "node ids must be ints"),
        (("c", KEY, [1, 0]), "node ids must be ints"),
        (("c", KEY, [1, 2**32]), "node ids must be ints"),
        (("c", KEY, ["1"]), "node ids must be ints"),
    ]:
        with pytest.raises(WireError, match=message) as info:
            Codec(*args)
        assert info.value.reason == "config"
    assert Codec("c" * 64, KEY, [1, 2**32 - 1]).cluster_id == "c" * 64


def test_encode_refuses_what_it_cannot_carry() -> None:
    with pytest.raises(WireError, match="unknown-kind: cannot encode 'hello'"):
        CODEC.encode("hello")  # type: ignore[arg-type]
    with pytest.raises(WireError, match="unknown-peer"):
        CODEC.encode(RequestVote(1, 6, 1))
    with pytest.raises(WireError, match="malformed: term 18446744073709551616 does not fit"):
        CODEC.encode(RequestVote(2**64, 1, 2))
    top = RequestVote(2**64 - 1, 1, 2)
    assert CODEC.decode(CODEC.encode(top)) == top


def test_decode_refuses_what_is_not_bytes_and_takes_every_bytes_like() -> None:
    with pytest.raises(WireError, match="malformed: expected bytes, got str"):
        CODEC.decode("EK")  # type: ignore[arg-type]
    good = CODEC.encode(Vote(5, 2, 1, True))
    assert CODEC.decode(bytearray(good)) == CODEC.decode(memoryview(good)) == Vote(5, 2, 1, True)


def test_the_shortest_and_longest_datagrams_are_accepted() -> None:
    short = Codec("c", KEY, [1, 2])
    datagram = short.encode(Heartbeat(1, 1, 2))
    assert len(datagram) == MIN_DATAGRAM
    assert short.decode(datagram) == Heartbeat(1, 1, 2)
    long = Codec("c" * 64, KEY, [1, 2])
    assert long.decode(long.encode(Vote(2**64 - 1, 2, 1, True))) == Vote(2**64 - 1, 2, 1, True)
    assert _reason(b"x" * MAX_DATAGRAM) == "bad-magic"  # at the cap: not refused for its size
    assert _reason(datagram[:-1]) == "truncated"


def test_each_refusal_names_its_detail() -> None:
    def detail(data: bytes) -> str:
        with pytest.raises(WireError) as info:
            CODEC.decode(data)
        return str(info.value)

    over = MAX_DATAGRAM + 1
    assert detail(b"x" * over) == f"oversized: {over} bytes > {MAX_DATAGRAM}"
    assert detail(b"EK") == f"truncated: 2 bytes < {MIN_DATAGRAM}"
    assert detail(_forge(7, b"test-cluster", 1, 1, 2, 0)) == "unknown-kind: kind 7"
    assert detail(_forge(3, b"test-cluster", 1, 1, 9, 0)) == "unknown-peer: src 1, dst 9"
    assert detail(_forge(2, b"test-cluster", 1, 1, 2, 2)) == "malformed: granted byte 2 in a Vote"
    assert detail(_forge(1, b"test-cluster", 1, 1, 2, 1)) == (
        "malformed: granted byte 1 in a RequestVote")
    assert detail(_forge(3, b"test-cluster", 1, 2, 2, 0)).startswith(
        "malformed: Heartbeat: src and dst are both 2")
    assert CODEC.decode(_forge(2, b"test-cluster", 1, 1, 2, 1)) == Vote(1, 1, 2, True)
    assert CODEC.decode(_forge(2, b"test-cluster", 1, 1, 2, 0)) == Vote(1, 1, 2, False)
