"""Trace files: written, read back, validated; bad files refused with file, step, field."""

from __future__ import annotations

import json

import pytest
from hypothesis import given

from checker.errors import ElectkitError
from checker.traces import Trace, read_trace, write_trace
from tests.strategies import walks


@given(walks())
def test_trace_written_and_read_back_is_equal(tmp_path_factory, case):
    model, init, steps = case
    path = tmp_path_factory.mktemp("t") / "walk.itf.json"
    write_trace(Trace(model, init, steps, {"description": "random walk"}), path)
    again = read_trace(path)
    assert again.model.parameters == model.parameters
    assert again.states == [init] + [s.state for s in steps]
    assert [(s.action, dict(s.params), s.sends) for s in again.steps] == [
        (s.action, dict(s.params), s.sends) for s in steps
    ]
    assert again.meta["description"] == "random walk"


def _write(tmp_path, doc) -> str:
    path = tmp_path / "bad.itf.json"
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return str(path)


def _good(tmp_path):
    from checker.traces import to_itf, trace_from_actions
    from spec.raft_election import RaftElection

    trace = trace_from_actions(RaftElection(3, 2), [("Timeout", {"s": 1}), ("Timeout", {"s": 2})])
    return to_itf(trace)


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda d: "{not json", "not JSON"),
        (lambda d: d.pop("states"), "header: field (top level)"),
        (lambda d: d["states"][1]["term"]["#map"].__setitem__(0, [1, "x"]), "step 1: field term"),
        (lambda d: d["#meta"].__setitem__("spec", "paxos"), "unknown protocol"),
        (lambda d: d["states"][2]["#meta"].__setitem__("action", "Jump"), "step 2"),
        (lambda d: d["states"][2]["#meta"]["params"].__setitem__("s", 9), "step 2"),
        (lambda d: d["states"][1]["role"]["#map"][0].__setitem__(1, "king"), "step 1: field role"),
        (lambda d: d["states"][2]["term"]["#map"][1].__setitem__(1, 2), "step 2: the recorded"),
    ],
    ids=["not-json", "no-states", "bad-int", "spec", "action", "server", "role", "wrong-state"],
)
def test_bad_trace_named_precisely(tmp_path, mutate, expected):
    doc = _good(tmp_path)
    out = mutate(doc)
    path = _write(tmp_path, out if isinstance(out, str) else doc)
    with pytest.raises(ElectkitError) as info:
        read_trace(path)
    message = str(info.value)
    assert path in message
    assert expected in message
    assert "\n" not in message


def test_committed_schema_is_the_one_the_reader_uses():
    from checker.protocols.registry import bundle_named
    from checker.traces.schema import trace_schema
    from tests.conftest import ROOT

    schema = trace_schema(bundle_named("raft_election"))
    assert json.loads((ROOT / "docs" / "trace.schema.json").read_text()) == schema
