"""Model-based testing: random schedules of the model, replayed against the implementation.

A failure shrinks (hypothesis) to a minimal schedule and is written out as a trace file,
ready to commit under traces/ as a regression.
"""

from __future__ import annotations

import dataclasses
import hashlib
from pathlib import Path

import pytest
from hypothesis import given, settings

from checker.conformance.replay import MISMATCH, MISSING, RAISED, UNEXPECTED, replay_trace
from checker.traces import Trace, dumps, to_itf, trace_from_actions, write_trace
from impl.messages import Vote
from impl.node import Node
from spec.raft_election import Message, RaftElection
from tests.conftest import ROOT
from tests.strategies import schedules

REGRESSIONS = ROOT / "out" / "regressions"


def check_conforms(case, node_class=None) -> None:
    model, init, steps = case
    trace = Trace(
        model, init, steps, {"expect": "conforms", "description": "found by model-based testing"}
    )
    result = replay_trace(trace, "<schedule>", node_class=node_class)
    if result.verdict == "diverges":
        # Keep the schedule up to the divergence: that is the regression to commit.
        trace.steps = trace.steps[: result.step]
        digest = hashlib.sha256(dumps(to_itf(trace)).encode()).hexdigest()[:12]
        path = write_trace(trace, REGRESSIONS / f"mbt-{digest}.itf.json")
        result.trace = str(path)  # so the report's rerun line names the file
        pytest.fail(f"{result.report()}\nwritten as a regression trace: {path}")


@settings(max_examples=300)
@given(schedules())
def test_random_schedules_conform(case):
    check_conforms(case)


# --- the harness can fail: planted bugs are caught, shrunk, and written out ---------------
class CountsStaleVotes(Node):
    """Planted bug: a candidate counts granted votes from older terms."""

    def on_message(self, msg):
        term = self.snapshot().term
        if isinstance(msg, Vote) and msg.granted and msg.term < term:
            msg = Vote(term, msg.src, msg.dst, True)
        return super().on_message(msg)


class ForgetsToPersistVote(Node):
    """Planted bug: the granted vote is never handed to storage."""

    def on_message(self, msg):
        out = super().on_message(msg)
        if out.persist is not None and out.persist.voted_for not in (None, self.id):
            return type(out)(
                None, out.send, out.became_leader, out.stepped_down, out.reset_election_timer
            )
        return out


@pytest.mark.parametrize("mutant", [CountsStaleVotes, ForgetsToPersistVote])
def test_planted_bug_is_found_shrunk_and_written(mutant, tmp_path, monkeypatch):
    monkeypatch.setattr(f"{__name__}.REGRESSIONS", tmp_path)
    with pytest.raises(pytest.fail.Exception) as info:
        settings(max_examples=300, database=None)(
            given(schedules())(lambda case: check_conforms(case, mutant))
        )()
    message = str(info.value)
    assert "diverges at step" in message
    # The minimal example is the one hypothesis reports last; its file is named in the report.
    written = Path(message.rsplit("written as a regression trace: ", 1)[1].split()[0])
    assert written.parent == tmp_path and written.exists()
    # Shrunk: the written schedule is short and replays to the same divergence.
    from checker.traces import read_trace

    trace = read_trace(written)
    assert len(trace.steps) <= 6, message
    again = replay_trace(trace, node_class=mutant)
    assert again.verdict == "diverges" and again.step == len(trace.steps)


def test_divergence_kinds_are_classified():
    model = RaftElection(3, 2)
    trace = trace_from_actions(
        model,
        [
            ("Timeout", {"s": 1}),
            ("Receive", {"m": next(iter(sorted(model.broadcast("RequestVote", 1, 1))))}),
        ],
    )

    class Silent(Node):
        def on_message(self, msg):
            return dataclasses.replace(super().on_message(msg), send=())

    class Chatty(Node):
        def on_election_timeout(self):
            out = super().on_election_timeout()
            extra = (Vote(out.persist.term, self.id, 2, True),)
            return dataclasses.replace(out, send=out.send + extra)

    class Raises(Node):
        def on_election_timeout(self):
            raise RuntimeError("disk on fire")

    silent = replay_trace(trace, node_class=Silent)
    assert (silent.step, [d.kind for d in silent.diff]) == (2, [MISSING])
    chatty = replay_trace(trace, node_class=Chatty)
    assert (chatty.step, [d.kind for d in chatty.diff]) == (1, [UNEXPECTED])
    raised = replay_trace(trace, node_class=Raises)
    assert raised.step == 1 and raised.diff[0].kind == RAISED
    assert "disk on fire" in raised.diff[0].actual
    assert "rerun: electkit replay" in raised.report()


def test_state_mismatch_names_the_field(tmp_path):
    trace = trace_from_actions(
        RaftElection(3, 2, variant="volatile_vote"),
        [
            ("Timeout", {"s": 1}),
            ("Receive", {"m": sorted(RaftElection(3, 2).broadcast("RequestVote", 1, 1))[1]}),
            ("Restart", {"s": 3}),
        ],
    )
    path = write_trace(trace, tmp_path / "v.itf.json")
    result = replay_trace(trace, str(path))
    assert result.step == 3
    fields = {d.field: d for d in result.diff}
    assert fields["voted_for[3]"].kind == MISMATCH
    assert (fields["voted_for[3]"].expected, fields["voted_for[3]"].actual) == ("none", "1")
    assert f"rerun: electkit replay {path}" in result.report()


def test_leadership_notifications_and_known_leader_are_checked():
    model = RaftElection(3, 2)
    trace = trace_from_actions(
        model,
        [
            ("Timeout", {"s": 1}),
            ("Receive", {"m": sorted(model.broadcast("RequestVote", 1, 1))[0]}),
            ("Receive", {"m": Message("Vote", 1, 2, 1, True)}),
            ("Receive", {"m": Message("Heartbeat", 1, 1, 2)}),
        ],
    )

    class NeverTells(Node):  # the application would never hear that it leads
        def on_message(self, msg):
            return dataclasses.replace(super().on_message(msg), became_leader=False)

    class WrongLeader(Node):  # a follower that believes in a leader nobody elected
        def snapshot(self):
            snap = super().snapshot()
            return dataclasses.replace(snap, leader=3) if snap.role == "follower" else snap

    assert replay_trace(trace).verdict == "conforms"
    told = replay_trace(trace, node_class=NeverTells)
    assert (told.step, [d.field for d in told.diff]) == (3, ["became_leader[1]"])
    wrong = replay_trace(trace, node_class=WrongLeader)
    assert wrong.step == 1 and "leader[2]" in [d.field for d in wrong.diff]


def test_replayed_nodes_use_real_files(tmp_path):
    import json

    from checker.protocols.raft_election.adapter import RaftCluster

    with RaftCluster(3, data_root=str(tmp_path)) as cluster:
        cluster.apply("Timeout", {"s": 2})
        files = list(tmp_path.rglob("vote.json"))
        assert len(files) == 1  # only the node that voted has written
        record = json.loads(files[0].read_text())
        assert (record["term"], record["voted_for"]) == (1, 2)
        cluster.apply("Restart", {"s": 2})  # the rebuilt node reads that file back
        assert cluster.nodes[2].snapshot().term == 1
    assert list(tmp_path.iterdir()) == []  # cleaned up after the replay
