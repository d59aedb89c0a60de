"""Protocol bundles by name: the kit's own, and a user's from a Python file.

The kit's bundles are imported only when named, so a slow import never slows the others. A
user's protocol comes from the command line, ``--spec path/to/file.py:NAME``, where NAME is a
:class:`~checker.protocols.bundle.Bundle` or a model class (a bundle is then derived from its
constructor's signature). Loading runs the file's code, so a trace file can never do it: a
trace names a protocol, and an unknown one is refused.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from checker.errors import ElectkitError
from checker.protocols.bundle import Bundle, Param
from spec.model import Model, ModelError

KIT_BUNDLES: dict[str, str] = {
    "raft_election": "checker.protocols.raft_election.bundle",
    "lease_election": "checker.protocols.lease_election.bundle",
}
DEFAULT = "raft_election"

_loaded: dict[str, Bundle] = {}
_users: dict[str, str] = {}  # name -> the --spec that loaded a bundle from a user's file
_user_bundles: list[Bundle] = []  # every bundle loaded from a user's file


def known() -> list[str]:
    """The names of every protocol known in this run, the kit's first."""
    return list(KIT_BUNDLES) + sorted(set(_loaded) - set(KIT_BUNDLES))


def bundle_named(name: str) -> Bundle:
    """The bundle called ``name``; ElectkitError lists the known ones.

    >>> bundle_named("raft_election").gate.headline
    'ElectionSafety'
    """
    if name in _loaded:
        return _loaded[name]
    if name not in KIT_BUNDLES:
        raise ElectkitError(
            f"unknown protocol {name!r}; known: {', '.join(known())} (a protocol of your own: "
            "--spec path/to/file.py:NAME)"
        )
    bundle = importlib.import_module(KIT_BUNDLES[name]).BUNDLE
    _loaded[name] = bundle
    return bundle


def is_users(bundle: Bundle) -> bool:
    """Whether ``bundle`` came from a user's file (its failures are the user's, exit 2)."""
    return any(bundle is mine for mine in _user_bundles)


def resolve(spec: str) -> Bundle:
    """The bundle for ``--spec``: a known name, or ``path/to/file.py:NAME`` (then known by its
    own name for the rest of the run, so traces naming it can be read; a model that keeps the
    name of one of the kit's, such as a subclass of the kit's model, runs but does not take
    its place when traces are read)."""
    if ":" not in spec or not spec.rpartition(":")[0].endswith(".py"):
        return bundle_named(spec)
    bundle = _load_user_bundle(spec)
    _user_bundles.append(bundle)
    if bundle.name in KIT_BUNDLES:
        return bundle
    _loaded[bundle.name] = bundle
    _users[bundle.name] = spec
    return bundle


def spec_option(name: str) -> str:
    """``--spec FILE.py:NAME `` for a protocol of the user's (what a rerun command needs)."""
    return f"--spec {_users[name]} " if name in _users else ""


@contextlib.contextmanager
def user_model_errors(bundle: Bundle) -> Iterator[None]:
    """Inside: a failure of a user's model becomes one clear line (exit 2). A failure of one of
    the kit's own models is a bug of electkit's, left to the CLI's internal-error report."""
    try:
        yield
    except (ModelError, ElectkitError, ConnectionError):
        raise
    except Exception as exc:
        if not is_users(bundle):
            raise
        raise ElectkitError(
            f"{bundle.name}: the model raised {type(exc).__name__}: {exc}"
        ) from None


def _load_user_bundle(spec: str) -> Bundle:
    path, _, attribute = spec.rpartition(":")
    if not Path(path).is_file():
        raise ElectkitError(f"--spec: file {path} does not exist")
    folder = str(Path(path).resolve().parent)
    if folder not in sys.path:  # so that the file can import its siblings (model, adapter)
        sys.path.insert(0, folder)
    module_name = f"electkit_user_{Path(path).stem}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module  # dataclasses look their module up while being built
    try:
        module_spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code: report, never a traceback
        raise ElectkitError(f"--spec: {path} failed to load: {type(exc).__name__}: {exc}") from None
    target = getattr(module, attribute, None)
    if target is None:
        raise ElectkitError(f"--spec: {path} has no {attribute!r}")
    if isinstance(target, Bundle):
        return target
    if isinstance(target, type) and issubclass(target, Model):
        return bundle_of_class(target)
    missing = [
        m
        for m in ("init_states", "steps", "properties", "to_json", "from_json")
        if not callable(getattr(target, m, None))
    ]
    what = f"it has no {missing[0]}()" if missing else "it does not subclass spec.model.Model"
    raise ElectkitError(
        f"{spec} is not a model: {what} (a model subclasses spec.model.Model or "
        "spec.actor.ActorModel, or NAME is a checker.protocols.bundle.Bundle; see "
        "docs/protocols.md)"
    )


def bundle_of_class(model_class: type[Model]) -> Bundle:
    """A bundle for a model class alone: its parameters from its constructor's signature.

    >>> from spec.model import Model
    >>> class Toy(Model):
    ...     name = "toy"
    ...     def __init__(self, size: int = 2, loud: bool = False): ...
    >>> [p.describe() for p in bundle_of_class(Toy).params]
    ['size (int, default 2): size', 'loud (bool, default false): loud']
    """
    params = []
    for p in inspect.signature(model_class).parameters.values():
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        default = None if p.default is p.empty else p.default
        kind = _annotation_type(p.annotation, default)
        params.append(Param(p.name, kind, default, p.name, optional=default is None))
    name = getattr(model_class, "name", None)
    if not isinstance(name, str) or not name or name == "model":
        raise ElectkitError(
            f"{model_class.__name__} needs a `name` of its own (a class attribute, e.g. "
            f'name = "{model_class.__name__.lower()}"): traces are filed under it'
        )
    summary = (inspect.getdoc(model_class) or name).splitlines()[0]
    return Bundle(name, summary, model_class, tuple(params))


def _annotation_type(annotation: Any, default: Any) -> type:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    for kind in (bool, int, float, str):
        if text == kind.__name__ or text.startswith(kind.__name__ + " |"):
            return kind
    if default is not None:
        return type(default)
    return str
