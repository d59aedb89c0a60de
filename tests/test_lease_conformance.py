"""lease_election traces replayed on impl/lease against a real etcd."""

from __future__ import annotations

import json
import random

import pytest

from checker.protocols.lease_election.corpus import COUNTEREXAMPLES, counterexample
from checker.protocols.lease_election.replay import (
    as_expected,
    first_difference,
    read_lease_trace,
    replay,
    replay_file,
)
from checker.traces import Trace, TraceError, to_itf
from spec.lease_election import LeaseElection
from tests.conftest import ROOT
from tests.lease_fixtures import etcd  # noqa: F401 - fixture

CORPUS = ROOT / "traces" / "lease_election"


@pytest.mark.parametrize("name", sorted(COUNTEREXAMPLES))
@pytest.mark.parametrize("fenced", [True, False], ids=["fenced", "unfenced"])
def test_each_counterexample_replays_as_its_meta_says(etcd, name, fenced):  # noqa: F811
    trace, result = replay_file(CORPUS / f"{name}.itf.json", etcd.url, fenced=fenced)
    expect = trace.meta["expect" if fenced else "expect_unfenced"]
    assert ("conforms" if result.conforms else "diverges") == expect, result.divergence
    assert as_expected(trace, result, fenced)


def test_replay_file_starts_its_own_etcd_and_a_wrong_step_is_not_as_expected():
    trace, result = replay_file(CORPUS / "unfenced-resource.itf.json")
    assert trace.meta["expect_step"] == result.divergence.step == 13
    trace.meta["expect_step"] = 12
    assert not as_expected(trace, result)


@pytest.mark.parametrize("name", ["unfenced-resource", "no-step-down"])
def test_the_stale_write_is_accepted_unfenced_and_refused_fenced(etcd, name):  # noqa: F811
    trace = read_lease_trace(CORPUS / f"{name}.itf.json")
    assert trace.steps[-1].action == "Act" and trace.steps[-1].state.stale
    assert replay(trace, etcd.url, fenced=False).conforms  # the failure, reproduced
    refused = replay(trace, etcd.url, fenced=True).divergence
    assert (refused.step, refused.field) == (len(trace.steps), "resource")
    assert refused.expected[1] is True and refused.actual[1] is False


def test_the_sound_campaign_diverges_where_etcds_returns_without_its_key(etcd):  # noqa: F811
    trace = read_lease_trace(CORPUS / "campaign-ignores-expiry.itf.json")
    divergence = replay(trace, etcd.url).divergence
    assert divergence.action == "Elected(c=1)" and divergence.field == "phase[1]"
    assert (divergence.expected, divergence.actual) == ("leader", "none")


def random_walk(model: LeaseElection, seed: int, depth: int) -> Trace:
    rng, state, steps = random.Random(seed), model.init_states()[0], []
    for _ in range(depth):
        options = [step for step in model.steps(state) if step.state != state]
        if not options:
            break
        steps.append(rng.choice(options))
        state = steps[-1].state
    return Trace(model, model.init_states()[0], steps)


@pytest.mark.parametrize(
    "options",
    [{}, {"pauses": False, "observe": True}, {"variant": "unfenced_resource", "observe": True}],
    ids=["pauses", "observe", "unfenced"],
)
def test_random_walks_of_the_model_conform(etcd, options):  # noqa: F811
    model = LeaseElection(clients=3, max_revision=6, **options)
    for seed in range(8):
        trace = random_walk(model, seed, 35)
        result = replay(trace, etcd.url, fenced=model.fenced)
        assert result.conforms, (seed, str(result.divergence))
        assert result.steps == len(trace.steps) > 10


def test_a_tampered_trace_file_is_refused_with_its_step(tmp_path):
    doc = json.loads((CORPUS / "pause-belief.itf.json").read_text())
    doc["states"][3]["rev"] = 7
    bad = tmp_path / "bad.itf.json"
    bad.write_text(json.dumps(doc))
    with pytest.raises(TraceError, match="step 3: the recorded state is not the model's"):
        read_lease_trace(bad)


def test_first_difference_names_the_client():
    assert first_difference({"phase": ["a", "b"]}, {"phase": ["a", "c"]}) == ("phase[2]", "b", "c")
    assert first_difference({"rev": 1}, {"rev": 1}) is None


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(COUNTEREXAMPLES))
def test_the_saved_counterexamples_are_the_checkers(name):
    saved = json.loads((CORPUS / f"{name}.itf.json").read_text())
    assert to_itf(counterexample(name)) == saved
