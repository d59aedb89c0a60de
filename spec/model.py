"""The model vocabulary: what a model is, and all a checker needs to know of one.

A model gives its initial states; for a state, its enabled actions, each a :class:`Step`
with a name, parameters, the next state and the messages it sends; its properties; its
symmetry (which values are interchangeable server ids); and a JSON view of a state for traces.
States are immutable and hashable. Nothing else is asked of a model author.

>>> from spec.raft_election import RaftElection
>>> model = RaftElection(servers=2, max_term=1)
>>> init = model.init_states()[0]
>>> [step.action for step in model.steps(init)]
['Timeout', 'Restart', 'Timeout', 'Restart']
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

State = Hashable
Permutation = tuple[int, ...]
"""A permutation of server ids 1..N: ``perm[s]`` is the new id of ``s`` (``perm[0]`` is 0)."""


class ModelError(Exception):
    """A model is malformed, or was asked for something it does not have."""


class ActionError(ModelError):
    """A model's action raised: carries the action's label and the exception."""

    def __init__(self, label: str, error: BaseException) -> None:
        super().__init__(f"{label} raised {type(error).__name__}: {error}")
        self.label = label
        self.error = error


@dataclass(frozen=True, slots=True)
class Step:
    """One enabled action: its name, its parameters, the state it leads to, what it sends."""

    action: str
    params: Mapping[str, Any]
    state: State
    sends: frozenset[Hashable] = field(default=frozenset())

    def label(self) -> str:
        """The action as one readable line, e.g. ``Timeout(s=1)``."""
        args = ", ".join(f"{key}={value}" for key, value in self.params.items())
        return f"{self.action}({args})"


@dataclass(frozen=True, slots=True)
class Property:
    """A named property: ``always`` (an invariant) or ``sometimes`` (a reachability witness).

    Pair every ``always`` with a ``sometimes`` so a pass can never be vacuous.
    """

    name: str
    kind: Literal["always", "sometimes"]
    holds: Callable[[State], bool]


class Model(Protocol):
    """What the checker needs of a model; every search strategy runs any model like this."""

    name: str

    @property
    def parameters(self) -> Mapping[str, Any]:
        """The bound and options, as written into trace metadata."""
        ...

    def init_states(self) -> Sequence[State]:
        """The initial states."""
        ...

    def steps(self, state: State) -> Iterator[Step]:
        """Every enabled action from ``state``, in a fixed order (self-loops included)."""
        ...

    def properties(self) -> Sequence[Property]:
        """The named properties, ``always`` and ``sometimes``."""
        ...

    def server_ids(self) -> Sequence[int]:
        """The interchangeable server ids (the symmetry); empty for none."""
        ...

    def permute(self, state: State, perm: Permutation) -> State:
        """``state`` with every server id ``s`` renamed to ``perm[s]``."""
        ...

    def to_json(self, state: State) -> dict[str, Any]:
        """The state as ITF JSON values, one key per state variable."""
        ...

    def from_json(self, value: Mapping[str, Any]) -> State:
        """The inverse of :meth:`to_json`."""
        ...

    def action_to_json(self, step: Step) -> dict[str, Any]:
        """A step's action and parameters as ITF JSON: ``{"action": ..., "params": ...}``."""
        ...


def find_step(model: Model, state: State, action: str, params: Mapping[str, Any]) -> Step | None:
    """The step of ``action`` with ``params`` from ``state``, or None when it is not enabled."""
    for step in model.steps(state):
        if step.action == action and dict(step.params) == dict(params):
            return step
    return None
