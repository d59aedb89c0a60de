"""Mutation testing of an implementation: does the gate notice when the code is wrong?

A protocol's bundle names what to mutate (its ``mutation``: a class in an implementation
module and the methods that hold its logic). Each mutant
changes one thing in those methods: a comparison flipped (``==``/``!=``, ``<``/``<=``,
``>``/``>=``), ``and``/``or`` swapped, ``True``/``False`` swapped, or one assignment to the
object's state removed. The mutated module is compiled in memory — nothing on disk changes —
and its class is handed to the protocol's adapter and run through the gate's conformance
checks, in order, until one fails:

1. ``corpus``: every trace of the protocol's corpus must replay as its #meta says;
2. ``walks``: seeded random walks of the correct model (the corpus's walk bounds) conform.

A mutant that no check kills is a behaviour change the gate cannot see: either an equivalent
mutant (the same behaviour written differently) or a gap worth a new trace.
"""

from __future__ import annotations

import ast
import importlib
import random
import sys
import types
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from checker.conformance.replay import collect_traces, replay_file, replay_trace
from checker.protocols.bundle import Bundle, Mutation
from checker.traces.corpus import random_walk

FLIP = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
}
SYMBOL = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
MUTANT_MODULE = "electkit_mutant"


@dataclass(frozen=True)
class Mutant:
    """One change to the source: where, what, and the mutated source."""

    name: str
    source: str


@dataclass
class Outcome:
    mutant: str
    killed: bool
    by: str | None  # "corpus" | "walks" | None
    detail: str = ""


def mutants(source: str, class_name: str, methods: Sequence[str]) -> Iterator[Mutant]:
    """Every single-change mutant of ``methods`` of ``class_name`` in ``source``, in order."""
    tree = ast.parse(source)
    node_class = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == class_name)
    points = []
    for method in node_class.body:
        if isinstance(method, ast.FunctionDef) and method.name in methods:
            points += [(method.name, n) for n in ast.walk(method)]
    for index, (method, n) in enumerate(points):
        for label in _changes(n):
            mutated = ast.parse(source)
            target = _nth_node(mutated, node_class.lineno, methods, index)
            _apply(target, label)
            name = f"{method}:{n.lineno}: {label}"
            yield Mutant(name, ast.unparse(mutated))


def _changes(n: ast.AST) -> list[str]:
    if isinstance(n, ast.Compare) and len(n.ops) == 1 and type(n.ops[0]) in FLIP:
        op = type(n.ops[0])
        return [f"{SYMBOL[op]} -> {SYMBOL[FLIP[op]]}"]
    if isinstance(n, ast.BoolOp):
        return ["and -> or" if isinstance(n.op, ast.And) else "or -> and"]
    if isinstance(n, ast.Constant) and isinstance(n.value, bool):
        return [f"{n.value} -> {not n.value}"]
    if isinstance(n, ast.Assign) and any(
        isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"
        for t in n.targets
    ):
        return [f"remove '{ast.unparse(n)}'"]
    return []


def _nth_node(tree: ast.Module, class_line: int, methods: Sequence[str], index: int) -> ast.AST:
    """The node of the fresh tree that stands where the ``index``-th point stands."""
    node_class = next(
        n for n in tree.body if isinstance(n, ast.ClassDef) and n.lineno == class_line
    )
    fresh = []
    for method in node_class.body:
        if isinstance(method, ast.FunctionDef) and method.name in methods:
            fresh += list(ast.walk(method))
    return fresh[index]


def _apply(n: ast.AST, label: str) -> None:
    if isinstance(n, ast.Compare):
        n.ops = [FLIP[type(n.ops[0])]()]
    elif isinstance(n, ast.BoolOp):
        n.op = ast.Or() if isinstance(n.op, ast.And) else ast.And()
    elif isinstance(n, ast.Constant):
        n.value = not n.value
    elif isinstance(n, ast.Assign):
        # Keep the statement's place (it may be a block's only statement): assign to a dummy.
        n.targets = [ast.Name(id="_mutant_removed", ctx=ast.Store())]


def load_mutant_class(mutation: Mutation, mutant: Mutant) -> type:
    """The mutated class, sharing the module's other classes with the original (so that its
    enums and records are the very objects the rest of the implementation compares to); the
    module's functions and tables stay the mutant's own, since they may refer to the class."""
    original = importlib.import_module(mutation.module)
    module = types.ModuleType(MUTANT_MODULE)
    sys.modules[MUTANT_MODULE] = module  # dataclasses look their module up while being built
    exec(compile(mutant.source, f"<mutant {mutant.name}>", "exec"), module.__dict__)  # noqa: S102
    for name, value in vars(original).items():
        defined_there = getattr(value, "__module__", None) == original.__name__
        if isinstance(value, type) and defined_there and name != mutation.class_name:
            module.__dict__[name] = value
    return getattr(module, mutation.class_name)


def run_gate(
    bundle: Bundle, mutant_class: type, traces: list[Path], walks: int, seed: int = 7
) -> tuple[str, str]:
    """The first check that ``mutant_class`` fails, and why; ("", "") when it passes them all."""
    option = {bundle.mutation.option: mutant_class}
    for path in traces:
        result = replay_file(path, **option)
        if not result.as_expected:
            return "corpus", f"{path.name}: {result.verdict} at step {result.step}"
    rng = random.Random(seed)
    choices = bundle.mutation.walk_choices or (bundle.corpus.walk_choices if bundle.corpus else {})
    for index in range(walks):
        model = bundle.build(**{k: rng.choice(list(v)) for k, v in choices.items()})
        walk = random_walk(model, 40, rng)
        result = replay_trace(walk, f"walk {index}", **option)
        if result.verdict != "conforms":
            return "walks", f"walk {index} diverges at step {result.step}: {result.action}"
    return "", ""


def mutate(
    bundle: Bundle, traces_dir: Path, walks: int = 100, only: str | None = None
) -> Iterator[Outcome]:
    """Run the gate against every mutant of the bundle's mutation target (those whose name
    contains ``only``), one outcome at a time."""
    mutation = bundle.mutation
    source = Path(importlib.import_module(mutation.module).__file__).read_text()
    traces = collect_traces([str(traces_dir)])
    for mutant in mutants(source, mutation.class_name, mutation.methods):
        if only and only not in mutant.name:
            continue
        try:
            by, detail = run_gate(bundle, load_mutant_class(mutation, mutant), traces, walks)
        finally:
            sys.modules.pop(MUTANT_MODULE, None)
        yield Outcome(mutant.name, bool(by), by or None, detail)
