"""The lease_election counterexamples kept in traces/lease_election/, and how each replays.

Each entry: the model's options, the property whose shortest counterexample it is, and what
replaying it on impl/lease shows in the resource's fenced mode (``expect``, ``expect_step``)
and unfenced mode (``expect_unfenced``, ``expect_unfenced_step``): ``conforms`` (the
implementation goes the same way, so it reproduces the failure) or ``diverges`` at that step
(it refuses to).

    .venv/bin/python -m checker.protocols.lease_election.corpus traces/lease_election
"""

from __future__ import annotations

import sys
from pathlib import Path

from checker.search.explore import explore
from checker.traces import Trace, write_trace
from spec.lease_election import LeaseElection

BOUND = {"clients": 3, "ttl": 2, "max_revision": 4}

COUNTEREXAMPLES = {
    "pause-belief": ({}, "BeliefExclusion", "conforms", "conforms"),
    "unfenced-resource": ({"variant": "unfenced_resource"}, "FencedWrites", "diverges", "conforms"),
    "no-step-down": (
        {"variant": "no_step_down", "pauses": False, "fencing": False},
        "FencedWrites",
        "diverges",
        "conforms",
    ),
    "campaign-ignores-expiry": (
        {"variant": "campaign_ignores_expiry"},
        "CampaignSound",
        "diverges",
        "diverges",
    ),
}


def counterexample(name: str) -> Trace:
    """The shortest counterexample ``name`` names, found afresh by the checker."""
    options, prop, expect, expect_unfenced = COUNTEREXAMPLES[name]
    model = LeaseElection(**BOUND, **options)
    result = explore(model, symmetry=True, properties=frozenset({prop}))
    assert result.verdict == "violation", f"{name}: {prop} holds"
    meta = {
        "property": prop,
        "verdict": "violation",
        "expect": expect,
        "expect_unfenced": expect_unfenced,
    }
    # Each divergence is at the last step: the write the fenced resource refuses, or the
    # Campaign the sound elector does not return from.
    if expect == "diverges":
        meta["expect_step"] = len(result.path)
    if expect_unfenced == "diverges":
        meta["expect_unfenced_step"] = len(result.path)
    return Trace(model, result.init_state, list(result.path), meta)


def main(folder: str) -> None:
    """Write every counterexample into ``folder``."""
    for name in COUNTEREXAMPLES:
        path = write_trace(counterexample(name), Path(folder) / f"{name}.itf.json")
        print(path)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "traces/lease_election")
