"""The model vocabulary: what a model is, and all a checker needs to know of one.

A model (Stateright's ``Model``, in Python) gives its initial states; for a state, its
enabled actions, each a :class:`Step` with a name, parameters, the next state and the
messages it sends; its named properties; and a JSON view of a state for traces. States are
immutable and hashable. Symmetry and the trace encoding of messages are optional. The full
contract, member by member, is in docs/protocols.md ("The model").

>>> class Counter(Model):
...     name = "counter"
...     def init_states(self): return [0]
...     def steps(self, n): return iter([Step("Inc", {}, n + 1)] if n < 2 else [])
...     def properties(self): return [Property("Small", "always", lambda n: n <= 2)]
...     def to_json(self, n): return {"n": n}
...     def from_json(self, value): return value["n"]
>>> [step.label() for step in Counter().steps(0)]
['Inc()']
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, is_dataclass
from dataclasses import fields as dataclass_fields
from typing import Any, Literal

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


class Model:
    """A model: subclass it and write the five required members; the rest have defaults.

    Required: ``name``, :meth:`init_states`, :meth:`steps`, :meth:`properties`,
    :meth:`to_json` and :meth:`from_json`. Everything else is optional:

    - ``parameters``: the bound and options, as written into trace metadata;
    - symmetry is opt-in: set ``symmetric = True`` and define :meth:`server_ids` and
      :meth:`permute`; a model that does not is checked without symmetry reduction;
    - messages in an action's parameters (anything that is not an int, str, bool or None)
      are written to traces by :meth:`message_to_json` (a NamedTuple's or dataclass's
      fields, by default) and read back by :meth:`message_from_json`.

    The checker, the trace writer and reader, the sampler and the viewer call nothing else.
    """

    name: str = "model"
    symmetric: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Remember the arguments a model is built with: they are its default `parameters`,
        # which traces record so that a reader can build the same model again.
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None:
            return
        signature = inspect.signature(init)

        @functools.wraps(init)
        def remembering_init(self, *args: Any, **kw: Any) -> None:
            if "_arguments" not in self.__dict__:
                bound = signature.bind(self, *args, **kw)
                bound.apply_defaults()
                self._arguments = dict(list(bound.arguments.items())[1:])
            init(self, *args, **kw)

        cls.__init__ = remembering_init  # type: ignore[method-assign]

    @property
    def parameters(self) -> Mapping[str, Any]:
        """The bound and options, as written into trace metadata: by default, the arguments
        the model was built with (its constructor's, defaults included)."""
        return dict(self.__dict__.get("_arguments", {}))

    def init_states(self) -> Sequence[State]:
        """The initial states."""
        raise NotImplementedError(f"{type(self).__name__} must define init_states()")

    def steps(self, state: State) -> Iterator[Step]:
        """Every enabled action from ``state``, in a fixed order (self-loops included)."""
        raise NotImplementedError(f"{type(self).__name__} must define steps(state)")

    def properties(self) -> Sequence[Property]:
        """The named properties, ``always`` and ``sometimes``."""
        raise NotImplementedError(f"{type(self).__name__} must define properties()")

    def to_json(self, state: State) -> dict[str, Any]:
        """The state as ITF JSON values, one key per state variable."""
        raise NotImplementedError(f"{type(self).__name__} must define to_json(state)")

    def from_json(self, value: Mapping[str, Any]) -> State:
        """The inverse of :meth:`to_json`."""
        raise NotImplementedError(f"{type(self).__name__} must define from_json(value)")

    # --- optional: symmetry --------------------------------------------------------------
    def server_ids(self) -> Sequence[int]:
        """The interchangeable ids ``1..N`` that :meth:`permute` renames (with ``symmetric``)."""
        return ()

    def permute(self, state: State, perm: Permutation) -> State:
        """``state`` with every id ``s`` renamed to ``perm[s]`` (with ``symmetric``)."""
        raise NotImplementedError(f"{type(self).__name__} is not symmetric")

    # --- optional: how actions and messages are written to traces --------------------------
    def message_to_json(self, m: Any) -> Any:
        """A message as ITF JSON: by default its fields, those that are None left out."""
        return record_to_json(m)

    def message_from_json(self, value: Any) -> Any:
        """The inverse of :meth:`message_to_json`."""
        raise NotImplementedError(
            f"{type(self).__name__} must define message_from_json to read traces with messages"
        )

    def message_key(self, m: Any) -> Any:
        """A sort key that orders messages the same way in every run (for determinism)."""
        return repr(m)

    def messages_to_json(self, messages: Iterable[Any]) -> list:
        """Messages as ITF JSON, in :meth:`message_key` order."""
        return [self.message_to_json(m) for m in sorted(messages, key=self.message_key)]

    def action_to_json(self, step: Step) -> dict[str, Any]:
        """A step's action and parameters: ``{"action": ..., "params": ...}``."""
        params = {
            k: v if _is_scalar(v) else self.message_to_json(v) for k, v in step.params.items()
        }
        return {"action": step.action, "params": params}

    def action_from_json(self, value: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """The inverse of :meth:`action_to_json`: ``(action name, parameters)``."""
        params = {
            k: v if _is_scalar(v) else self.message_from_json(v)
            for k, v in dict(value.get("params", {})).items()
        }
        return value["action"], params

    def describe(self, m: Any) -> str:
        """A message in one short line, for tables and pages."""
        return str(m)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, int | str | bool)


def record_to_json(value: Any) -> Any:
    """An ITF value for a Python value: NamedTuples and dataclasses as records (fields that
    are None left out), frozensets as ``#set``, tuples as ``#tup``, dicts as ``#map``.

    >>> from typing import NamedTuple
    >>> class Ping(NamedTuple):
    ...     src: int
    ...     dst: int
    ...     seen: frozenset = frozenset()
    >>> record_to_json(Ping(1, 2, frozenset({3})))
    {'src': 1, 'dst': 2, 'seen': {'#set': [3]}}
    """
    if _is_scalar(value):
        return value
    if hasattr(value, "_asdict"):
        fields = value._asdict()
    elif is_dataclass(value) and not isinstance(value, type):
        fields = {f.name: getattr(value, f.name) for f in dataclass_fields(value)}
    elif isinstance(value, frozenset | set):
        return {"#set": sorted((record_to_json(x) for x in value), key=_json_key)}
    elif isinstance(value, tuple | list):
        return {"#tup": [record_to_json(x) for x in value]}
    elif isinstance(value, Mapping):
        return {
            "#map": sorted(
                ([record_to_json(k), record_to_json(v)] for k, v in value.items()), key=_json_key
            )
        }
    else:
        raise ModelError(
            f"cannot write {value!r} ({type(value).__name__}) as ITF JSON: use ints, strings, "
            "bools, None, tuples, frozensets, NamedTuples or dataclasses, or override to_json"
        )
    return {k: record_to_json(v) for k, v in fields.items() if v is not None}


def record_from_json(value: Any) -> Any:
    """The Python value of an ITF value, the inverse of :func:`record_to_json` except that a
    record comes back as a dict (its type is the caller's to know).

    >>> record_from_json({"#set": [1, 2]}) == frozenset({1, 2})
    True
    """
    if isinstance(value, list):
        return tuple(record_from_json(x) for x in value)
    if not isinstance(value, dict):
        return value
    if "#set" in value:
        return frozenset(record_from_json(x) for x in value["#set"])
    if "#tup" in value:
        return tuple(record_from_json(x) for x in value["#tup"])
    if "#map" in value:
        return {record_from_json(k): record_from_json(v) for k, v in value["#map"]}
    if value.get("tag") == "None" and set(value) == {"tag", "value"}:
        return None
    if value.get("tag") == "Some" and set(value) == {"tag", "value"}:
        return record_from_json(value["value"])
    return {k: record_from_json(v) for k, v in value.items()}


def _json_key(value: Any) -> str:
    import json

    return json.dumps(value, sort_keys=True)


def find_step(model: Model, state: State, action: str, params: Mapping[str, Any]) -> Step | None:
    """The step of ``action`` with ``params`` from ``state``, or None when it is not enabled."""
    for step in model.steps(state):
        if step.action == action and dict(step.params) == dict(params):
            return step
    return None
