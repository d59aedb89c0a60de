"""Mutation testing of the implementation: does the gate notice when impl/node.py is wrong?

Each mutant changes one thing in the election logic of ``impl/node.py`` (the methods of
``Node`` that handle events): a comparison flipped (``==``/``!=``, ``<``/``<=``,
``>``/``>=``), ``and``/``or`` swapped, ``True``/``False`` swapped, or one assignment to the
node's state removed. The mutated module is compiled in memory — nothing on disk changes —
and its ``Node`` is run through the gate's conformance checks, in order, until one fails:

1. ``corpus``: every trace under traces/ must replay as its #meta says;
2. ``walks``: seeded random walks of the correct model (3 to 5 servers) must conform.

A mutant that no check kills is a behaviour change the gate cannot see: either an equivalent
mutant (the same behaviour written differently) or a gap worth a new trace.
"""

from __future__ import annotations

import ast
import random
import sys
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import impl.node
from checker.corpus import random_walk
from checker.replay import collect_traces, replay_file, replay_trace
from spec.raft_election import RaftElection

FLIP = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
}
SYMBOL = {ast.Eq: "==", ast.NotEq: "!=", ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}
MUTANT_MODULE = "impl._node_mutant"
LOGIC_METHODS = (
    "is_quorum",
    "on_election_timeout",
    "on_heartbeat_timer",
    "on_message",
    "_on_request_vote",
    "_on_vote",
    "_on_heartbeat",
    "_become_leader",
)


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


def mutants(source: str) -> Iterator[Mutant]:
    """Every single-change mutant of the election logic in ``source``, in source order."""
    tree = ast.parse(source)
    node_class = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Node")
    points = []
    for method in node_class.body:
        if isinstance(method, ast.FunctionDef) and method.name in LOGIC_METHODS:
            points += [(method.name, n) for n in ast.walk(method)]
    for index, (method, n) in enumerate(points):
        for label in _changes(n):
            mutated = ast.parse(source)
            target = _nth_node(mutated, node_class.lineno, points, index)
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


def _nth_node(tree: ast.Module, class_line: int, points, index: int) -> ast.AST:
    """The node of the fresh tree that stands where ``points[index]`` stands."""
    node_class = next(
        n for n in tree.body if isinstance(n, ast.ClassDef) and n.lineno == class_line
    )
    fresh = []
    for method in node_class.body:
        if isinstance(method, ast.FunctionDef) and method.name in LOGIC_METHODS:
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


def load_node_class(mutant: Mutant) -> type:
    """The ``Node`` class of the mutated module, sharing every other class with impl.node."""
    module = types.ModuleType(MUTANT_MODULE)
    sys.modules[MUTANT_MODULE] = module  # dataclasses look their module up while being built
    exec(compile(mutant.source, f"<mutant {mutant.name}>", "exec"), module.__dict__)  # noqa: S102
    for shared in ("Role", "Durable", "Output", "NodeStatus"):
        module.__dict__[shared] = getattr(impl.node, shared)
    return module.Node


def run_gate(node_class: type, traces: list[Path], walks: int, seed: int = 7) -> tuple[str, str]:
    """The first check that ``node_class`` fails, and why; ("", "") when it passes them all."""
    for path in traces:
        result = replay_file(path, node_class=node_class)
        if not result.as_expected:
            return "corpus", f"{path.name}: {result.verdict} at step {result.step}"
    rng = random.Random(seed)
    for index in range(walks):
        model = RaftElection(rng.choice([3, 4, 5]), rng.choice([2, 3, 4]))
        result = replay_trace(random_walk(model, 40, rng), f"walk {index}", node_class=node_class)
        if result.verdict != "conforms":
            return "walks", f"walk {index} diverges at step {result.step}: {result.action}"
    return "", ""


def mutate(traces_dir: Path, walks: int = 100, only: str | None = None) -> list[Outcome]:
    """Run the gate against every mutant of impl/node.py (those whose name contains ``only``)."""
    source = Path(impl.node.__file__).read_text()
    traces = collect_traces([str(traces_dir)])
    outcomes = []
    for mutant in mutants(source):
        if only and only not in mutant.name:
            continue
        try:
            by, detail = run_gate(load_node_class(mutant), traces, walks)
        finally:
            sys.modules.pop(MUTANT_MODULE, None)
        outcomes.append(Outcome(mutant.name, bool(by), by or None, detail))
    return outcomes
