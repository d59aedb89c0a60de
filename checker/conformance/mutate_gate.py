"""Mutation testing over a whole implementation: does the whole gate notice a wrong line?

A protocol's bundle names what to mutate (its ``mutation`` with a ``package``: an
implementation package, the files of it to change, and the gate's stages that run the
implementation, fastest first).
Each mutant changes one thing in one function of one module:

=====================  ========================================================================
operator               what it plants
=====================  ========================================================================
``compare``            ``==``/``!=``, ``<``/``<=``, ``>``/``>=``, ``is``/``is not``,
                       ``in``/``not in`` flipped: a wrong check, an off-by-one boundary
``bool``               ``and``/``or`` swapped; ``True``/``False`` swapped
``plus-one``           an integer in arithmetic, a comparison or a slice made one larger
``drop-call``          a call made for its effect removed: an fsync, a rename, a save, a send,
                       a close, a directory fsync
``drop-assign``        an assignment to the object's state removed
``swap``               two adjacent statements swapped when one of them does I/O (write, fsync,
                       rename, save, send): the order of persist and send
``except-pass``        an ``except`` branch's body replaced by ``pass``: an error ignored
``raise-pass``         a ``raise`` replaced by ``pass``: a check turned off, a default instead
``bytes``              ``x.encode()`` replaced by ``x``: a length in characters, not bytes
``bind``               a loopback address ``127.0.0.1`` replaced by ``0.0.0.0``
=====================  ========================================================================

The mutated source is written to a temporary copy of the package (checker/conformance/
overlay.py; nothing in the project changes) and the gate's stages run against it in a
subprocess, in the bundle's order, until one fails: so a mutant of the server is run by real
node processes, and one of the vote store by every stage that saves a vote. A mutant that no
stage kills is a behaviour change the gate cannot see: either an equivalent mutant (the same
behaviour written differently) or a gap worth a new check.
"""

from __future__ import annotations

import ast
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from checker.conformance import mutate
from checker.conformance.overlay import Overlay, package_dir
from checker.protocols.bundle import Bundle

# The per-class mutator's comparison flips, and identity and membership besides.
FLIP = {
    **mutate.FLIP,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
SYMBOL = {**mutate.SYMBOL, ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
# Calls that do I/O: the ``swap`` operator swaps a statement making one with its neighbour.
IO_CALLS = frozenset({"fsync", "replace", "rename", "write", "save", "send", "sendto", "flush"})
LOOPBACK, ANY = "127.0.0.1", "0.0.0.0"  # noqa: S104 (the mutant's bind address, never bound here)
GATE_TIMEOUT = 120.0  # seconds a mutant may take (the gate takes ~30) before it counts as hung


@dataclass(frozen=True)
class Mutant:
    """One change to one module: its name (module:line function: what) and the new source."""

    module: str  # the file, relative to the package (e.g. "storage.py")
    name: str
    source: str


@dataclass
class Outcome:
    mutant: str
    module: str
    killed: bool
    by: str | None  # the stage that killed it, "timeout", or None (survived)
    detail: str = ""


def module_files(bundle: Bundle) -> list[str]:
    """The files the bundle's mutation changes, relative to its package, in its order
    (every module of the package, sorted, when it names none)."""
    mutation = bundle.mutation
    root = package_dir(mutation.package)
    files = sorted(str(p.relative_to(root)) for p in root.glob("*.py"))
    return [f for f in mutation.files if f in files] if mutation.files else files


def mutants(source: str, module: str = "<module>") -> Iterator[Mutant]:
    """Every single-change mutant of ``source``, in source order."""
    tree = ast.parse(source)
    points = list(_points(tree))
    for index, (function, node, label) in enumerate(points):
        mutated = ast.parse(source)
        target_function, target, _ = list(_points(mutated))[index]
        _apply(target, label, mutated)
        yield Mutant(
            module,
            f"{module}:{node.lineno} {function}: {label}",
            ast.unparse(ast.fix_missing_locations(mutated)),
        )


def _points(tree: ast.Module) -> Iterator[tuple[str, ast.AST, str]]:
    """(function name, node, change) for every place an operator applies, in a stable order."""
    for node in tree.body:  # module level: only the bind address
        if isinstance(node, ast.Assign) and _is_loopback(node.value):
            yield "<module>", node.value, f"bind {LOOPBACK} -> {ANY}"
    for function in _functions(tree):
        parents = {
            child: parent for parent in ast.walk(function) for child in ast.iter_child_nodes(parent)
        }
        body_nodes = [n for stmt in _body(function) for n in ast.walk(stmt)]
        for n in body_nodes:
            for label in _changes(n, parents):
                yield function.name, n, label
        for block in _blocks(function):
            for first, second in zip(block, block[1:], strict=False):
                if _does_io(first) or _does_io(second):
                    yield function.name, first, f"swap with line {second.lineno}"


def _functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Every function and method, outermost first (a nested function is its own)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append(node)
    return found


def _body(function: ast.AST) -> list[ast.stmt]:
    """A function's statements without its docstring and without nested functions."""
    body = list(function.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
        body = body[1:]
    return [s for s in body if not isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)]


def _blocks(function: ast.AST) -> Iterator[list[ast.stmt]]:
    """Every statement list inside ``function`` (its body, branches, loops, try blocks)."""
    yield _body(function)
    for stmt in _body(function):
        for n in ast.walk(stmt):
            if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                continue
            for name in ("body", "orelse", "finalbody"):
                block = getattr(n, name, None)
                if isinstance(block, list) and block and isinstance(block[0], ast.stmt):
                    yield block


def _does_io(stmt: ast.stmt) -> bool:
    """Whether ``stmt`` calls (or hands on, as ``call(files.fsync, fd)``) an I/O function."""
    if isinstance(stmt, ast.Return):
        return False
    for n in ast.walk(stmt):
        if isinstance(n, ast.Attribute) and n.attr in IO_CALLS:
            return True
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id in IO_CALLS:
            return True
    return False


def _is_loopback(n: ast.AST) -> bool:
    return isinstance(n, ast.Constant) and n.value == LOOPBACK


def _changes(n: ast.AST, parents: dict[ast.AST, ast.AST]) -> list[str]:
    parent = parents.get(n)
    if isinstance(n, ast.Compare) and len(n.ops) == 1 and type(n.ops[0]) in FLIP:
        op = type(n.ops[0])
        return [f"{SYMBOL[op]} -> {SYMBOL[FLIP[op]]}"]
    if isinstance(n, ast.BoolOp):
        return ["and -> or" if isinstance(n.op, ast.And) else "or -> and"]
    if isinstance(n, ast.Constant) and isinstance(n.value, bool):
        return [f"{n.value} -> {not n.value}"]
    if (
        isinstance(n, ast.Constant)
        and type(n.value) is int
        and isinstance(parent, ast.BinOp | ast.AugAssign | ast.Compare | ast.Slice | ast.UnaryOp)
    ):
        return [f"{n.value} -> {n.value + 1}"]
    if isinstance(n, ast.Expr) and isinstance(n.value, ast.Call | ast.Await):
        return [f"drop '{_short(n)}'"]
    if isinstance(n, ast.Assign | ast.AugAssign) and any(
        isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name) and t.value.id == "self"
        for t in (n.targets if isinstance(n, ast.Assign) else [n.target])
    ):
        return [f"drop '{_short(n)}'"]
    if isinstance(n, ast.ExceptHandler) and not (
        len(n.body) == 1 and isinstance(n.body[0], ast.Pass)
    ):
        caught = ast.unparse(n.type) if n.type is not None else "everything"
        return [f"except {caught}: pass"]
    if isinstance(n, ast.Raise):
        return [f"'{_short(n)}' -> pass"]
    if (
        isinstance(n, ast.Call)
        and isinstance(n.func, ast.Attribute)
        and n.func.attr == "encode"
        and not n.args
    ):
        return [f"'{_short(n)}' -> '{ast.unparse(n.func.value)}' (characters, not bytes)"]
    if _is_loopback(n):
        return [f"bind {LOOPBACK} -> {ANY}"]
    return []


def _short(n: ast.AST, width: int = 60) -> str:
    text = " ".join(ast.unparse(n).split())
    return text if len(text) <= width else text[: width - 3] + "..."


def _apply(n: ast.AST, label: str, tree: ast.Module) -> None:
    if label.startswith("swap with line"):
        for block_owner in ast.walk(tree):
            for name in ("body", "orelse", "finalbody"):
                block = getattr(block_owner, name, None)
                if isinstance(block, list) and n in block:
                    i = block.index(n)
                    block[i], block[i + 1] = block[i + 1], block[i]
                    return
        raise AssertionError(f"no block holds the statement to swap: {label}")
    if label.startswith("bind "):
        n.value = ANY
    elif isinstance(n, ast.Compare):
        n.ops = [FLIP[type(n.ops[0])]()]
    elif isinstance(n, ast.BoolOp):
        n.op = ast.Or() if isinstance(n.op, ast.And) else ast.And()
    elif isinstance(n, ast.Constant) and isinstance(n.value, bool):
        n.value = not n.value
    elif isinstance(n, ast.Constant):
        n.value = n.value + 1
    elif isinstance(n, ast.Expr):
        n.value = ast.Constant(None)  # keeps the statement's place: a block may hold only it
    elif isinstance(n, ast.Assign | ast.AugAssign):
        # Keep the statement's place (it may be a block's only statement): assign to a dummy.
        store = ast.Name(id="_mutant_removed", ctx=ast.Store())
        if isinstance(n, ast.Assign):
            n.targets = [store]
        else:
            n.target = store
    elif isinstance(n, ast.ExceptHandler):
        n.body = [ast.Pass()]
    elif isinstance(n, ast.Raise):
        n.exc, n.cause = None, None
        n.__class__ = ast.Pass  # type: ignore[assignment]
    elif isinstance(n, ast.Call):
        receiver = n.func.value  # type: ignore[attr-defined]
        n.__class__ = ast.Call
        n.func, n.args, n.keywords = ast.Name("_mutant_identity", ast.Load()), [receiver], []


def run_gate(
    bundle: Bundle,
    mutant: Mutant,
    stages: Sequence[str],
    traces: Path | None,
    chaos_seconds: float | None = None,
    tests: bool = True,
    tests_first: bool = False,
) -> tuple[str, str]:
    """The first stage of ``stages`` that ``mutant`` fails, and its summary; ("", "") when it
    passes them all. The stages run in a subprocess against a copy of the package; a mutant
    that passes them meets its module's unit tests (``Mutation.tests``) last, unless
    ``tests`` is false, or first when ``tests_first`` (seconds, not the gate's minutes: the
    same mutants are killed, only the gate's share of the kills is no longer measured)."""
    argv = [sys.executable, "-m", "checker.conformance.gate_run", "--spec", bundle.name]
    argv += ["--stage", ",".join(stages)]
    if traces is not None:
        argv += ["--traces", str(traces)]
    if chaos_seconds is not None:
        argv += ["--chaos-seconds", str(chaos_seconds)]
    source = mutant.source + "\n\ndef _mutant_identity(value):\n    return value\n"
    with Overlay(bundle.mutation.package, {mutant.module: source}) as overlay:
        if tests and tests_first:
            by, detail = run_tests(bundle, mutant, overlay)
            if by:
                return by, detail
            tests = False
        code, out, err = _run(argv, overlay)
        if code is None:
            return "timeout", f"the gate did not finish in {GATE_TIMEOUT:g} s"
        lines = out.strip().splitlines()
        try:
            verdict = json.loads(lines[-1])
        except (IndexError, json.JSONDecodeError):
            tail = (err.strip().splitlines() or ["no output"])[-1]
            return "gate error", f"the gate stopped on an error (exit {code}): {tail}"
        if verdict["stage"] or not tests:
            return verdict["stage"] or "", verdict["summary"] or ""
        return run_tests(bundle, mutant, overlay)


def run_tests(bundle: Bundle, mutant: Mutant, overlay: Overlay) -> tuple[str, str]:
    """The module's unit tests (``Mutation.tests``) against the mutant in ``overlay``:
    ("tests", the first failure) or ("", "") when they pass or there are none."""
    files = [str(Path(f).resolve()) for f in bundle.mutation.tests.get(mutant.module, ())]
    if not files:
        return "", ""
    # The tests' project goes on the path after the overlay (not first, as its pytest
    # configuration would put it), so that the tests import the mutant.
    project = str(Path(files[0]).parents[1])
    argv = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider",
            "--import-mode=append", "-o", "pythonpath=", "-o", "addopts=", *files]
    code, out, _ = _run(argv, overlay, extra_path=project)
    if code is None:
        return "tests", f"{', '.join(Path(f).name for f in files)} did not finish"
    if code == 0:
        return "", ""
    failed = [line for line in out.splitlines() if line.startswith(("FAILED", "ERROR"))]
    return "tests", (failed[0] if failed else f"pytest exit {code}")[:300]


def _run(
    argv: list[str], overlay: Overlay, extra_path: str | None = None
) -> tuple[int | None, str, str]:
    """Run ``argv`` in ``overlay`` (``extra_path`` after it on the module path): (exit code
    or None on a timeout, stdout, stderr)."""
    env = overlay.env()
    if extra_path is not None:
        env["PYTHONPATH"] = os.pathsep.join((env["PYTHONPATH"], extra_path))
    proc = subprocess.Popen(
        argv,
        cwd=overlay.root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the gate's node processes go with it on a timeout
    )
    try:
        out, err = proc.communicate(timeout=GATE_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None, "", ""
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)  # Ctrl-C: no node process is left behind
        proc.communicate()
        raise
    return proc.returncode, out, err


def mutate(
    bundle: Bundle,
    traces: Path | None,
    only: str | None = None,
    files: Sequence[str] = (),
    jobs: int = 1,
    chaos_seconds: float | None = None,
    sample: int = 1,
    tests_first: bool = False,
) -> Iterator[Outcome]:
    """Run the gate against every mutant of the bundle's package (those whose name contains
    ``only``, of ``files`` if given; every ``sample``-th of each file), ``jobs`` at a time
    (the unit tests before the gate when ``tests_first``); outcomes in mutant order."""
    mutation = bundle.mutation
    root = package_dir(mutation.package)
    chosen = [
        mutant
        for module in module_files(bundle)
        if not files or module in files
        for index, mutant in enumerate(mutants((root / module).read_text(), module))
        if (not only or only in mutant.name) and index % sample == 0
    ]

    def one(mutant: Mutant) -> Outcome:
        by, detail = run_gate(bundle, mutant, mutation.stages, traces, chaos_seconds,
                              tests_first=tests_first)
        return Outcome(mutant.name, mutant.module, bool(by), by or None, detail)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        yield from pool.map(one, chosen)
