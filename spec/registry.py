"""The specs electkit knows, by name."""

from __future__ import annotations

import importlib.util
import inspect
from collections.abc import Callable
from pathlib import Path
from typing import Any

from spec.model import Model, ModelError
from spec.raft_election import VARIANTS as RAFT_VARIANTS
from spec.raft_election import RaftElection

SPECS: dict[str, Callable[..., Model]] = {"raft_election": RaftElection}
VARIANTS: dict[str, dict[str, str]] = {"raft_election": RAFT_VARIANTS}


def build_model(spec: str, **parameters: Any) -> Model:
    """The model ``spec`` at the given parameters.

    ``spec`` is a known name, or ``path/to/file.py:ClassName`` for a model of your own; a
    parameter its constructor does not take is left out.

    >>> build_model("raft_election", servers=2, max_term=1).parameters["servers"]
    2
    """
    factory = SPECS.get(spec) or _load_user_spec(spec)
    accepted = inspect.signature(factory).parameters
    takes_all = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
    kwargs = {k: v for k, v in parameters.items() if takes_all or k in accepted}
    return factory(**kwargs)


def _load_user_spec(spec: str) -> Callable[..., Model]:
    path, _, class_name = spec.rpartition(":")
    if not path.endswith(".py") or not class_name:
        raise ModelError(
            f"unknown spec {spec!r}; valid: {', '.join(SPECS)}, or path/to/file.py:ClassName"
        )
    if not Path(path).is_file():
        raise ModelError(f"spec file {path} does not exist")
    module_spec = importlib.util.spec_from_file_location(Path(path).stem, path)
    module = importlib.util.module_from_spec(module_spec)
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - user code: report, never a traceback
        raise ModelError(f"spec file {path} failed to load: {type(exc).__name__}: {exc}") from None
    factory = getattr(module, class_name, None)
    if factory is None:
        raise ModelError(f"spec file {path} has no {class_name!r}")
    return factory
