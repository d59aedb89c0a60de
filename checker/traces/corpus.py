"""Random walks, what a trace covers, and the pieces every protocol's corpus is built from.

A protocol's regression corpus (its bundle's ``corpus``) is made of:

- the shortest counterexample of each faulty variant (:func:`variant_trace`), marked
  ``expect: diverges`` at ``expect_step``, the first step where the variant departs from the
  correct model (where a correct implementation must refuse to follow);
- random walks of the correct model kept while they add coverage (:func:`covering_walks`),
  marked ``expect: conforms``.
"""

from __future__ import annotations

import random
from pathlib import Path

from checker.protocols.bundle import Bundle
from checker.search.explore import explore
from checker.traces.itf import Trace, write_trace
from spec.actor import action_kind, message_kind
from spec.model import Model, find_step


def default_features(trace: Trace) -> set[str]:
    """What any trace exercises: its action kinds and the kinds of message it sends."""
    found: set[str] = set()
    for step in trace.steps:
        found.add(f"action {action_kind(step)}")
        found |= {f"send {message_kind(m)}" for m in step.sends}
    return found


def features_of(bundle: Bundle, trace: Trace) -> set[str]:
    """What ``trace`` exercises, as its protocol counts it."""
    counter = bundle.corpus.features if bundle.corpus and bundle.corpus.features else None
    return (counter or default_features)(trace)


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


def departure_step(bundle: Bundle, trace: Trace) -> int | None:
    """The first step where the trace's (variant) model does what the correct model would not."""
    params = dict(trace.model.parameters)
    if not params.get("variant"):
        return None
    correct = bundle.build(**{**params, "variant": None})
    state = trace.init
    for index, step in enumerate(trace.steps, start=1):
        honest = find_step(correct, state, step.action, step.params)
        if honest is None or honest.state != step.state or honest.sends != step.sends:
            return index
        state = step.state
    return None


def variant_trace(bundle: Bundle, variant: str, **parameters) -> Trace:
    """The shortest counterexample of ``variant`` to the bundle's headline property, marked to
    diverge where it departs from the correct model."""
    headline = bundle.gate.headline
    model = bundle.build(**parameters, variant=variant)
    result = explore(model, symmetry=model.symmetric, properties=frozenset({headline}))
    if result.verdict != "violation":
        raise ValueError(f"variant {variant} holds at {parameters}")
    trace = Trace(model, result.init_state, result.path, {})
    trace.meta = {
        "property": headline,
        "verdict": "violation",
        "expect": "diverges",
        "expect_step": departure_step(bundle, trace),
        "description": f"shortest counterexample to {headline} of the faulty variant "
        f"{variant}; a correct implementation must refuse the step where the variant departs "
        "from the correct model",
    }
    return trace


def covering_walks(bundle: Bundle, seed: int = 2026, attempts: int = 2000) -> list[Trace]:
    """Random walks of the correct model, kept while they add a feature, until the bundle's
    required features are all covered."""
    corpus = bundle.corpus
    rng = random.Random(seed)
    chosen: list[Trace] = []
    covered: set[str] = set()
    for _ in range(attempts):
        model = bundle.build(**corpus.draw(rng))
        walk = random_walk(model, rng.randint(10, 40), rng)
        found = features_of(bundle, walk)
        new = found - covered
        if new & corpus.required:
            covered |= found
            walk.meta = {
                "verdict": "sample",
                "expect": "conforms",
                "description": "random walk of the correct model; adds coverage of: "
                + ", ".join(sorted(new & corpus.required)),
            }
            chosen.append(walk)
        if corpus.required <= covered:
            return chosen
    missing = ", ".join(sorted(corpus.required - covered))
    raise ValueError(f"{attempts} walks did not cover: {missing}")


def write_walks(walks: list[Trace], folder: Path) -> list[Path]:
    """Write walks as ``walk-01-<parameters>.itf.json`` ... under ``folder``."""
    written = []
    for index, walk in enumerate(walks, start=1):
        bound = "-".join(
            f"{k}{v}"
            for k, v in walk.model.parameters.items()
            if isinstance(v, int) and not isinstance(v, bool)
        )
        written.append(write_trace(walk, folder / f"walk-{index:02d}-{bound}.itf.json"))
    return written
