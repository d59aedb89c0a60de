"""Hypothesis strategies over the models: random reachable states by random walks."""

from __future__ import annotations

from hypothesis import strategies as st

from spec.model import find_step
from spec.raft_election import RaftElection


@st.composite
def models(draw, variants: bool = False) -> RaftElection:
    variant = draw(st.sampled_from([None, "no_step_down", "stale_votes"])) if variants else None
    return RaftElection(
        servers=draw(st.integers(1, 4)),
        max_term=draw(st.integers(0, 3)),
        restart=draw(st.booleans()),
        variant=variant,
    )


@st.composite
def walks(draw, model: RaftElection | None = None, max_steps: int = 25):
    """``(model, init, steps)``: a random walk of enabled steps from the initial state."""
    model = model or draw(models())
    state = model.init_states()[0]
    init, steps = state, []
    for _ in range(draw(st.integers(0, max_steps))):
        options = list(model.steps(state))
        moving = [s for s in options if s.state != state]
        # Mostly steps that change the state; now and then a self-loop (it still sends).
        if moving and draw(st.integers(0, 9)) < 9:
            options = moving
        if not options:
            break
        step = options[draw(st.integers(0, len(options) - 1))]
        steps.append(step)
        state = step.state
    return model, init, steps


@st.composite
def reachable_states(draw, model: RaftElection | None = None):
    model, init, steps = draw(walks(model))
    return model, (steps[-1].state if steps else init)


LOCAL_ACTIONS = ("Timeout", "Heartbeat", "Restart")


@st.composite
def schedules(draw, servers=(3, 5), terms=(1, 5), max_steps: int = 40):
    """``(model, init, steps)`` from a list of state-independent action descriptors.

    A descriptor names an action the same way whatever came before it — ``Timeout`` of
    server ``a``, or delivery of the ``k``-th pending message on the channel ``a -> b`` — and
    is skipped when it is not enabled. So hypothesis can delete descriptors one by one and the
    rest keep their meaning: a failing schedule shrinks to the few actions that matter.
    """
    model = RaftElection(
        servers=draw(st.integers(*servers)),
        max_term=draw(st.integers(*terms)),
        restart=draw(st.booleans()),
    )
    n = model.servers
    descriptor = st.tuples(  # (action, a, b, k)
        # "Skip" first: it is what hypothesis shrinks an unneeded descriptor to.
        st.sampled_from(
            ("Skip", "Receive", "Timeout", "Receive", "Restart", "Receive", "Heartbeat")
        ),
        st.integers(1, n),
        st.integers(1, n),
        st.integers(0, 3),
    )
    state = model.init_states()[0]
    init, steps = state, []
    for kind, a, b, k in draw(st.lists(descriptor, min_size=max_steps // 2, max_size=max_steps)):
        if kind == "Skip":
            continue
        if kind == "Receive":
            # The channel a -> b; if it is empty, anything to b; if none, anything at all.
            pending = sorted(state.net, key=model.message_key)
            channel = (
                [m for m in pending if (m.src, m.dst) == (a, b)]
                or [m for m in pending if m.dst == b]
                or pending
            )
            params = {"m": channel[k % len(channel)]} if channel else None
        else:
            params = {"s": a}
        step = find_step(model, state, kind, params) if params else None
        if step is not None:
            steps.append(step)
            state = step.state
    return model, init, steps
