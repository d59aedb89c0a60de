"""The generic kernel: any :class:`~spec.model.Model`, run through its own ``steps``.

States are stored as 64-bit xxh3 fingerprints of their JSON view (as TLC stores
fingerprints), so the probability that two distinct states collide is reported with the
result. Slower than the compiled kernel, but it needs nothing from the model beyond the
vocabulary, and it serves as the independent reference the compiled kernel is tested against.
"""

from __future__ import annotations

import json
from collections.abc import Hashable

import xxhash

from spec.actor import action_kind
from spec.model import ActionError, Model, ModelError


class GenericKernel:
    """Successors, properties and canonical forms straight from the model's methods."""

    exact = False

    def __init__(
        self, model: Model, symmetric: bool = False, only: frozenset[str] | None = None
    ) -> None:
        self.model = model
        self.symmetric = symmetric
        self.action_labels: list[str] = []
        self._action_ids: dict[str, int] = {}
        self._fired: list[int] = []
        props = model.properties()
        self._always = [
            (p.name, p.holds)
            for p in props
            if p.kind == "always" and (only is None or p.name in only)
        ]
        self._sometimes = [(p.name, p.holds) for p in props if p.kind == "sometimes"]
        self.witnessed: set[str] = set()
        self._perms = _permutations(model) if symmetric else []
        for state in model.init_states():
            _check_hashable(state, "an initial state")
        self.init = [self.canonical(s) if symmetric else s for s in model.init_states()]

    def expand(self, state: Hashable) -> list[tuple[int, Hashable]]:
        out = []
        for step in self.model.steps(state):
            label = action_kind(step)
            aid = self._action_ids.get(label)
            if aid is None:
                aid = self._action_ids[label] = len(self.action_labels)
                self.action_labels.append(label)
                self._fired.append(0)
            self._fired[aid] += 1
            _check_hashable(step.state, step.label())
            if step.state != state:
                out.append((aid, step.state))
        return out

    def fired_counts(self) -> list[int]:
        return list(self._fired)

    def violates(self, state: Hashable) -> bool:
        for name, holds in self._sometimes:
            if name not in self.witnessed and holds(state):
                self.witnessed.add(name)
        return not all(holds(state) for _, holds in self._always)

    def serialize(self, state: Hashable) -> str:
        return json.dumps(self.model.to_json(state), sort_keys=True, separators=(",", ":"))

    def fingerprint(self, state: Hashable) -> int:
        return xxhash.xxh3_64_intdigest(self.serialize(state).encode())

    def canonical(self, state: Hashable) -> Hashable:
        """The member of the orbit of ``state`` whose JSON view sorts first (exact)."""
        if not self._perms:
            return state
        return min((self.model.permute(state, perm) for perm in self._perms), key=self.serialize)

    def encode(self, state: Hashable) -> Hashable:
        return state

    def decode(self, state: Hashable) -> Hashable:
        return state


def _check_hashable(state: Hashable, what: str) -> None:
    try:
        hash(state)
    except TypeError as exc:
        raise ActionError(
            what,
            ModelError(
                f"a state that is not hashable ({exc}); build states from tuples, "
                "frozensets and frozen dataclasses"
            ),
        ) from None


def _permutations(model: Model):
    from itertools import permutations

    return [(0, *p) for p in permutations(model.server_ids())]
