"""Hypothesis strategies over the models: random reachable states by random walks."""

from __future__ import annotations

from hypothesis import strategies as st

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
