"""`electkit mutate`: mutants of an implementation against the gate's conformance checks."""

from __future__ import annotations

import json
import subprocess
import sys

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
        [ELECTKIT, "mutate", "--file", "node.py", "--only", "_on_vote", "--json"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["total"] >= 5 and report["killed"] == report["total"]
    assert {m["by"] for m in report["mutants"]} <= {"replay", "cover", "mbt"}
    assert all(m["name"].startswith("node.py:") and "_on_vote" in m["name"]
               for m in report["mutants"])
    assert report["modules"] == {"node.py": {"killed": report["total"], "total": report["total"]}}


IO = """
import os

HOST = "127.0.0.1"


def save(path, data):
    fd = os.open(path + ".tmp", os.O_WRONLY)
    try:
        os.write(fd, data.encode())
        os.fsync(fd)
    except OSError:
        raise StorageError("cannot save")
    os.replace(path + ".tmp", path)
    return len(data) > 0
"""


def test_io_operators():
    from checker.conformance.mutate_gate import mutants as module_mutants

    names = [m.name.split(" ", 1)[1] for m in module_mutants(IO, "io.py")]
    for expected in (
        "<module>: bind 127.0.0.1 -> 0.0.0.0",
        "save: drop 'os.write(fd, data.encode())'",
        "save: drop 'os.fsync(fd)'",
        "save: drop 'os.replace(path + '.tmp', path)'",
        "save: except OSError: pass",
        "save: 'raise StorageError('cannot save')' -> pass",
        "save: 'data.encode()' -> 'data' (characters, not bytes)",
        "save: 0 -> 1",
        "save: > -> >=",
        "save: swap with line 11",
    ):
        assert expected in names, (expected, names)
    swapped = next(m for m in module_mutants(IO, "io.py") if "swap with line 11" in m.name)
    assert swapped.source.index("os.fsync(fd)") < swapped.source.index("os.write(fd")
    for mutant in module_mutants(IO, "io.py"):
        compile(mutant.source, mutant.name, "exec")  # every mutant is valid Python


def test_the_whole_gate_kills_io_mutants_of_the_vote_store():
    """Mutants of storage.py run in a copy of impl/ through the gate's stages: a dropped
    fsync (of the file or of the directory) or rename is caught, and the project's own
    files never change."""
    before = (ROOT / "impl" / "storage.py").read_text()
    found = []
    for only in ("drop 'call('fsync'", "drop 'call('rename'"):
        proc = subprocess.run(
            [ELECTKIT, "mutate", "--file", "storage.py", "--only", only, "--json"],
            capture_output=True,
            text=True,
            cwd=ROOT,
            timeout=600,
        )
        assert proc.returncode == 0, proc.stderr
        found += json.loads(proc.stdout.strip().splitlines()[-1])["mutants"]
    assert len(found) == 3, [m["name"] for m in found]  # two fsyncs, one rename
    assert all(m["killed"] and m["by"] in ("crash", "replay") for m in found), found
    assert (ROOT / "impl" / "storage.py").read_text() == before


def test_tests_first_lets_the_unit_tests_kill_before_the_gate():
    """With --tests-first a mutant the module's unit tests kill is reported `tests` without a
    gate run (here: `python -m impl`'s error line dropped, which no gate stage reads)."""
    proc = subprocess.run(
        [ELECTKIT, "mutate", "--file", "__main__.py", "--only", "drop 'print", "--tests-first",
         "--timeout", "300", "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout.strip().splitlines()[-1])["mutants"]
    assert [(m["killed"], m["by"]) for m in found] == [(True, "tests")], found


def test_bad_options_exit_2():
    for args in (
        ["--only", "no_such_method"],
        ["--traces", "nope"],
        ["--walks", "-1"],
        ["--file", "nope.py"],
        ["--jobs", "0"],
        ["--timeout", "0"],
    ):
        proc = subprocess.run(
            [ELECTKIT, "mutate", *args], capture_output=True, text=True, cwd=ROOT, timeout=120
        )
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, args


def test_gate_run_runs_stages_in_order_and_names_the_first_failure(capsys):
    from checker.conformance.gate_run import main

    assert main(["--spec", "raft_election", "--stage", "crash,cover"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1]) == {
        "stage": None,
        "summary": "",
    }
    assert main(["--spec", "raft_election", "--stage", "crash,nope"]) == 2
    assert "--stage nope: no such stage" in capsys.readouterr().err


def test_an_overlay_shadows_the_package_for_a_subprocess_only():
    from checker.conformance.overlay import Overlay

    planted = (ROOT / "impl" / "errors.py").read_text() + "VERSION = 'planted'\n"
    with Overlay("impl", {"errors.py": planted}) as overlay:
        proc = subprocess.run(
            [sys.executable, "-c", "import impl.errors, impl.node; print(impl.errors.VERSION)"],
            cwd=overlay.root, env=overlay.env(), capture_output=True, text=True, timeout=60,
        )
        root = overlay.root
    assert proc.stdout.strip() == "planted", proc.stderr
    assert not root.exists()
    assert "VERSION = 'planted'" not in (ROOT / "impl" / "errors.py").read_text()


def test_tests_first_kills_by_the_unit_tests_without_the_gate():
    """`--tests-first`: the vote file's fsync dropped is killed by the unit tests (which
    record the real fsyncs), before the gate's crash stage, which kills it when run first
    (test_the_whole_gate_kills_io_mutants_of_the_vote_store)."""
    proc = subprocess.run(
        [ELECTKIT, "mutate", "--file", "storage.py", "--only", "drop 'call('fsync', tmp",
         "--tests-first", "--json"],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    found = json.loads(proc.stdout.strip().splitlines()[-1])["mutants"]
    assert [(m["killed"], m["by"]) for m in found] == [(True, "tests")], found
    assert "test_a_save_really_fsyncs" in found[0]["detail"]
