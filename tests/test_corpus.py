"""The regression corpus: every trace under traces/ is one test, judged by its #meta."""

from __future__ import annotations

import pytest

from checker.conformance.replay import corpus_traces, replay_file
from checker.protocols.raft_election.corpus import REQUIRED_FEATURES, features
from checker.traces import read_trace
from tests.conftest import ROOT

CORPUS = corpus_traces(ROOT / "traces")


def test_corpus_is_not_empty():
    assert len(CORPUS) >= 10


@pytest.mark.parametrize("path", CORPUS, ids=[str(p.relative_to(ROOT)) for p in CORPUS])
def test_trace_replays_as_its_meta_says(path):
    result = replay_file(path)
    assert result.as_expected, (
        f"expected {result.expect}"
        + (f" at step {result.expect_step}" if result.expect_step else "")
        + f", got:\n{result.report()}"
    )


def test_correct_traces_cover_every_action_message_and_role_change():
    covered = set()
    for path in CORPUS:
        trace = read_trace(path)
        if trace.model.name == "raft_election" and trace.meta.get("expect") == "conforms":
            covered |= features(trace)
    assert REQUIRED_FEATURES - covered == set()


def test_every_faulty_variant_has_a_trace_that_must_diverge():
    from spec.raft_election import VARIANTS

    marked = {}
    for path in CORPUS:
        trace = read_trace(path)
        if trace.model.name != "raft_election":
            continue
        variant = trace.model.parameters.get("variant")
        if variant:
            assert trace.meta["expect"] == "diverges" and trace.meta["expect_step"] >= 1
            marked[variant] = path
    assert set(marked) == set(VARIANTS)
