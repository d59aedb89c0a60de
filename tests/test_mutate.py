"""`electkit mutate`: mutants of an implementation against the gate's conformance checks."""

from __future__ import annotations

import json
import subprocess

from checker.conformance.mutate import load_mutant_class, mutants
from checker.protocols.registry import bundle_named
from tests.conftest import ELECTKIT, ROOT

TINY = """
class Node:
    def is_quorum(self, members):
        return 2 * len(members) > self._size and True

    def on_heartbeat_timer(self):
        self._beats = self._beats + 1
        return self._beats
"""


def test_mutation_operators():
    names = [m.name for m in mutants(TINY, "Node", ("is_quorum", "on_heartbeat_timer"))]
    assert names == [
        "is_quorum:4: and -> or",
        "is_quorum:4: > -> >=",
        "is_quorum:4: True -> False",
        "on_heartbeat_timer:7: remove 'self._beats = self._beats + 1'",
    ]
    flipped = next(
        m for m in mutants(TINY, "Node", ("is_quorum", "on_heartbeat_timer")) if "> -> >=" in m.name
    )
    assert "2 * len(members) >= self._size" in flipped.source


def test_mutants_load_as_working_node_classes():
    from impl.node import Durable

    source = (ROOT / "impl" / "node.py").read_text()
    mutation = bundle_named("raft_election").mutation
    first = next(mutants(source, mutation.class_name, mutation.methods))
    node = load_mutant_class(mutation, first)(1, [1, 2, 3], Durable(0, None))
    assert node.snapshot().term == 0


def test_gate_kills_the_vote_handling_mutants():
    proc = subprocess.run(
        [ELECTKIT, "mutate", "--only", "_on_vote", "--walks", "20", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["total"] >= 5 and report["killed"] == report["total"]
    assert {m["by"] for m in report["mutants"]} <= {"corpus", "walks"}
    assert all(m["name"].startswith("_on_vote:") for m in report["mutants"])


def test_bad_options_exit_2():
    for args in (["--only", "no_such_method"], ["--traces", "nope"], ["--walks", "-1"]):
        proc = subprocess.run(
            [ELECTKIT, "mutate", *args], capture_output=True, text=True, cwd=ROOT, timeout=120
        )
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, args
