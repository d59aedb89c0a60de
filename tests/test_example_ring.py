"""The worked example (examples/ring/, docs/tutorial.md) end to end, from the command line:
a protocol written only through the public API checks, samples, views, replays against its
own implementation, catches a planted bug, mutates and is gated by `electkit verify`."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ELECTKIT, ROOT

EXAMPLE = ROOT / "examples" / "ring"
SPEC = f"{EXAMPLE}/ring_bundle.py:BUNDLE"


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([ELECTKIT, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def last_json(proc: subprocess.CompletedProcess) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_check_holds_and_names_what_was_checked():
    proc = run("check", "--spec", SPEC, "--param", "servers=4", "--json", "--quiet")
    assert proc.returncode == 0, proc.stderr
    out = last_json(proc)
    assert out["verdict"] == "ok" and out["spec"] == "ring_election"
    assert out["parameters"] == {"servers": 4, "variant": None}
    assert out["properties"] == ["OneLeader", "LeaderIsLargest", "LeaderElected"]
    assert out["symmetry"] is False  # the model declares none: checked without it
    plain = last_json(
        run("check", "--spec", SPEC, "--param", "servers=4", "--no-symmetry", "--json", "--quiet")
    )
    assert plain["distinct_states"] == out["distinct_states"] > 100


def test_planted_model_bug_gives_a_trace_that_replays_views_and_diverges(tmp_path):
    trace = tmp_path / "cex.itf.json"
    proc = run(
        "check",
        "--spec",
        SPEC,
        "--param",
        "variant=forward_smaller",
        "--trace-out",
        str(trace),
        "--json",
        "--quiet",
    )
    assert proc.returncode == 1, proc.stderr
    out = last_json(proc)
    assert out["verdict"] == "violation" and out["property"] == "LeaderIsLargest"
    assert out["trace_length"] == 4
    # The implementation refuses to follow the variant: the replay diverges (exit 1) ...
    replay = run("replay", "--spec", SPEC, str(trace))
    assert replay.returncode == 1 and "diverges at step" in replay.stdout
    assert f"rerun: electkit replay --spec {SPEC}" in replay.stdout
    # ... and the page shows the ring's lanes and the messages.
    page = tmp_path / "cex.html"
    assert run("view", "--spec", SPEC, str(trace), "-o", str(page)).returncode == 0
    html = page.read_text()
    assert "server 3" in html and "Elect" in html and "LeaderIsLargest" in html


def test_a_trace_of_an_unknown_protocol_is_refused_in_one_line():
    proc = run("replay", str(EXAMPLE / "traces" / "forward_smaller-N3.itf.json"))
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "unknown protocol 'ring_election'" in lines[0]


def test_sampled_walks_replay_against_the_implementation(tmp_path):
    proc = run(
        "traces",
        "sample",
        "--spec",
        SPEC,
        "--param",
        "servers=4",
        "--count",
        "5",
        "--steps",
        "30",
        "--seed",
        "3",
        "--out",
        str(tmp_path),
        "--json",
    )
    assert proc.returncode == 0, proc.stderr
    assert len(last_json(proc)["traces"]) == 5
    replay = run("replay", "--spec", SPEC, "--json", str(tmp_path))
    assert replay.returncode == 0, replay.stdout
    assert last_json(replay)["conforming"] == 5


def planted(tmp_path: Path, old: str, new: str) -> str:
    """A scratch copy of the example whose implementation has one line changed."""
    copy = tmp_path / "ring"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns("__pycache__"))
    node = copy / "ring_node.py"
    source = node.read_text()
    assert old in source
    node.write_text(source.replace(old, new))
    return f"{copy}/ring_bundle.py:BUNDLE"


def test_planted_implementation_bug_is_caught_by_replay(tmp_path):
    # The bug: a node forwards smaller ids instead of swallowing them.
    spec = planted(tmp_path, "if message.candidate > self.id:", "if True:")
    proc = run(
        "replay",
        "--spec",
        spec,
        "--expect",
        "--json",
        str(Path(spec.split(":")[0]).parent / "traces"),
    )
    assert proc.returncode == 1
    walk = next(r for r in last_json(proc)["results"] if "walk" in r["trace"])
    assert walk["verdict"] == "diverges"
    assert "unexpected message" in {d["kind"] for d in walk["diff"]}


def test_verify_gates_the_example_and_fails_on_the_planted_bug(tmp_path):
    proc = run("verify", "--spec", SPEC, "--json")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = last_json(proc)
    assert out["spec"] == "ring_election"
    assert [s["name"].split(" ")[0] for s in out["stages"]] == ["model", "faulty", "conformance"]
    broken = run(
        "verify", "--spec", planted(tmp_path, "self.leader = self.id\n", "pass\n"), "--json"
    )
    assert broken.returncode == 1
    failed = [s for s in last_json(broken)["stages"] if not s["passed"]]
    assert [s["name"] for s in failed] == ["conformance (traces/)"]


def test_mutate_runs_on_the_example():
    proc = run("mutate", "--spec", SPEC, "--walks", "10", "--json")
    assert proc.returncode == 0, proc.stderr
    report = last_json(proc)
    assert report["total"] >= 10 and report["killed"] >= report["total"] * 0.7


SCRATCH = '''
from typing import NamedTuple
from spec.model import Model, Property, Step


class Lock(NamedTuple):
    holder: int | None = None
    waiting: frozenset = frozenset()


class TinyLock(Model):
    """Clients 1..N take a lock and give it back: written from the documented members only."""

    name = "tiny_lock"
    symmetric = SYMMETRIC

    def __init__(self, clients: int = 2, broken: bool = False):
        self.clients, self.broken = clients, broken

    def init_states(self):
        return [Lock()]

    def steps(self, lock):
        for c in range(1, self.clients + 1):
            if lock.holder is None or self.broken:
                yield Step("Acquire", {"c": c}, Lock(c, lock.waiting | {lock.holder} - {None}))
            if lock.holder == c:
                yield Step("Release", {"c": c}, Lock(None, lock.waiting))

    def properties(self):
        return [Property("Exclusive", "always", lambda lock: not lock.waiting),
                Property("Taken", "sometimes", lambda lock: lock.holder is not None)]

    def to_json(self, lock):
        holder = {"tag": "None", "value": {"#tup": []}} if lock.holder is None else lock.holder
        return {"holder": holder, "waiting": {"#set": sorted(lock.waiting)}}

    def from_json(self, value):
        holder = None if isinstance(value["holder"], dict) else value["holder"]
        return Lock(holder, frozenset(value["waiting"]["#set"]))

    def server_ids(self):
        return range(1, self.clients + 1)

    def permute(self, lock, perm):
        return Lock(None if lock.holder is None else perm[lock.holder],
                    frozenset(perm[c] for c in lock.waiting))
'''


@pytest.mark.parametrize("symmetric", [False, True])
def test_a_model_from_scratch_checks_writes_reads_and_views_traces(tmp_path, symmetric):
    path = tmp_path / "tiny.py"
    path.write_text(SCRATCH.replace("SYMMETRIC", str(symmetric)))
    spec = f"{path}:TinyLock"
    for extra in ([], ["--no-symmetry"]):
        ok = run("check", "--spec", spec, "--param", "clients=3", "--json", "--quiet", *extra)
        assert ok.returncode == 0, ok.stderr
        assert last_json(ok)["symmetry"] is (symmetric and not extra)
    trace = tmp_path / "cex.itf.json"
    bad = run(
        "check",
        "--spec",
        spec,
        "--param",
        "broken=true",
        "--trace-out",
        str(trace),
        "--json",
        "--quiet",
    )
    assert bad.returncode == 1 and last_json(bad)["property"] == "Exclusive"
    doc = json.loads(trace.read_text())
    assert doc["#meta"]["spec"] == "tiny_lock"
    assert doc["#meta"]["parameters"] == {"clients": 2, "broken": True}
    assert [s["#meta"].get("action") for s in doc["states"]] == [None, "Acquire", "Acquire"]
    page = tmp_path / "cex.html"
    shown = run("view", "--spec", spec, str(trace), "-o", str(page))
    assert shown.returncode == 0, shown.stderr
    assert "Acquire(c=1)" in page.read_text()
    assert run("view", str(trace), "-o", str(page)).returncode == 2  # unknown without --spec


def test_a_model_whose_steps_break_under_renaming_is_told_in_one_line(tmp_path):
    path = tmp_path / "lopsided.py"
    # Client 1 may always acquire: renaming 1 and 2 changes what can happen.
    path.write_text(
        SCRATCH.replace("SYMMETRIC", "True").replace(
            "if lock.holder is None or self.broken:", "if lock.holder is None or c == 1:"
        )
    )
    proc = run("check", "--spec", f"{path}:TinyLock", cwd=tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1
    assert "not symmetric" in lines[0] and "--no-symmetry" in lines[0]
    assert run("check", "--spec", f"{path}:TinyLock", "--no-symmetry", cwd=tmp_path).returncode == 1


def test_model_based_testing_takes_any_bundle():
    import sys

    from checker.conformance.mbt import run_conformance_test
    from checker.protocols.registry import resolve

    bundle = resolve(SPEC)
    run_conformance_test(bundle, {"servers": 4}, max_examples=50)
    node = sys.modules["ring_node"]

    class ForgetsTheLeader(node.RingNode):
        def deliver(self, message):
            sent = super().deliver(message)
            if message.kind == "Elected":
                self.leader = None
            return sent

    with pytest.raises(AssertionError, match="leader"):
        run_conformance_test(bundle, {"servers": 3}, max_examples=200, node_class=ForgetsTheLeader)
