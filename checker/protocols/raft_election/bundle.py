"""The raft_election bundle: Raft's election among the servers (docs/model.md), with its
implementation (impl/), corpus (traces/raft_election/), proof, mutation target and view."""

from __future__ import annotations

from pathlib import Path

from checker.protocols.bundle import (
    Bundle,
    Corpus,
    Gate,
    Lazy,
    Mutation,
    Param,
    VariantCase,
    ViewHints,
    variant_param,
)
from checker.protocols.raft_election.schema import STATE
from spec.raft_election import VARIANTS, RaftElection

PROJECT = Path(__file__).resolve().parents[3]
N, T = 3, 2  # the default bounds of `check` and of the gate


def _adapter(parameters, data_root=None, **options):
    from checker.protocols.raft_election.adapter import adapter

    return adapter(parameters, data_root, **options)


def _build_corpus(out: Path) -> list[Path]:
    from checker.protocols.raft_election.corpus import build

    return build(out)


def _features(trace) -> set[str]:
    from checker.protocols.raft_election.corpus import features

    return features(trace)


REQUIRED_FEATURES = frozenset(
    {
        "action Timeout",
        "action Heartbeat",
        "action Restart",
        "action Receive(RequestVote)",
        "action Receive(Vote)",
        "action Receive(Heartbeat)",
        "send RequestVote",
        "send Vote granted",
        "send Vote denied",
        "send Heartbeat",
        "follower->candidate by Timeout",
        "candidate->candidate by Timeout",
        "candidate->leader by Receive(Vote)",
        "candidate->follower by Receive(Heartbeat)",
        "candidate->follower by Receive(RequestVote)",
        "candidate->follower by Receive(Vote)",
        "leader->follower by Receive(RequestVote)",
        "leader->follower by Restart",
        "candidate->follower by Restart",
        "follower->follower by Restart",
    }
)
MUTATED_FILES = (  # in the order they are mutated: the node and its storage first
    "node.py",
    "host.py",
    "messages.py",
    "storage.py",
    "files.py",
    "wire.py",
    "errors.py",
    "server.py",
    "eventlog.py",
    "__main__.py",
    "cluster.py",
    "cli.py",
)
# The quick unit tests of each file (a few seconds each), run on a mutant the gate let pass.
UNIT_TESTS = {
    file: tuple(PROJECT / "tests" / f"test_impl_{name}.py" for name in names)
    for file, names in {
        "node.py": ("node",),
        "host.py": ("host",),
        "messages.py": ("wire", "node"),
        "storage.py": ("storage",),
        "files.py": ("storage",),
        "wire.py": ("wire",),
        "errors.py": ("wire",),
        "server.py": ("server",),
        "eventlog.py": ("eventlog",),
        "cli.py": ("cli",),
        "__main__.py": ("main", "cli"),
        "cluster.py": ("cluster",),
    }.items()
}
WALK_CHOICES = {"servers": (3, 3, 4, 5), "max_term": (2, 3, 4)}


BUNDLE = Bundle(
    name="raft_election",
    summary="Raft's leader election among the servers (terms, votes, timeouts, restarts)",
    model=RaftElection,
    params=(
        Param(
            "servers",
            int,
            N,
            "number of servers, ids 1..N",
            low=1,
            high=64,
            flag="--servers",
            search_high=9,
        ),
        Param(
            "max_term",
            int,
            T,
            "no server starts an election past this term",
            low=0,
            high=1000,
            flag="--max-term",
            search_high=20,
        ),
        Param(
            "restart",
            bool,
            True,
            "whether servers crash and recover (Restart)",
            flag="--no-restart",
        ),
        variant_param(VARIANTS, flag="--variant"),
    ),
    variants=VARIANTS,
    gate=Gate(
        parameters={"servers": N, "max_term": T},
        headline="ElectionSafety",
        variants=tuple(
            VariantCase(v, {"servers": N, "max_term": T}, "violation")
            for v in VARIANTS
            if v != "quorum_off_by_one"
        )
        + (
            VariantCase("quorum_off_by_one", {"servers": 2, "max_term": T}, "violation"),
            VariantCase("quorum_off_by_one", {"servers": 3, "max_term": T}, "ok"),
            VariantCase("quorum_off_by_one", {"servers": 4, "max_term": T}, "violation"),
        ),
        corpus=PROJECT / "traces" / "raft_election",
        cover=({"servers": 1, "max_term": 1}, {"servers": 2, "max_term": 1}),
        # N >= 4: bugs such as votes carried into the next election need a quorum of 3
        mbt=tuple({"servers": n, "max_term": 5} for n in (3, 4, 5)),
    ),
    adapter=_adapter,
    corpus=Corpus(_build_corpus, _features, REQUIRED_FEATURES, WALK_CHOICES),
    state_schema=STATE,
    proof=Lazy("checker.protocols.raft_election.prove_cli"),
    validation=Lazy("checker.protocols.raft_election.validate"),
    durability=Lazy("checker.protocols.raft_election.durability"),
    mutation=Mutation(
        module="impl.node",
        class_name="Node",
        methods=(
            "is_quorum",
            "on_election_timeout",
            "on_heartbeat_timer",
            "on_message",
            "_on_request_vote",
            "_on_vote",
            "_on_heartbeat",
            "_become_leader",
        ),
        option="node_class",
        walk_choices={"servers": (3, 4, 5), "max_term": (2, 3, 4)},
        # Whole-gate mode: every module of impl/ but the fault-injection harness (chaos.py,
        # faults.py: the gate's own tools) and lease/ (the lease_election gate's, with etcd).
        package="impl",
        files=MUTATED_FILES,
        # fastest first; "chaos:3" is a 3 s chaos run, a quick pre-filter before the 10 s one
        stages=("crash", "replay", "cover", "iofaults", "mbt", "chaos:3", "chaos"),
        tests=UNIT_TESTS,
    ),
    view=ViewHints(
        status="role",
        colours={"follower": "#9aa5b1", "candidate": "#e8a33d", "leader": "#2f9e44"},
        note="term",
    ),
    commands={
        "node": ("impl.cli", "run one Raft leader-election node"),
        "cluster": ("impl.cli", "run a local cluster of Raft node processes"),
        "chaos": ("checker.cli.chaos", "run a Raft cluster under faults, then validate its logs"),
    },
)
