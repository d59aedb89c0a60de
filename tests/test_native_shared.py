"""The sent-once table forked workers share (native_shared.py): a fingerprint is left out only
for a smaller stamp, so the least key always reaches its owner, whoever meets it first and
whatever the timing; and batches cross between workers whole (outbox.py)."""

from __future__ import annotations

import multiprocessing
import os
import random

import numpy as np
import pytest

from checker.search.batch import Batch
from checker.search.native_shared import KEY_BITS, SharedRecent, round_stamps
from checker.search.outbox import Mailboxes


def stamped(serial: int, keys: list[int]) -> np.ndarray:
    return np.array([(serial << KEY_BITS) | k for k in keys], dtype=np.uint64)


def test_stamps_order_rounds_then_keys() -> None:
    first = round_stamps(1, np.array([5, 0])) | np.array([3, 9], dtype=np.uint64)
    later = round_stamps(2, np.array([0]))
    assert first.tolist() == [(1 << KEY_BITS) | 5 << 16 | 3, (1 << KEY_BITS) | 9]
    assert first.max() < later.min()


def test_a_later_key_is_left_out_and_an_earlier_one_is_not() -> None:
    table = SharedRecent(1, 2)
    a, b = table.for_worker(0), table.for_worker(1)
    fps = np.array([11, 22, 33], dtype=np.uint64)
    # Worker 1 meets all three first, with keys 50, 10, 50.
    assert b.first_fps(fps, stamped(1, [50, 10, 50])).tolist() == [True, True, True]
    # Worker 0 then meets them with keys 40, 20, 60: only 11's key is smaller, so only it
    # must be sent again (its owner keeps the least key, 40).
    assert a.first_fps(fps, stamped(1, [40, 20, 60])).tolist() == [True, False, False]
    # A repeat of 11 at key 45 is left out now (40 was sent); in a later round, everything
    # met before is left out, whatever its key.
    assert a.first_fps(fps[:1], stamped(1, [45])).tolist() == [False]
    assert b.first_fps(fps, stamped(2, [0, 0, 0])).tolist() == [False, False, False]
    # A new fingerprint is still sent.
    assert b.first_fps(np.array([44], np.uint64), stamped(2, [7])).tolist() == [True]


def test_racing_workers_always_send_each_least_key() -> None:
    """Two processes meet the same 200,000 fingerprints at once, each in its own key order.
    For every fingerprint, the worker holding its least key must have sent it: a lost
    compare-and-swap or a stamp read too early would drop some."""
    rng = random.Random(3)
    n = 200_000
    fps = np.array(rng.sample(range(1, 1 << 62), n), dtype=np.uint64)
    keys = [np.array(rng.sample(range(1 << 30), n), dtype=np.uint64) for _ in range(2)]
    table = SharedRecent(1, 2, limit=1 << 19)
    table.header[0] = 1 << 20  # room for every fingerprint: nothing forgotten mid-round
    ctx = multiprocessing.get_context("fork")
    kept = [multiprocessing.Array("b", n, lock=False) for _ in range(2)]
    procs = []
    for me in range(2):
        order = np.argsort(keys[me])  # a worker meets successors in key order
        stamps = stamped(1, [0] * n) | keys[me][order]
        out = np.frombuffer(kept[me], dtype=np.int8)
        procs.append(ctx.Process(target=_fill, args=(table, me, fps[order], stamps, order, out)))
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    sent = [np.frombuffer(k, dtype=np.int8).astype(bool) for k in kept]
    least = np.where(keys[0] < keys[1], 0, 1)
    assert sent[0][least == 0].all() and sent[1][least == 1].all()
    # It is a cache, not a filter only: most repeats were left out.
    assert (sent[0] & sent[1]).sum() < n // 2


def _fill(table, me, fps, stamps, order, out) -> None:
    keep = table.for_worker(me).first_fps(fps, stamps)
    result = np.zeros(len(order), dtype=np.int8)
    result[order] = keep
    out[:] = result


def test_tidy_grows_and_empties_between_rounds() -> None:
    table = SharedRecent(1, 2, limit=1 << 16)
    workers = [table.for_worker(0), table.for_worker(1)]
    start = int(table.header[0])
    fps = np.arange(1, start + 1, dtype=np.uint64)
    assert workers[0].first_fps(fps, stamped(1, list(range(start)))).all()
    held = int(table.header[8])
    assert held <= start // 2 + 2 * 16  # it stopped remembering when half full
    for w in workers:  # as a round goes: every worker plans, then every worker tidies
        w.plan()
    for w in workers:
        w.tidy()
    assert int(table.header[0]) > start and int(table.header[8]) == 0
    assert not table.fps[: int(table.header[0])].any()  # both halves emptied
    # Emptied: met again in a later round, they are sent again (forgetting costs only that).
    assert workers[1].first_fps(fps[:10], stamped(2, [0] * 10)).all()


@pytest.mark.parametrize("memfd", [True, False])
@pytest.mark.parametrize("width", [None, 3])
def test_batches_cross_outboxes_whole(width, memfd, monkeypatch) -> None:
    if not memfd:  # as where os.memfd_create is missing: temporary files instead
        monkeypatch.delattr(os, "memfd_create", raising=False)
    elif not hasattr(os, "memfd_create"):
        pytest.skip("no memfd_create here")
    rng = random.Random(width or 0)
    states = [
        bytes(rng.getrandbits(8) for _ in range(width or rng.randrange(1, 9))) for _ in range(50)
    ]
    rows = [
        (rng.getrandbits(64) | 1, i, rng.getrandbits(64), i % 7, s) for i, s in enumerate(states)
    ]
    batch = Batch.of(rows, ("a", "b"))
    mail = Mailboxes(2)
    try:
        posted = mail.post(1, ([Batch.empty(), batch], {"x": 1}))
        assert posted[1] == {"x": 1}
        empty, back = mail.fetch(posted[0])
        assert len(empty) == 0 and back.labels == ("a", "b")
        for name in ("fps", "keys", "parents", "aids", "offsets"):
            assert getattr(back, name).tolist() == getattr(batch, name).tolist(), name
        assert [back.state(i) for i in range(len(back))] == states
    finally:
        mail.close()


def test_first_discoveries_are_the_least_keys_in_key_order(monkeypatch) -> None:
    """Machine code and numpy agree with the definition: per fingerprint the least key,
    listed by key; batches arrive as a few runs sorted by key, as partitions send them."""
    import checker.search.batch as batch_module

    rng = random.Random(5)
    runs = []
    for _ in range(3):
        keys = sorted(rng.sample(range(10_000), 400))
        runs.append(Batch.of([(rng.randrange(1, 300), k, 0, 0, b"x") for k in keys]))
    batch = Batch.concat(runs)
    least: dict[int, int] = {}
    for fp, key in zip(batch.fps.tolist(), batch.keys.tolist(), strict=True):
        least[fp] = min(key, least.get(fp, key))
    expected = sorted(least.values())
    for native in (True, False):
        monkeypatch.setattr(batch_module, "NATIVE", native)
        winners = batch.first_discoveries()
        assert batch.keys[winners].tolist() == expected, native
