"""Random simulation: walks of bounded depth from the initial states, checking every property.

Where an exhaustive search cannot finish, random walks still find many bugs (TLC's
``-simulate``, Quint's ``run``). Walk ``i`` draws its choices from its own generator, seeded
by ``(seed, i)`` through SHA-512 (Python's ``random`` seeded with a string), so a walk is the
same whatever the number of walks, the process or ``PYTHONHASHSEED``; it relies on the
model's contract that ``steps(state)`` lists the enabled actions in a fixed order.

Each step is drawn uniformly among the enabled steps that change the state (self-loops are
skipped: they add nothing to a walk); a walk ends at its depth bound, at a state where
nothing changes, or at the first state that violates an ``always`` property, which is then
the end of the walk's trace: a real path of the model's own steps.

Coverage: the distinct states seen (by a 64-bit xxh3 fingerprint of the state's JSON view,
as the generic kernel stores them: concrete states, no symmetry reduction), how often each
action was fired, the ``sometimes`` properties witnessed, and an estimate of how many states
the walks could reach (:func:`estimate_states`, see docs/checker.md "Simulation").

>>> from spec.model import Model, Property, Step
>>> class Counter(Model):
...     name = "counter"
...     def init_states(self): return [0]
...     def steps(self, n):
...         return iter([Step("Inc", {}, n + 1), Step("Dec", {}, n - 1)] if -5 < n < 5 else [])
...     def properties(self):
...         return [Property("Small", "always", lambda n: n < 4),
...                 Property("Moved", "sometimes", lambda n: n != 0)]
...     def to_json(self, n): return {"n": n}
...     def from_json(self, value): return value["n"]
>>> sim = simulate(Counter(), walks=50, depth=20, seed=1)
>>> sim.verdict, sim.property, sim.witnessed
('violation', 'Small', ['Moved'])
>>> v = sim.violations[0]
>>> [step.state for step in v.path][-1], len(v.path) <= 20
(4, True)
>>> v.path == walk(Counter(), seed=1, index=v.walk, depth=20).path[: len(v.path)]
True
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter as Tally
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import xxhash

from spec.actor import action_kind
from spec.model import Model, ModelError, Property, State, Step

__all__ = ["Estimate", "Simulation", "Violation", "Walk", "estimate_states", "simulate", "walk"]


@dataclass(frozen=True)
class Estimate:
    """How much of the state space the walks saw, estimated from how often states recurred.

    ``singletons``/``doubletons``: states seen by exactly one / exactly two walks;
    ``states``: the bias-corrected Chao2 estimate of the distinct states the walks can reach;
    ``fraction``: observed / estimated; ``sample_coverage``: Good–Turing's estimate of the
    share of visits (not of states) that land on a state already seen.
    """

    walks: int
    observed: int
    singletons: int
    doubletons: int
    states: float
    fraction: float
    sample_coverage: float


def estimate_states(walks_per_state: Iterable[int], walks: int) -> Estimate:
    """The Chao2 and Good–Turing estimates from how many walks saw each distinct state.

    >>> e = estimate_states([1, 1, 1, 2, 2, 3], walks=4)
    >>> e.observed, e.singletons, e.doubletons, round(e.states, 2), round(e.fraction, 2)
    (6, 3, 2, 6.75, 0.89)
    >>> round(e.sample_coverage, 2)
    0.7
    >>> estimate_states([4, 4], walks=4).fraction  # every state in every walk: all seen
    1.0
    """
    counts = Tally(walks_per_state)
    observed = sum(counts.values())
    q1, q2 = counts.get(1, 0), counts.get(2, 0)
    incidences = sum(k * n for k, n in counts.items())
    m = max(walks, 1)
    # Bias-corrected Chao2 (Chao 1987; Chao et al. 2005): finite when no state was seen twice.
    states = observed + (m - 1) / m * q1 * (q1 - 1) / (2 * (q2 + 1))
    return Estimate(
        walks=walks,
        observed=observed,
        singletons=q1,
        doubletons=q2,
        states=states,
        fraction=observed / states if states else 1.0,
        sample_coverage=1 - q1 / incidences if incidences else 0.0,
    )


@dataclass
class Walk:
    """One walk: where it started, its steps, and the property it violated at its end (if any)."""

    index: int
    init: State
    path: list[Step]
    violated: list[str] = field(default_factory=list)


@dataclass
class Violation:
    """A violated ``always`` property and the walk that violated it (at its last state)."""

    property: str
    walk: int
    init: State
    path: list[Step]


@dataclass
class Simulation:
    """What a simulation found and saw."""

    verdict: str  # "ok" | "violation" | "interrupted"
    property: str | None
    violations: list[Violation]
    seed: int
    depth_bound: int
    walks: int  # walks done
    steps: int  # steps taken, every walk summed
    generated: int  # successors listed at every visited state (self-loops included)
    longest: int  # the longest walk, in steps
    stuck: int  # walks that ended before the bound: nothing left that changes the state
    distinct_states: int
    fired: dict[str, int]
    checked: list[str]
    witnessed: list[str]
    unwitnessed: list[str]
    estimate: Estimate
    seconds: float


def walk(
    model: Model,
    seed: int,
    index: int,
    depth: int,
    *,
    check: Callable[[State], list[str]] | None = None,
    visit: Callable[[State], None] | None = None,
    listed: Callable[[list[Step]], None] | None = None,
) -> Walk:
    """Walk ``index`` of ``seed``: up to ``depth`` random steps from an initial state.

    ``check(state)`` returns the properties the state violates (the walk ends there);
    ``visit(state)`` sees each state of the walk, the initial one included; ``listed(steps)``
    sees the steps enabled at each state the walk goes on from (the step taken is the walk's
    next).
    """
    rng = random.Random(f"electkit-walk/{seed}/{index}")
    inits = model.init_states()
    if not inits:
        raise ModelError(f"{type(model).__name__}.init_states() gave no state to walk from")
    state = inits[rng.randrange(len(inits))]
    taken = Walk(index, state, [])
    while True:
        if visit is not None:
            visit(state)
        if check is not None:
            taken.violated = check(state)
            if taken.violated:
                return taken
        if len(taken.path) >= depth:
            return taken
        try:
            enabled = list(model.steps(state))
        except ModelError as exc:
            where = " ; ".join(step.label() for step in taken.path) or "(an initial state)"
            raise ModelError(f"{exc}, in walk {index} of seed {seed}, after: {where}") from None
        if listed is not None:
            listed(enabled)
        moving = [step for step in enabled if step.state != state]
        if not moving:
            return taken
        step = moving[rng.randrange(len(moving))]
        taken.path.append(step)
        state = step.state


def simulate(
    model: Model,
    walks: int,
    depth: int,
    seed: int,
    *,
    properties: frozenset[str] | None = None,
    keep_going: bool = False,
    on_progress: Callable[[int, int, float], None] | None = None,
    progress_every: float = 0.5,
) -> Simulation:
    """Run ``walks`` random walks of at most ``depth`` steps, checking every ``always``
    property (or those named in ``properties``) on every state visited.

    Stops at the first violation, or with ``keep_going`` records the first walk to violate
    each property and goes on until every checked property is violated or the walks are done.
    ``on_progress(walks done, distinct states, seconds)`` is called about every
    ``progress_every`` seconds. Ctrl-C stops the walks and returns what was seen, with
    verdict ``"interrupted"``. A pass is evidence, never a proof: unvisited states may break
    a property.
    """
    if walks < 1 or depth < 0:
        raise ValueError(f"walks must be >= 1 and depth >= 0, got {walks} and {depth}")
    start = time.perf_counter()
    props = model.properties()
    always = [
        p for p in props if p.kind == "always" and (properties is None or p.name in properties)
    ]
    sometimes = [p for p in props if p.kind == "sometimes"]
    names = {p.name for p in always}
    checked = [p.name for p in props if p.kind == "sometimes" or p.name in names]
    witnessed: set[str] = set()
    found: dict[str, Violation] = {}
    walks_per_state: dict[int, int] = {}
    fired: Tally[str] = Tally()
    totals = {"steps": 0, "generated": 0, "longest": 0, "stuck": 0}
    in_this_walk: set[int] = set()

    def visit(state: State) -> None:
        key = _fingerprint(model, state)
        if key not in in_this_walk:
            in_this_walk.add(key)
            walks_per_state[key] = walks_per_state.get(key, 0) + 1
        for p in sometimes:
            if p.name not in witnessed and p.holds(state):
                witnessed.add(p.name)

    def check(state: State) -> list[str]:
        return _violated(always, state)

    def listed(enabled: list[Step]) -> None:
        totals["generated"] += len(enabled)

    done, interrupted = 0, False
    next_report = start + progress_every
    try:
        for index in range(walks):
            in_this_walk.clear()
            taken = walk(model, seed, index, depth, check=check, visit=visit, listed=listed)
            done += 1
            fired.update(action_kind(step) for step in taken.path)
            totals["steps"] += len(taken.path)
            totals["longest"] = max(totals["longest"], len(taken.path))
            if not taken.violated and len(taken.path) < depth:
                totals["stuck"] += 1
            for name in taken.violated if keep_going else taken.violated[:1]:
                found.setdefault(name, Violation(name, index, taken.init, taken.path))
            if found and (not keep_going or len(found) == len(always)):
                break
            if on_progress is not None and time.perf_counter() >= next_report:
                next_report = time.perf_counter() + progress_every
                on_progress(done, len(walks_per_state), time.perf_counter() - start)
    except KeyboardInterrupt:
        interrupted = True
    violations = sorted(found.values(), key=lambda v: (v.walk, checked.index(v.property)))
    verdict = "interrupted" if interrupted else ("violation" if violations else "ok")
    return Simulation(
        verdict=verdict,
        property=violations[0].property if violations else None,
        violations=violations,
        seed=seed,
        depth_bound=depth,
        walks=done,
        steps=totals["steps"],
        generated=totals["generated"],
        longest=totals["longest"],
        stuck=totals["stuck"],
        distinct_states=len(walks_per_state),
        fired=dict(sorted(fired.items())),
        checked=checked,
        witnessed=[p.name for p in sometimes if p.name in witnessed],
        unwitnessed=[p.name for p in sometimes if p.name not in witnessed],
        estimate=estimate_states(walks_per_state.values(), done),
        seconds=time.perf_counter() - start,
    )


def _violated(always: list[Property], state: State) -> list[str]:
    return [p.name for p in always if not p.holds(state)]


def _fingerprint(model: Model, state: Any) -> int:
    text = json.dumps(model.to_json(state), sort_keys=True, separators=(",", ":"))
    return xxhash.xxh3_64_intdigest(text.encode())
