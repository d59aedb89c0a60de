"""Choosing a kernel for a model, and checking that the model's symmetry is sound.

A kernel turns a model into what the search loops need: initial states, ``expand(state) ->
[(action id, successor)]``, ``violates(state)``, and keys. Actor models are compiled into
tables over packed integers (compiled.py); any other model runs through its own methods
(generic.py).
"""

from __future__ import annotations

from collections import deque
from itertools import islice

from checker.search.compiled import compile_actor_model
from checker.search.generic import GenericKernel
from checker.search.state import SearchError
from spec.actor import ActorModel
from spec.model import ActionError, Model, ModelError

MAX_SYMMETRIC_IDS = 5  # symmetry tables hold N! renamings: 120 at N=5, 720 (slow) at N=6
SYMMETRY_SAMPLE = 60  # states whose successors are checked against their renamings


class AsymmetricModel(ModelError):
    """A model that declares symmetry, but whose steps or properties tell ids apart."""


def make_kernel(
    model: Model, symmetric: bool, generic: bool = False, only: frozenset[str] | None = None
):
    """The fastest kernel that runs ``model``: compiled for actor models, generic otherwise.

    If compiling fails (a handler raises, or returns something unhashable, on some local
    state), the generic kernel runs instead: it meets the failure, if it is reachable, at a
    real state, where it can be reported with the path that leads there.
    """
    if isinstance(model, ActorModel) and not generic:
        try:
            return compile_actor_model(model, symmetric, only)
        except Exception:  # noqa: BLE001 - any failure of model code: let the search find it
            pass
    try:
        return GenericKernel(model, symmetric, only)
    except ActionError as exc:
        raise SearchError(f"{exc} (in an initial state)") from None


def symmetry_applies(model: Model, wanted: bool) -> bool:
    """Whether to reduce by symmetry: wanted, and declared by the model (``symmetric``);
    ModelError if the model's ids are too many for it."""
    if not (wanted and getattr(model, "symmetric", False)):
        return False
    ids = len(model.server_ids())
    if ids > MAX_SYMMETRIC_IDS:
        raise ModelError(
            f"symmetry reduction renames ids in all {ids}! ways; it is built for at most "
            f"{MAX_SYMMETRIC_IDS} ids (add --no-symmetry)"
        )
    return ids > 1


def check_symmetry(model: Model) -> None:
    """ModelError unless renaming ids commutes with the model's steps and properties, on the
    first states of a breadth-first walk (a sample, not a proof).

    The swaps of id 1 with each other id generate every renaming, so they suffice: if each
    commutes with taking a step, so does every renaming.
    """
    ids = list(model.server_ids())
    swaps = []
    for other in ids[1:]:
        perm = list(range(max(ids) + 1))
        perm[ids[0]], perm[other] = other, ids[0]
        swaps.append(tuple(perm))
    try:
        _check_swaps(model, swaps)
    except AsymmetricModel:
        raise
    except Exception:  # noqa: BLE001 - the model fails (a handler raises, a state is not
        pass  # hashable): the search meets the failure and reports it with its path


def _check_swaps(model: Model, swaps: list[tuple[int, ...]]) -> None:
    properties = model.properties()
    frontier, seen = list(model.init_states()), set(model.init_states())
    for state in islice(_breadth_first(model, frontier, seen), SYMMETRY_SAMPLE):
        successors = {step.state for step in model.steps(state)}
        for perm in swaps:
            renamed = model.permute(state, perm)
            if {model.permute(s, perm) for s in successors} != {
                step.state for step in model.steps(renamed)
            }:
                raise AsymmetricModel(
                    _asymmetric(model, perm, "the steps from a state and from its renaming differ")
                )
            for prop in properties:
                if prop.holds(state) != prop.holds(renamed):
                    raise AsymmetricModel(
                        _asymmetric(model, perm, f"{prop.name} tells a state from its renaming")
                    )


def _breadth_first(model: Model, frontier: list, seen: set):
    queue = deque(frontier)
    while queue:
        state = queue.popleft()
        yield state
        for step in model.steps(state):
            if step.state not in seen:
                seen.add(step.state)
                queue.append(step.state)


def _asymmetric(model: Model, perm: tuple[int, ...], why: str) -> str:
    a = next(s for s in range(1, len(perm)) if perm[s] != s)
    return (
        f"{model.name} is not symmetric in its ids: swapping {a} and {perm[a]}, {why} (fix "
        "permute, or set symmetric = False, or run with --no-symmetry)"
    )
