"""The regression corpus in traces/: random walks, what a trace covers, and how it is built.

``build_corpus`` writes, from the model alone:

- ``traces/variants/``: the shortest ElectionSafety counterexample of each faulty variant,
  marked ``expect: diverges`` at ``expect_step``, the first step where the variant departs
  from MODEL.md (where the correct implementation must refuse to follow);
- ``traces/correct/``: random walks of the correct model, chosen greedily until together they
  cover every action kind, every message type, restarts and every role change
  (:data:`REQUIRED_FEATURES`), marked ``expect: conforms``.
"""

from __future__ import annotations

import random
from pathlib import Path

from checker.explore import explore
from checker.traces import Trace, trace_from_actions, write_trace
from spec.actor import action_kind
from spec.model import Model, find_step
from spec.raft_election import VARIANTS, RaftElection

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


def features(trace: Trace) -> set[str]:
    """What a trace exercises: action kinds, messages sent, and role changes by action."""
    found: set[str] = set()
    before = trace.init
    for step in trace.steps:
        kind = action_kind(step)
        found.add(f"action {kind}")
        for m in step.sends:
            granted = "" if m.granted is None else (" granted" if m.granted else " denied")
            found.add(f"send {m.kind}{granted}")
        s = step.params["m"].dst if "m" in step.params else step.params["s"]
        old, new = before.locals[s - 1].role, step.state.locals[s - 1].role
        if old != new or step.action in ("Timeout", "Restart"):
            found.add(f"{old}->{new} by {kind}")
        before = step.state
    return found


def random_walk(model: Model, steps: int, rng: random.Random, loop_chance: float = 0.1) -> Trace:
    """A walk of up to ``steps`` steps: uniform among the steps that change the state, and a
    self-loop (an action that changes nothing) with probability ``loop_chance``."""
    state = model.init_states()[0]
    init, path = state, []
    for _ in range(steps):
        options = list(model.steps(state))
        if not options:
            break
        moving = [s for s in options if s.state != state]
        pool = options if (not moving or rng.random() < loop_chance) else moving
        step = pool[rng.randrange(len(pool))]
        path.append(step)
        state = step.state
    return Trace(model, init, path, {})


def departure_step(trace: Trace) -> int | None:
    """The first step where the trace's (variant) model does what MODEL.md would not."""
    params = dict(trace.model.parameters)
    if not params.get("variant"):
        return None
    correct = RaftElection(params["servers"], params["max_term"], params["restart"])
    state = trace.init
    for index, step in enumerate(trace.steps, start=1):
        honest = find_step(correct, state, step.action, step.params)
        if honest is None or honest.state != step.state or honest.sends != step.sends:
            return index
        state = step.state
    return None


def variant_cases() -> list[tuple[str, int]]:
    cases = [(v, 3) for v in VARIANTS if v != "quorum_off_by_one"]
    return cases + [("quorum_off_by_one", 2), ("quorum_off_by_one", 4)]


def variant_trace(variant: str, servers: int, max_term: int = 2) -> Trace:
    """The shortest two-leader execution of ``variant``, marked to diverge where it departs."""
    model = RaftElection(servers, max_term, variant=variant)
    result = explore(model, symmetry=True, properties=frozenset({"ElectionSafety"}))
    if result.verdict != "violation":
        raise ValueError(f"variant {variant} holds at N={servers}, T={max_term}")
    trace = Trace(model, result.init_state, result.path, {})
    trace.meta = {
        "property": "ElectionSafety",
        "verdict": "violation",
        "expect": "diverges",
        "expect_step": departure_step(trace),
        "description": f"shortest two-leader execution of the faulty variant {variant}; the "
        "correct implementation must refuse the step where the variant departs from MODEL.md",
    }
    return trace


def covering_walks(seed: int = 2026, attempts: int = 2000) -> list[Trace]:
    """Random walks of the correct model, kept while they add a feature, until all are covered."""
    rng = random.Random(seed)
    chosen: list[Trace] = []
    covered: set[str] = set()
    for _ in range(attempts):
        servers = rng.choice([3, 3, 4, 5])
        model = RaftElection(servers, rng.choice([2, 3, 4]))
        walk = random_walk(model, rng.randint(10, 40), rng)
        new = features(walk) - covered
        if new & REQUIRED_FEATURES:
            covered |= features(walk)
            walk.meta = {
                "verdict": "sample",
                "expect": "conforms",
                "description": "random walk of the correct model; adds coverage of: "
                + ", ".join(sorted(new & REQUIRED_FEATURES)),
            }
            chosen.append(walk)
        if REQUIRED_FEATURES <= covered:
            return chosen
    missing = ", ".join(sorted(REQUIRED_FEATURES - covered))
    raise ValueError(f"{attempts} walks did not cover: {missing}")


def build_corpus(out: Path) -> list[Path]:
    """Write the corpus under ``out``; returns the files written."""
    written = []
    for variant, servers in variant_cases():
        path = out / "variants" / f"{variant}-N{servers}-T2.itf.json"
        written.append(write_trace(variant_trace(variant, servers), path))
    single = trace_from_actions(
        RaftElection(1, 2),
        [
            ("Timeout", {"s": 1}),
            ("Heartbeat", {"s": 1}),
            ("Restart", {"s": 1}),
            ("Timeout", {"s": 1}),
        ],
        {
            "verdict": "sample",
            "expect": "conforms",
            "description": "a cluster of one elects itself at once, twice across a restart",
        },
    )
    written.append(write_trace(single, out / "correct" / "single-server.itf.json"))
    for index, walk in enumerate(covering_walks(), start=1):
        p = walk.model.parameters
        name = f"walk-{index:02d}-N{p['servers']}-T{p['max_term']}.itf.json"
        written.append(write_trace(walk, out / "correct" / name))
    return written
