"""What a protocol brings to the kit: its model, parameters and optional hooks, in one object.

A :class:`Bundle` is all the generic modules of checker/ know of a protocol (TLC's ``ITool``,
Stateright's ``Model`` plus its test harness). Only ``name``, ``summary`` and ``model`` are
required; each other member has a default that does without it:

- ``params``: the model's parameters, typed and bounded, set on the command line as
  ``--param name=value`` (or by a dedicated ``flag`` such as Raft's ``--servers``);
- ``variants``: named faulty variants (the model's ``variant`` parameter) and the ``gate``'s
  verdict for each;
- ``adapter``: how to build a conformance adapter for an implementation
  (checker/conformance/adapter.py), which makes ``replay``, the corpus, MBT and ``mutate`` work;
- ``corpus``: how to build the regression corpus and what a trace covers;
- ``state_schema``: JSON Schema of one state of a trace file (without one, a state is checked
  by reading it with the model's ``from_json`` and replaying the trace in the model);
- ``proof``: an unbounded proof (``electkit prove``);
- ``mutation``: the implementation module ``electkit mutate`` changes;
- ``view``: hints for the HTML page (which variable colours a lane);
- ``validation``: how a real run's event logs map to the model (``electkit validate``,
  ``electkit chaos``, the gate's chaos stage; docs/validation.md);
- ``durability``: how its implementation's storage is checked against crashes and I/O
  errors (the gate's crash stage; docs/durability.md);
- ``commands``: subcommands of ``electkit`` the protocol adds (its implementation's, such as
  Raft's ``node`` and ``cluster``), each a module with ``configure`` and ``run``.

>>> from checker.protocols.registry import bundle_named
>>> [p.name for p in bundle_named("raft_election").params]
['servers', 'max_term', 'restart', 'variant']
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spec.model import Model


class ParamError(ValueError):
    """A parameter value that does not fit its declaration."""


class Lazy:
    """A module of a bundle (its proof, its log validation), imported only when first used:
    naming a protocol never pays for z3 or a chaos driver it does not run.

    >>> Lazy("json").dumps([1])
    '[1]'
    """

    def __init__(self, module: str) -> None:
        self._module = module

    def __getattr__(self, name: str) -> Any:
        return getattr(importlib.import_module(self._module), name)


def shown(value: Any) -> str:
    """A value as a user writes it: ``none``, ``true``, ``3``, never Python's ``None``."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


@dataclass(frozen=True)
class Param:
    """One model parameter: its name, type, default, bounds and help text.

    ``flag`` names a dedicated command-line option (``--servers``); every parameter can also
    be set as ``--param name=value``. A bool parameter's flag turns it to the opposite of its
    default (``--no-restart``).
    """

    name: str
    type: type
    default: Any
    help: str
    low: int | None = None
    high: int | None = None
    choices: Sequence[str] | None = None
    optional: bool = False  # None is a valid value (e.g. no variant)
    flag: str | None = None
    search_high: int | None = None  # the largest value an exhaustive search accepts

    def parse(self, text: str) -> Any:
        """The value of ``text`` for this parameter, checked; ParamError says why not."""
        if self.optional and text.lower() in ("none", ""):
            return self.check(None)
        if self.type is bool:
            lowered = text.lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no", "on", "off"):
                raise ParamError(f"{self.name} must be true or false, got {text!r}")
            return self.check(lowered in ("true", "1", "yes", "on"))
        if self.type in (int, float):
            try:
                value = self.type(text)
            except ValueError:
                kind = "a whole number" if self.type is int else "a number"
                raise ParamError(f"{self.name} must be {kind}, got {text!r}") from None
            return self.check(value)
        return self.check(text)

    def check(self, value: Any) -> Any:
        """``value`` if it fits (type, bounds, choices); ParamError names what does not."""
        if value is None:
            if self.optional:
                return None
            raise ParamError(f"{self.name} needs a value")
        if self.type is int and (not isinstance(value, int) or isinstance(value, bool)):
            raise ParamError(f"{self.name} must be a whole number, got {value!r}")
        if self.type is bool and not isinstance(value, bool):
            raise ParamError(f"{self.name} must be true or false, got {value!r}")
        if self.low is not None and value < self.low:
            raise ParamError(f"{self.name} must be at least {self.low}, got {value}")
        if self.high is not None and value > self.high:
            raise ParamError(f"{self.name} must be at most {self.high}, got {value}")
        if self.choices is not None and value not in self.choices:
            raise ParamError(f"unknown {self.name} {value!r}; valid: {', '.join(self.choices)}")
        return value

    def describe(self) -> str:
        """One line for --help and docs: type, default, bounds, help."""
        bounds = ""
        if self.low is not None or self.high is not None:
            bounds = f", {self.low if self.low is not None else ''}..{self.high or ''}"
        if self.choices is not None:
            bounds = f", one of {', '.join(self.choices)}"
        kind = f"{self.type.__name__}, default {shown(self.default)}{bounds}"
        return f"{self.name} ({kind}): {self.help}"


def variant_param(variants: Mapping[str, str], flag: str | None = None) -> Param:
    """The ``variant`` parameter of a model with named faulty variants (none: the correct one).

    >>> variant_param({"broken": "a planted bug"}).parse("broken")
    'broken'
    """
    return Param(
        "variant",
        str,
        None,
        "a named faulty variant of the model",
        optional=True,
        choices=tuple(variants),
        flag=flag,
    )


@dataclass(frozen=True)
class VariantCase:
    """A faulty variant the gate runs, at a bound, and the verdict it must give."""

    variant: str
    parameters: Mapping[str, Any]
    expected: str  # "violation" | "ok"
    property: str | None = None  # the property checked (default: the gate's headline)


@dataclass(frozen=True)
class Gate:
    """What ``electkit verify`` runs for this protocol, at its default bounds."""

    parameters: Mapping[str, Any] = field(default_factory=dict)  # the model-check stage
    headline: str | None = None  # the property each variant case is checked for
    variants: Sequence[VariantCase] = ()
    corpus: Path | None = None  # the traces the replay stage replays
    cover: Sequence[Mapping[str, Any]] = ()  # bounds whose transition-cover suite is replayed
    # bounds at which random schedules (hypothesis, derandomized) run against the adapter
    mbt: Sequence[Mapping[str, Any]] = ()
    mbt_examples: int = 500  # schedules per bound: a fixed budget, so the gate is deterministic


@dataclass(frozen=True)
class Corpus:
    """How the regression corpus of a protocol is built and what a trace of it covers."""

    build: Callable[[Path], list[Path]]  # writes the corpus under a folder, returns the files
    features: Callable[[Any], set[str]] | None = None  # trace -> the features it exercises
    required: frozenset[str] = frozenset()  # what the corpus must cover together
    # the bounds of random walks: each parameter drawn from its choices, in this order
    walk_choices: Mapping[str, Sequence[Any]] = field(default_factory=dict)

    def draw(self, rng: Any) -> dict[str, Any]:
        """Parameters for one random walk (``rng`` a random.Random)."""
        return {name: rng.choice(list(values)) for name, values in self.walk_choices.items()}


@dataclass(frozen=True)
class Mutation:
    """What ``electkit mutate`` changes.

    Class mode (the default): ``methods`` of ``class_name`` in ``module``, each mutant
    compiled in memory and handed to the adapter (``option``), checked by the corpus and
    random walks. Whole-gate mode (``package`` set): every function of the package's
    ``files`` (all its modules when empty), each mutant written to a copy of the package and
    run through the gate's ``stages`` (names of `electkit verify`'s stages, fastest first) in a
    subprocess (checker/conformance/mutate_gate.py).
    """

    module: str  # e.g. "impl.node"
    class_name: str  # e.g. "Node"
    methods: Sequence[str]  # only these methods are mutated
    option: str  # the adapter's keyword that takes the mutated class
    walk_choices: Mapping[str, Sequence[Any]] = field(default_factory=dict)  # as Corpus's
    package: str | None = None  # whole-gate mode: the implementation package, e.g. "impl"
    files: Sequence[str] = ()  # its files to mutate (relative; empty: every module)
    stages: Sequence[str] = ()  # the verify stages each mutant runs, in order
    # file -> its unit tests, run against a mutant of the file that passed every stage
    tests: Mapping[str, Sequence[Path]] = field(default_factory=dict)


@dataclass(frozen=True)
class ViewHints:
    """How the HTML page draws a trace: the per-lane variable that colours a lane."""

    status: str | None = None  # a per-lane variable of the JSON view, e.g. "role"
    colours: Mapping[str, str] = field(default_factory=dict)  # its values -> CSS colours
    note: str | None = None  # a per-lane variable shown next to a local action, e.g. "term"


@dataclass(frozen=True)
class Bundle:
    """A protocol, as the kit knows it."""

    name: str
    summary: str
    model: Callable[..., Model]
    params: Sequence[Param] = ()
    variants: Mapping[str, str] = field(default_factory=dict)
    gate: Gate | None = None
    adapter: Callable[..., Any] | None = None  # (parameters, data_root=..., **options)
    corpus: Corpus | None = None
    state_schema: Mapping[str, Any] | None = None  # JSON Schema of one state of a trace
    proof: Any = None  # a module with configure(parser), run(args) and gate()
    mutation: Mutation | None = None
    view: ViewHints = field(default_factory=ViewHints)
    commands: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # name -> (module, help)
    validation: Any = None  # a module: log_mapping(), run_chaos(), run_validation_stage()
    durability: Any = None  # a module: crash_gate(), fault_gate() -> (passed, summary, details)

    def param(self, name: str) -> Param:
        """The parameter ``name``; ParamError lists the valid ones."""
        for p in self.params:
            if p.name == name:
                return p
        valid = ", ".join(p.name for p in self.params) or "none"
        raise ParamError(f"{self.name} has no parameter {name!r}; valid: {valid}")

    def defaults(self) -> dict[str, Any]:
        """Every parameter at its default."""
        return {p.name: p.default for p in self.params}

    def build(self, **parameters: Any) -> Model:
        """The model at ``parameters`` (the rest at their defaults), each value checked."""
        values = self.defaults()
        for name, value in parameters.items():
            values[name] = self.param(name).check(value)
        return self.model(**values)
