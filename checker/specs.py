"""Models by name: the known specs, or a model class of the user's from a Python file.

Loading a user's file runs its code, so only the command line does it (``--spec
path/to/file.py:ClassName``); a trace file can name only a known spec.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from checker.errors import ElectkitError
from spec.model import Model, ModelError
from spec.registry import SPECS, build_model


def load_model(spec: str, defaults: dict[str, Any] | None = None, **parameters: Any) -> Model:
    """The model ``spec`` (a known name or ``file.py:Class``) at the given parameters.

    A user's class gets the parameters its constructor takes; one it does not take may only
    keep its default value (from ``defaults``): setting it would be silently ignored.
    """
    if spec in SPECS:
        return build_model(spec, **parameters)
    factory = _load_user_spec(spec)
    accepted = inspect.signature(factory).parameters
    takes_all = any(p.kind is p.VAR_KEYWORD for p in accepted.values())
    defaults = defaults or {}
    for key, value in parameters.items():
        if not (takes_all or key in accepted) and value != defaults.get(key):
            raise ModelError(f"{spec} does not take the parameter {key!r} (given {value!r})")
    kwargs = {k: v for k, v in parameters.items() if takes_all or k in accepted}
    return factory(**kwargs)


@contextlib.contextmanager
def user_model_errors(spec: str) -> Iterator[None]:
    """Inside: a failure of a user's model becomes one clear line (exit 2). A failure of one of
    electkit's own models is a bug of electkit's, and is left to the CLI's internal-error
    report; electkit's own errors pass through unchanged."""
    try:
        yield
    except (ModelError, ElectkitError, ConnectionError):
        raise
    except Exception as exc:
        if spec in SPECS:
            raise
        raise ElectkitError(
            f"--spec {spec}: the model raised {type(exc).__name__}: {exc}"
        ) from None


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
    for method in ("init_states", "steps", "properties", "to_json"):
        if not callable(getattr(factory, method, None)):
            raise ModelError(
                f"{spec} is not a model: it has no {method}() (see spec/model.py for what a "
                "model provides)"
            )
    return factory
