"""Hostile input, every command: one clear line on stderr, the right exit code, no
traceback, and nothing outside the named output changed (docs/cli.md)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import ELECTKIT, ROOT

GOOD_TRACE = ROOT / "traces" / "raft_election" / "correct" / "single-server.itf.json"
VARIANT_TRACE = ROOT / "traces" / "raft_election" / "variants" / "volatile_vote-N3-T2.itf.json"
LONG = "x" * 300


def write(name: str, text: str) -> Callable[[Path], None]:
    return lambda box: (box / name).write_text(text)


def folder(name: str) -> Callable[[Path], None]:
    return lambda box: (box / name).mkdir()


def symlink(name: str) -> Callable[[Path], None]:
    def make(box: Path) -> None:
        (box / "target.txt").write_text("keep me")
        (box / name).symlink_to(box / "target.txt")

    return make


def fifo(name: str) -> Callable[[Path], None]:
    return lambda box: os.mkfifo(box / name)


def sparse(name: str, size: int) -> Callable[[Path], None]:
    def make(box: Path) -> None:
        with open(box / name, "wb") as out:
            out.truncate(size)

    return make


def copy(source: Path, name: str, edit: Callable[[dict], None] | None = None):
    def make(box: Path) -> None:
        doc = json.loads(source.read_text())
        if edit is not None:
            edit(doc)
        (box / name).write_text(json.dumps(doc))

    return make


def nested(name: str) -> Callable[[Path], None]:
    return write(name, "[" * 100_000 + "]" * 100_000)


SYS_EXIT_AT_IMPORT = "import sys\nsys.exit(0)\n"
SYS_EXIT_IN_MODEL = """
from spec.raft_election import RaftElection
import sys

class Quits(RaftElection):
    def timeout(self, s, srv):
        sys.exit(0)
"""
SYNTAX_ERROR = "class Broken(:\n"

NOTHING = None
# (id, setup, argv, exit code, words in the one stderr line)
CASES = [
    ("check-servers-0", NOTHING, ["check", "--servers", "0"], 2, "--servers must be at least 1"),
    ("check-servers-negative", NOTHING, ["check", "--servers", "-3"], 2, "at least 1"),
    ("check-servers-huge", NOTHING, ["check", "--servers", "9" * 30], 2, "at most 64"),
    ("check-servers-word", NOTHING, ["check", "--servers", "three"], 2, "whole number"),
    ("check-servers-float", NOTHING, ["check", "--servers", "2.5"], 2, "whole number"),
    (
        "check-search-bound-n",
        NOTHING,
        ["check", "--servers", "10", "--no-symmetry"],
        2,
        "servers <= 9",
    ),
    ("check-search-bound-t", NOTHING, ["check", "--max-term", "21"], 2, "max_term <= 20"),
    ("check-symmetry-n6", NOTHING, ["check", "--servers", "6"], 2, "--no-symmetry"),
    ("check-workers-0", NOTHING, ["check", "--workers", "0"], 2, "--workers must be from 1"),
    ("check-workers-huge", NOTHING, ["check", "--workers", "100000"], 2, "from 1 to 256"),
    ("check-property", NOTHING, ["check", "--property", "Nope"], 2, "not an always-property"),
    ("check-variant", NOTHING, ["check", "--variant", "nope"], 2, "unknown variant 'nope'"),
    ("check-spec-unknown", NOTHING, ["check", "--spec", "paxos"], 2, "unknown protocol"),
    ("check-spec-missing-file", NOTHING, ["check", "--spec", "missing.py:X"], 2, "does not exist"),
    (
        "check-spec-folder",
        folder("model.py"),
        ["check", "--spec", "model.py:X"],
        2,
        "does not exist",
    ),
    (
        "check-spec-syntax-error",
        write("bad.py", SYNTAX_ERROR),
        ["check", "--spec", "bad.py:X"],
        2,
        "failed to load: SyntaxError",
    ),
    (
        "check-spec-no-such-class",
        write("m.py", "x = 1\n"),
        ["check", "--spec", "m.py:Model"],
        2,
        "has no 'Model'",
    ),
    (
        "check-spec-not-a-model",
        write("m.py", "class X: pass\n"),
        ["check", "--spec", "m.py:X"],
        2,
        "is not a model",
    ),
    (
        "check-spec-sys-exit-at-import",
        write("q.py", SYS_EXIT_AT_IMPORT),
        ["check", "--spec", "q.py:X"],
        2,
        "SystemExit",
    ),
    (
        "check-spec-sys-exit-in-model",
        write("q.py", SYS_EXIT_IN_MODEL),
        ["check", "--spec", "q.py:Quits"],
        2,
        "sys.exit",
    ),
    ("check-param-no-equals", NOTHING, ["check", "--param", "servers"], 2, "expected NAME=VALUE"),
    ("check-param-unknown", NOTHING, ["check", "--param", "nope=1"], 2, "no parameter 'nope'"),
    ("check-param-bad-bool", NOTHING, ["check", "--param", "restart=maybe"], 2, "true or false"),
    (
        "check-trace-out-folder",
        folder("out"),
        ["check", "--variant", "stale_votes", "--trace-out", "out"],
        2,
        "is a folder",
    ),
    (
        "check-trace-out-symlink",
        symlink("cex.json"),
        ["check", "--variant", "stale_votes", "--trace-out", "cex.json"],
        2,
        "symbolic link",
    ),
    (
        "check-trace-out-device",
        NOTHING,
        ["check", "--variant", "stale_votes", "--trace-out", "/dev/null"],
        2,
        "not a regular file",
    ),
    (
        "check-trace-out-fifo",
        fifo("cex.json"),
        ["check", "--variant", "stale_votes", "--trace-out", "cex.json"],
        2,
        "not a regular file",
    ),
    (
        "check-trace-out-long-name",
        NOTHING,
        ["check", "--variant", "stale_votes", "--trace-out", f"{LONG}.json"],
        2,
        "too long",
    ),
    (
        "check-trace-out-under-proc",
        NOTHING,
        ["check", "--variant", "stale_votes", "--trace-out", "/proc/electkit/cex.json"],
        2,
        "cannot write",
    ),
    ("replay-missing", NOTHING, ["replay", "nope.json"], 2, "no such file"),
    ("replay-empty-file", write("e.json", ""), ["replay", "e.json"], 2, "not JSON"),
    ("replay-empty-folder", folder("d"), ["replay", "d"], 2, "no trace files"),
    ("replay-fifo", fifo("x.json"), ["replay", "x.json"], 2, "not a regular file"),
    ("replay-device", NOTHING, ["replay", "/dev/zero"], 2, "not a regular file"),
    (
        "replay-binary",
        lambda box: (box / "b.json").write_bytes(bytes(range(256)) * 4),
        ["replay", "b.json"],
        2,
        "not UTF-8",
    ),
    ("replay-json-list", write("l.json", "[]"), ["replay", "l.json"], 2, "header"),
    ("replay-nested", nested("n.json"), ["replay", "n.json"], 2, "nested too deeply"),
    (
        "replay-huge",
        sparse("big.json", 65 * 2**20),
        ["replay", "big.json"],
        2,
        "limited to 67,108,864 bytes",
    ),
    ("replay-long-name", NOTHING, ["replay", f"{LONG}.json"], 2, "too long"),
    (
        "replay-unknown-protocol",
        copy(GOOD_TRACE, "t.json", lambda d: d["#meta"].__setitem__("spec", "paxos")),
        ["replay", "t.json"],
        2,
        "unknown protocol 'paxos'",
    ),
    (
        "replay-float",
        copy(GOOD_TRACE, "t.json", lambda d: d["states"][1]["term"]["#map"][0].__setitem__(1, 1.5)),
        ["replay", "t.json"],
        2,
        "not an integer",
    ),
    (
        "replay-negative-servers",
        copy(GOOD_TRACE, "t.json", lambda d: d["#meta"]["parameters"].__setitem__("servers", -1)),
        ["replay", "t.json"],
        2,
        "parameters",
    ),
    (
        "replay-data-dir-proc",
        copy(GOOD_TRACE, "t.json"),
        ["replay", "--data-dir", "/proc", "t.json"],
        2,
        "--data-dir: cannot make files",
    ),
    (
        "replay-data-dir-missing",
        copy(GOOD_TRACE, "t.json"),
        ["replay", "--data-dir", "nope", "t.json"],
        2,
        "not an existing folder",
    ),
    (
        "view-out-folder",
        folder("page"),
        ["view", str(VARIANT_TRACE), "-o", "page"],
        2,
        "is a folder",
    ),
    (
        "view-out-symlink",
        symlink("page.html"),
        ["view", str(VARIANT_TRACE), "-o", "page.html"],
        2,
        "symbolic link",
    ),
    ("view-missing-trace", NOTHING, ["view", "nope.json", "-o", "p.html"], 2, "no such file"),
    (
        "sample-count-0",
        NOTHING,
        ["traces", "sample", "--count", "0", "--steps", "3", "--seed", "1", "--out", "o"],
        2,
        "--count must be from 1",
    ),
    (
        "sample-count-huge",
        NOTHING,
        ["traces", "sample", "--count", "100000000", "--steps", "3", "--seed", "1", "--out", "o"],
        2,
        "--count must be from 1",
    ),
    (
        "sample-steps-negative",
        NOTHING,
        ["traces", "sample", "--count", "1", "--steps", "-1", "--seed", "1", "--out", "o"],
        2,
        "--steps must be",
    ),
    (
        "sample-steps-huge",
        NOTHING,
        ["traces", "sample", "--count", "1", "--steps", "100000000", "--seed", "1", "--out", "o"],
        2,
        "--steps must be",
    ),
    (
        "sample-out-is-a-file",
        write("o", "mine"),
        ["traces", "sample", "--count", "1", "--steps", "3", "--seed", "1", "--out", "o"],
        2,
        "cannot write",
    ),
    (
        "sample-missing-option",
        NOTHING,
        ["traces", "sample", "--count", "1"],
        2,
        "the following arguments are required",
    ),
    (
        "prove-depth-0",
        NOTHING,
        ["prove", "--variant", "stale_votes", "--depth", "0"],
        2,
        "--depth must be at least 1",
    ),
    ("prove-drop-unknown", NOTHING, ["prove", "--drop", "Nope"], 2, "unknown lemma 'Nope'"),
    ("prove-variant-unknown", NOTHING, ["prove", "--variant", "nope"], 2, "unknown variant"),
    ("mutate-fail-under", NOTHING, ["mutate", "--fail-under", "150"], 2, "percentage"),
    ("mutate-walks-negative", NOTHING, ["mutate", "--walks", "-1"], 2, "at least 0"),
    ("mutate-traces-missing", NOTHING, ["mutate", "--traces", "nope"], 2, "is not a folder"),
    ("verify-junit-folder", folder("j"), ["verify", "--junit", "j"], 2, "is a folder"),
    ("verify-junit-symlink", symlink("j.xml"), ["verify", "--junit", "j.xml"], 2, "symbolic link"),
    ("verify-only-unknown", NOTHING, ["verify", "--only", "nope"], 2, "invalid choice"),
    ("verify-traces-missing", NOTHING, ["verify", "--traces", "nope"], 2, "is not a folder"),
    ("unknown-command", NOTHING, ["frobnicate"], 2, "invalid choice"),
    ("no-command", NOTHING, [], 2, "required"),
    (
        "unicode-trace-name",
        copy(GOOD_TRACE, "trace-ü-日本.itf.json"),
        ["replay", "trace-ü-日本.itf.json"],
        0,
        None,
    ),
]


def snapshot(box: Path) -> dict[str, tuple]:
    """Every entry under ``box``: kind, size and content (what a command could change)."""
    entries = {}
    for path in sorted(box.rglob("*")):
        info = path.lstat()
        if path.is_symlink():
            entries[str(path)] = ("link", os.readlink(path))
        elif path.is_file():
            entries[str(path)] = ("file", info.st_size, path.read_bytes()[:4096])
        else:
            entries[str(path)] = ("other", info.st_mode)
    return entries


@pytest.mark.parametrize(
    ("setup", "argv", "code", "words"), [case[1:] for case in CASES], ids=[c[0] for c in CASES]
)
def test_hostile_input(tmp_path, setup, argv, code, words):
    box = tmp_path / "box"
    box.mkdir()
    if setup is not None:
        setup(box)
    before = snapshot(box)
    proc = subprocess.run(
        [ELECTKIT, *argv],
        cwd=box,
        capture_output=True,
        text=True,
        timeout=300,
        stdin=subprocess.DEVNULL,
    )
    assert proc.returncode == code, proc.stderr + proc.stdout[-1000:]
    assert "Traceback" not in proc.stderr + proc.stdout
    if code == 2:
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1, proc.stderr
        assert words in lines[0], lines[0]
        assert snapshot(box) == before  # nothing the user had changed, nothing left behind
    shutil.rmtree(box, ignore_errors=True)


def test_the_table_is_large_enough():
    assert len(CASES) >= 50
    assert {case[2][0] if case[2] else "" for case in CASES} >= {
        "check",
        "replay",
        "view",
        "traces",
        "prove",
        "mutate",
        "verify",
    }


def test_piped_into_head_stops_quietly():
    proc = subprocess.run(
        f"{ELECTKIT} check --servers 2 --max-term 1 | head -1",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 0 and "raft_election" in proc.stdout
    assert proc.stderr == ""


def test_a_closed_stdout_is_one_line():
    proc = subprocess.run(
        f"{ELECTKIT} check --servers 2 --max-term 1 >&-",
        shell=True,
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [
        "error: standard output is closed; electkit writes its results there (redirect it "
        "to a file or /dev/null)"
    ]


FAKES_A_PASS = """
import os, sys
from spec.model import Model, Property, Step

PARENT = os.getpid()


class Exits(Model):
    \"\"\"A counter up to 2,000 whose steps, at 1,500, do what a model must never do.\"\"\"

    name = "exits"

    def init_states(self):
        return [0]

    def steps(self, n):
        if n == 1500 and WHERE:
            HOW
        return iter([Step("Inc", {}, n + 1)] if n < 2000 else [])

    def properties(self):
        return [Property("Small", "always", lambda n: n <= 2000),
                Property("Moved", "sometimes", lambda n: n > 0)]

    def to_json(self, n):
        return {"n": n}

    def from_json(self, value):
        return value["n"]
"""


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize(
    ("how", "code", "words"),
    [
        ("os._exit(0)", 2, "a worker process died"),
        ("sys.exit(0)", 2, "sys.exit"),
        ("raise KeyboardInterrupt", 130, "interrupted"),
    ],
    ids=["os._exit", "sys.exit", "KeyboardInterrupt"],
)
def test_a_model_cannot_fake_a_pass(tmp_path, workers, how, code, words):
    if how.startswith("os._exit") and workers == "1":
        pytest.skip("in the checker's own process, os._exit ends it: only a worker's is caught")
    where = "os.getpid() != PARENT" if how.startswith("os._exit") else "True"
    (tmp_path / "fake.py").write_text(FAKES_A_PASS.replace("HOW", how).replace("WHERE", where))
    proc = subprocess.run(
        [ELECTKIT, "check", "--spec", "fake.py:Exits", "--workers", workers, "--json", "--quiet"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == code, proc.stderr
    assert words in proc.stderr + proc.stdout and "Traceback" not in proc.stderr
    assert '"verdict": "ok"' not in proc.stdout
