"""Liveness and possibility properties: what a model may offer beyond ``always``/``sometimes``.

A model offers them through an optional method ``liveness_properties()`` returning a sequence
of the values below; a checker that finds no such method checks none. They are plain frozen
values: a name, predicates over states, and the fairness under which a property is meant.

- :class:`Eventually`: every fair behaviour from an initial state reaches a ``goal`` state.
- :class:`LeadsTo`: every fair behaviour that reaches a ``p`` state reaches a ``q`` state then
  or later (``p ~> q``).
- :class:`AlwaysPossibly`: from every reachable state where ``where`` holds, some ``goal``
  state can still be reached (no fairness: it is about what the model allows).

Behaviours are the infinite paths of the state graph: there is no stuttering step except at a
state where nothing is enabled, where a behaviour stays forever (as in Spin and Stateright,
not as in TLC, which allows stuttering everywhere and so fails every ``Eventually`` without
fairness). A model that means every step to be a real event writes its waits as self-loops.

:class:`Fairness` names an action by its name (``Step.action``). ``weak``: an action enabled
forever from some point on is taken infinitely often; ``strong``: an action enabled infinitely
often is taken infinitely often. With ``each=True`` (the default) the rule applies to every
instance (every parameter value, e.g. every message of ``Receive``) on its own, as TLA+'s
``\\A m: WF(Receive(m))``; with ``each=False`` to the action as one, as ``WF(\\E m: Receive(m))``:
then taking any instance counts, and one message may be ignored forever.

>>> Eventually("Done", goal=lambda s: s == 3, fairness=(weak("Tick"),)).fairness[0].kind
'weak'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Predicate = Callable[[Any], bool]


@dataclass(frozen=True)
class Fairness:
    """``weak`` or ``strong`` fairness of the action called ``action``."""

    kind: Literal["weak", "strong"]
    action: str
    each: bool = True

    def __post_init__(self) -> None:
        if self.kind not in ("weak", "strong"):
            raise ValueError(f"fairness must be 'weak' or 'strong', got {self.kind!r}")

    def __str__(self) -> str:
        scope = "" if self.each else " as one action"
        return f"{self.kind} fairness of {self.action}{scope}"


def weak(action: str, each: bool = True) -> Fairness:
    """Weak fairness of ``action``: WF."""
    return Fairness("weak", action, each)


def strong(action: str, each: bool = True) -> Fairness:
    """Strong fairness of ``action``: SF."""
    return Fairness("strong", action, each)


@dataclass(frozen=True)
class Eventually:
    """Every fair behaviour reaches a ``goal`` state."""

    name: str
    goal: Predicate
    fairness: Sequence[Fairness] = field(default=())


@dataclass(frozen=True)
class LeadsTo:
    """Every fair behaviour that reaches a ``p`` state reaches a ``q`` state then or later."""

    name: str
    p: Predicate
    q: Predicate
    fairness: Sequence[Fairness] = field(default=())


@dataclass(frozen=True)
class AlwaysPossibly:
    """From every reachable state where ``where`` holds, a ``goal`` state is reachable."""

    name: str
    goal: Predicate
    where: Predicate = field(default=lambda state: True)


LivenessProperty = Eventually | LeadsTo | AlwaysPossibly
