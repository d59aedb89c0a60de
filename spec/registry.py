"""The specs electkit knows, by name."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from spec.model import Model, ModelError
from spec.raft_election import VARIANTS as RAFT_VARIANTS
from spec.raft_election import RaftElection

SPECS: dict[str, Callable[..., Model]] = {"raft_election": RaftElection}
VARIANTS: dict[str, dict[str, str]] = {"raft_election": RAFT_VARIANTS}


def build_model(spec: str, **parameters: Any) -> Model:
    """The known model ``spec`` at the given parameters.

    >>> build_model("raft_election", servers=2, max_term=1).parameters["servers"]
    2
    """
    if spec not in SPECS:
        raise ModelError(f"unknown spec {spec!r}; valid: {', '.join(SPECS)}")
    return SPECS[spec](**parameters)
