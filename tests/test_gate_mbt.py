"""The gate's random-schedule stage: deterministic, and it finds a node bug that needs N >= 4
which the corpus does not reach."""

from __future__ import annotations

from pathlib import Path

from checker.cli.verify import stage_mbt, stages_of
from checker.conformance.mbt import mbt_for_gate
from checker.conformance.replay import collect_traces, replay_file
from checker.protocols.registry import bundle_named
from impl.node import Node

BUNDLE = bundle_named("raft_election")


class CarriesVotes(Node):
    """Planted bug: a candidate's votes are carried into its next election (two leaders at
    N >= 4: a quorum of 3 can then count a vote cast in an earlier term)."""

    __slots__ = ()

    def on_election_timeout(self):
        kept = self._votes
        out = super().on_election_timeout()
        self._votes = self._votes | kept
        return out


def test_the_stage_passes_on_the_implementation_and_is_deterministic():
    first, second = stage_mbt(BUNDLE), stage_mbt(BUNDLE)
    assert first.passed, first.summary
    assert first.summary == second.summary
    assert "servers=5" in first.summary


def test_the_corpus_misses_carried_votes_but_random_schedules_find_them(tmp_path: Path):
    corpus = collect_traces([str(BUNDLE.gate.corpus)])
    assert all(replay_file(p, node_class=CarriesVotes).as_expected for p in corpus)
    gate = BUNDLE.gate
    passed, summary = mbt_for_gate(
        BUNDLE, gate.mbt, gate.mbt_examples, out=tmp_path, node_class=CarriesVotes
    )
    assert not passed
    assert summary.startswith("servers=4 max_term=5: diverges at step"), summary
    written = list(tmp_path.glob("mbt-*.itf.json"))
    assert len(written) == 1 and str(written[0]) in summary
    # The written schedule is the regression: it diverges again when replayed.
    assert replay_file(written[0], node_class=CarriesVotes).verdict == "diverges"
    assert replay_file(written[0]).verdict == "conforms"


def test_verify_lists_the_stage():
    assert "mbt" in stages_of(BUNDLE, BUNDLE.gate.corpus)
