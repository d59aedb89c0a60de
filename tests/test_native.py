"""The native kernel (numba) gives exactly what the Python compiled kernel gives: the same
successors in the same order, the same orbit representatives, the same xxh3 fingerprints and
the same tallies; and the partitioned search really runs it."""

from __future__ import annotations

import random

import numpy as np
import pytest
import xxhash

from checker.search import xxh3
from checker.search.batch import codec_for
from checker.search.compiled import compile_actor_model
from checker.search.explore import explore
from checker.search.native import NativeKernel, native_kernel
from checker.search.native_sets import Recent
from spec.raft_election import VARIANTS, RaftElection


def reachable(kernel, symmetric: bool, limit: int) -> list[int]:
    """Up to ``limit`` states, breadth first, by the Python kernel."""
    frontier, seen, states = list(kernel.init), set(kernel.init), []
    while frontier and len(states) < limit:
        states += frontier
        following = []
        for st in frontier:
            for _, nxt in kernel.expand(st):
                rep = kernel.canonical(nxt) if symmetric else nxt
                if rep not in seen:
                    seen.add(rep)
                    following.append(rep)
        frontier = following
    return states[:limit]


def native_and_rows(servers: int, max_term: int, limit: int) -> tuple[NativeKernel, np.ndarray]:
    """A symmetric native kernel and up to ``limit`` reachable states as its rows."""
    kernel = compile_actor_model(RaftElection(servers=servers, max_term=max_term), True)
    width = codec_for(kernel).width
    fast = NativeKernel(kernel, width, True)
    states = reachable(kernel, True, limit)
    blob = b"".join(st.to_bytes(width, "little") for st in states)
    return fast, fast.to_rows(blob, len(states))


def test_xxh3_equals_xxhash_for_every_length_it_takes() -> None:
    rng = random.Random(7)
    for length in range(xxh3.MAX_HASHED_BYTES + 1):
        for _ in range(3):
            data = bytes(rng.getrandbits(8) for _ in range(length))
            words = max(1, -(-length // 8))
            row = np.zeros(words * 8, dtype=np.uint8)
            row[:length] = np.frombuffer(data, dtype=np.uint8)
            fps = np.empty(1, dtype=np.uint64)
            xxh3.fingerprints(row.view(np.uint64).reshape(1, -1), length, xxh3.SECRET, fps)
            assert int(fps[0]) == (xxhash.xxh3_64_intdigest(data) or 1), length


@pytest.mark.parametrize(
    ("servers", "max_term", "symmetric"),
    [(3, 2, True), (3, 2, False), (4, 2, True), (3, 3, True)],
)
def test_successors_are_the_python_kernels(servers: int, max_term: int, symmetric: bool) -> None:
    model = RaftElection(servers=servers, max_term=max_term)
    python = compile_actor_model(model, symmetric)
    states = reachable(python, symmetric, 6000)
    width = codec_for(python).width
    fast = NativeKernel(compile_actor_model(model, symmetric), width, symmetric)
    rows = fast.to_rows(b"".join(st.to_bytes(width, "little") for st in states), len(states))

    before = python.fired_counts()
    want = []
    for i, st in enumerate(states):
        for position, (aid, nxt) in enumerate(python.expand(st)):
            want.append((i, position, aid, python.canonical(nxt) if symmetric else nxt))
    fired = [a - b for a, b in zip(python.fired_counts(), before, strict=True)]

    succ, parent, ordinal, aids, fps, changed = fast.successors(rows)
    blob = fast.to_blob(succ)
    got = [
        (int(parent[j]), int(ordinal[j]), int(aids[j]),
         int.from_bytes(blob[j * width : (j + 1) * width], "little"))
        for j in range(len(succ))
    ]  # fmt: skip
    assert len(want) > len(states)  # states with successors, not an empty comparison
    assert got == want
    packed = [blob[j * width : (j + 1) * width] for j in range(len(succ))]
    assert fps.tolist() == [xxhash.xxh3_64_intdigest(b) or 1 for b in packed]
    assert fast.kernel.fired_counts() == fired
    assert changed.tolist()[: len(python.action_labels)] == [
        sum(1 for _, _, aid, _ in want if aid == a) for a in range(len(python.action_labels))
    ]


def test_recent_sends_the_first_meeting_of_each_fingerprint_once() -> None:
    fast, rows = native_and_rows(3, 2, 3000)
    every = fast.successors(rows)
    _, first = np.unique(every[4], return_index=True)
    first.sort()
    recent = Recent(fast.words)
    once = fast.successors(rows, recent)
    assert 0 < len(once[0]) < len(every[0])
    for got, want in zip(once[:5], every[:5], strict=True):
        assert np.array_equal(got, want[first])
    assert np.array_equal(once[5], every[5])  # tallies count every successor
    assert len(fast.successors(rows, recent)[0]) == 0  # all met before


def test_recent_forgets_when_half_full_and_still_sends_each_new_state() -> None:
    fast, rows = native_and_rows(3, 2, 3000)
    every = set(fast.successors(rows)[4].tolist())
    small = Recent(fast.words, limit=64)  # emptied many times over
    sent = fast.successors(rows, small)[4].tolist()
    assert set(sent) == every and len(sent) > len(every)


def test_rows_round_trip_through_packed_bytes() -> None:
    fast, rows = native_and_rows(4, 2, 500)
    assert fast.width > 8  # a state over more than one word: the case to get right
    blob = fast.to_blob(rows)
    assert len(blob) == len(rows) * fast.width
    assert np.array_equal(fast.to_rows(blob, len(rows)), rows)


def test_the_partitioned_search_runs_native_and_agrees_with_python(monkeypatch) -> None:
    model = RaftElection(servers=3, max_term=2)
    kernel = compile_actor_model(model, True)
    assert native_kernel(kernel, codec_for(kernel).width, True) is not None
    fast = explore(model, workers=1, round_size=5000)
    monkeypatch.setenv("ELECTKIT_NATIVE", "0")
    assert native_kernel(compile_actor_model(model, True), codec_for(kernel).width, True) is None
    slow = explore(model, workers=1, round_size=5000)
    for name in ("verdict", "distinct_states", "generated_states", "depth", "coverage"):
        assert getattr(fast, name) == getattr(slow, name), name


def test_the_same_counterexample_native_and_python(monkeypatch) -> None:
    model = RaftElection(servers=3, max_term=2, variant="stale_votes")
    fast = explore(model, workers=2, round_size=3000)
    monkeypatch.setenv("ELECTKIT_NATIVE", "0")
    slow = explore(model, workers=2, round_size=3000)
    assert fast.verdict == slow.verdict == "violation"
    assert fast.path == slow.path and fast.init_state == slow.init_state
    assert (fast.distinct_states, fast.generated_states) == (
        slow.distinct_states,
        slow.generated_states,
    )


DEPTH = 9  # every variant's violated properties are met by then (the unsafe ones grow large)


@pytest.mark.parametrize("variant", [None, *sorted(VARIANTS)])
def test_every_first_violation_the_same_native_and_python(monkeypatch, variant) -> None:
    """Machine code checks most new states (Projections): every property's first violation,
    with its trace, is still the Python kernel's, for each planted bug of the model."""
    model = RaftElection(servers=3, max_term=2, variant=variant)
    fast = explore(model, workers=1, keep_going=True, round_size=4000, max_depth=DEPTH)
    monkeypatch.setenv("ELECTKIT_NATIVE", "0")
    slow = explore(model, workers=1, keep_going=True, round_size=4000, max_depth=DEPTH)
    assert fast.verdict == slow.verdict
    assert fast.violations == slow.violations
    assert (fast.distinct_states, fast.coverage) == (slow.distinct_states, slow.coverage)
