"""The layering of docs/protocols.md: impl/ and spec/ never import each other or checker/."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

FORBIDDEN = {"impl": {"spec", "checker"}, "spec": {"impl", "checker"}}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_does_not_import_the_other_side(package):
    files = sorted((ROOT / package).rglob("*.py"))
    assert files, f"{package}/ has no modules"
    offenders = {
        str(f.relative_to(ROOT)): sorted(imported_packages(f) & FORBIDDEN[package])
        for f in files
        if imported_packages(f) & FORBIDDEN[package]
    }
    assert offenders == {}


def test_the_check_itself_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import checker.explore\nfrom spec import model\n")
    assert imported_packages(bad) == {"checker", "spec"}


# Only checker/protocols/ knows a protocol: every other module of checker/ works for any bundle.
PROTOCOL_WORDS = re.compile(
    r"raft_election|RaftElection|RaftCluster|raft_logic|lease_election|RequestVote|"
    r"Heartbeat|voted_for|\bfollower\b|\bcandidate\b|ElectionSafety"
)
PROTOCOL_IMPORTS = ("impl", "spec.raft_election", "spec.raft_logic", "spec.lease_election")


def generic_modules() -> list[Path]:
    return sorted(
        p
        for p in (ROOT / "checker").rglob("*.py")
        if "protocols" not in p.relative_to(ROOT / "checker").parts[:-1]
    )


def protocol_knowledge(path: Path) -> list[str]:
    """Where a module names a protocol: a protocol word, or an import of one's model or code."""
    found = [
        f"line {n}: {m.group()}"
        for n, line in enumerate(path.read_text().splitlines(), 1)
        for m in [PROTOCOL_WORDS.search(line)]
        if m
    ]
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module]
        for name in names:
            if name.startswith(PROTOCOL_IMPORTS) or re.match(r"checker\.protocols\.\w+\.", name):
                found.append(f"line {node.lineno}: import {name}")
    return found


def test_generic_modules_name_no_protocol():
    modules = generic_modules()
    assert len(modules) >= 20
    offenders = {str(p.relative_to(ROOT)): protocol_knowledge(p) for p in modules}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_the_protocol_check_can_fail(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("from spec.raft_election import RaftElection\nx = 'voted_for'\n")
    assert protocol_knowledge(bad) == [
        "line 1: raft_election",
        "line 2: voted_for",
        "line 1: import spec.raft_election",
    ]


def test_no_import_cycle_in_checker():
    import networkx as nx

    graph = nx.DiGraph()
    for path in (ROOT / "checker").rglob("*.py"):
        module = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in tree.body:  # module-level imports only: a function's import is lazy
            if (
                isinstance(node, ast.ImportFrom)
                and node.module
                and node.module.startswith("checker")
            ):
                graph.add_edge(module, node.module)
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.startswith("checker"):
                        graph.add_edge(module, alias.name)
    assert list(nx.simple_cycles(graph)) == []


def test_no_module_over_400_lines_without_a_reason():
    long = []
    for path in (ROOT / "checker").rglob("*.py"):
        lines = path.read_text().splitlines()
        if len(lines) > 400 and "Over 400 lines:" not in "\n".join(lines[:40]):
            long.append(f"{path.relative_to(ROOT)}: {len(lines)} lines")
    assert long == []
