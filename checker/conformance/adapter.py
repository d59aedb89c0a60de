"""The one interface between the kit and a system under test: a conformance adapter.

An adapter drives an implementation one model action at a time and shows it in the model's
terms; replay, the corpus, model-based tests and ``electkit mutate`` need nothing else:

- ``apply(action, params)`` carries out one model action (the names and parameters of the
  model's :class:`~spec.model.Step`) and returns the messages the implementation sent, as
  model messages;
- ``observe()`` returns the implementation's state as the model's JSON view
  (:meth:`~spec.model.Model.to_json`), restricted to the variables it can show: replay compares
  each of those, entry by entry, with the model's next state;
- ``close()`` releases what the adapter holds (files, processes, connections).

Optional: ``view(state)`` is what the adapter can show of a model state, in the form
``observe()`` returns (default: the model's ``to_json``); ``extra_checks(before, step)``
returns further :class:`Difference` s that the model
fixes but does not hold as variables (what a node tells its application, what it reads back
from disk). A bundle builds its adapter as ``bundle.adapter(parameters, data_root=...)``.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

MISSING, UNEXPECTED, MISMATCH = "missing message", "unexpected message", "state mismatch"
RAISED = "implementation raised"


@dataclass(frozen=True)
class Difference:
    """One field where the implementation and the model disagree."""

    kind: str  # MISSING | UNEXPECTED | MISMATCH | RAISED
    field: str
    expected: str
    actual: str

    def line(self) -> str:
        return f"{self.kind:<20} {self.field}: expected {self.expected}, actual {self.actual}"


class Adapter(Protocol):
    """A system under test, driven by model actions and seen as the model's JSON view."""

    def apply(self, action: str, params: Mapping[str, Any]) -> Iterable[Any]:
        """Carry out one model action; returns the messages sent, as model messages."""
        ...

    def observe(self) -> Mapping[str, Any]:
        """The implementation's state as (part of) the model's JSON view."""
        ...

    def close(self) -> None:
        """Release files, processes and connections."""
        ...


def default_data_root() -> str | None:
    """tmpfs when the machine has one (fsync stays on; it is just cheap there)."""
    shm = Path("/dev/shm")
    return str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
