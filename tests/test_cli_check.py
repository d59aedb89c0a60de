"""`electkit check` as a user runs it: real processes, exit codes, the JSON line, bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ELECTKIT, ROOT

KEYS = {
    "verdict",
    "property",
    "distinct_states",
    "generated_states",
    "depth",
    "seconds",
    "trace",
    "trace_length",
    "symmetry",
}


def run(*args: str, cwd=ROOT, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ELECTKIT, *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=300,
        env={**os.environ, **(env or {})},
    )


def last_json(out: str) -> dict:
    return json.loads(out.strip().splitlines()[-1])


def test_ok_run_json_contract():
    proc = run("check", "--servers", "2", "--max-term", "2", "--no-symmetry", "--json")
    assert proc.returncode == 0, proc.stderr
    result = last_json(proc.stdout)
    assert KEYS <= result.keys()
    assert (result["verdict"], result["distinct_states"], result["depth"]) == ("ok", 513, 10)
    assert result["symmetry"] is False and result["trace"] is None


def test_violation_writes_shortest_trace_and_exits_1(tmp_path):
    out = tmp_path / "cex.itf.json"
    proc = run(
        "check",
        "--variant",
        "volatile_vote",
        "--property",
        "ElectionSafety",
        "--trace-out",
        str(out),
        "--json",
    )
    assert proc.returncode == 1, proc.stderr
    result = last_json(proc.stdout)
    assert result["verdict"] == "violation" and result["property"] == "ElectionSafety"
    assert result["trace"] == str(out) and result["trace_length"] == 7
    doc = json.loads(out.read_text())
    assert doc["#meta"]["parameters"]["variant"] == "volatile_vote"
    assert len(doc["states"]) == 8
    assert "counterexample" in proc.stderr  # the readable table goes with the JSON run


def test_default_trace_goes_to_the_projects_scratch_folder_not_the_current_one(tmp_path):
    proc = run("check", "--servers", "2", "--variant", "quorum_off_by_one", cwd=tmp_path)
    assert proc.returncode == 1
    assert list(tmp_path.iterdir()) == []  # nothing in a folder that may be anyone's
    written = Path(re.search(r"trace written to (\S+)", proc.stdout).group(1))
    assert written.parent == ROOT / "traces" / "counterexamples" and written.is_file()
    assert "Timeout(s=1)" in proc.stdout and "what changed" in proc.stdout


def test_same_counterexample_whatever_the_hash_seed(tmp_path):
    files = []
    for seed in ("1", "2"):
        out = tmp_path / f"cex{seed}.itf.json"
        run(
            "check",
            "--variant",
            "stale_votes",
            "--trace-out",
            str(out),
            "--quiet",
            env={"PYTHONHASHSEED": seed},
        )
        files.append(out.read_text())
    assert files[0] == files[1]


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--servers", "0"], "--servers must be at least 1"),
        (["--max-term", "-1"], "--max-term must be at least 0"),
        (["--variant", "nope"], "unknown variant 'nope'"),
        (["--spec", "paxos"], "unknown protocol 'paxos'"),
        (["--property", "Liveness"], "'Liveness' is not an always-property"),
        (["--servers", "three"], "--servers must be a whole number"),
        (["--workers", "0"], "--workers must be from 1 to 256"),
        (["--spec", "missing.py:Model"], "does not exist"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args, needle):
    proc = run("check", *args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr
    assert "Traceback" not in proc.stderr


BROKEN = """
from spec.raft_election import RaftElection

class Raises(RaftElection):
    def on_vote(self, srv, m):
        if m.term == 2:
            raise ZeroDivisionError("boom")
        return super().on_vote(srv, m)

class PropertyRaises(RaftElection):
    def state_properties(self):
        return (("Boom", "always", lambda servers, elected: 1 / 0),)

class InitRaises(RaftElection):
    def init_local(self, s):
        raise RuntimeError("no init")

class NotAModel:
    pass

class Unhashable(RaftElection):
    def restart(self, s, srv):
        out = super().restart(s, srv)
        return out._replace(local=[out.local]) if srv.term == 1 else out
"""


@pytest.mark.parametrize(
    ("cls", "needles"),
    [
        ("Raises", ["Receive(m=Vote(t2", "ZeroDivisionError: boom", "reached by: Timeout(s="]),
        ("Unhashable", ["Restart(s=1)", "not hashable", "reached by: Timeout(s=1)"]),
    ],
)
def test_a_failing_model_is_reported_with_action_state_and_path(tmp_path, cls, needles):
    spec = tmp_path / "broken.py"
    spec.write_text(BROKEN)
    proc = run("check", "--spec", f"{spec}:{cls}", env={"PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2, proc.stdout
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0]
    assert '"term"' in lines[0]  # the state itself


@pytest.mark.parametrize("workers", ["1", "2"])
def test_interrupt_stops_cleanly_with_what_was_explored(workers, tmp_path):
    import signal
    import time

    stats = tmp_path / "stats.jsonl"
    proc = subprocess.Popen(
        [ELECTKIT, "check", "--servers", "4", "--max-term", "3", "--json", "--workers", workers,
         "--stats", str(stats)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        start_new_session=True,
    )  # fmt: skip
    # Interrupted mid-search, not while starting (numba compiles on a fresh checkout).
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and _text(stats).count('"level"') < 5:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal does: to the whole process group
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    result = last_json(out)
    assert result["verdict"] == "interrupted" and result["distinct_states"] > 0
    # what was explored is counted: every action that changed a state was also enabled
    for counts in result["coverage"].values():
        assert counts["enabled"] >= counts["changed"]
    assert result["generated_states"] > result["distinct_states"]


def _text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def test_vacuous_bound_exits_4_without_a_trace(tmp_path):
    proc = run("check", "--servers", "3", "--max-term", "0", "--json", cwd=tmp_path)
    assert proc.returncode == 4  # its own code: neither a pass nor a violation
    result = last_json(proc.stdout)
    assert result["vacuous"] is True and result["property"] == "LeaderElected"
    assert result["verdict"] == "vacuous"
    assert result["trace"] is None and not (tmp_path / "traces").exists()
    assert "never witnessed" in proc.stderr


SAMPLE = ["traces", "sample", "--count", "1", "--steps", "3", "--seed", "1", "--out", "out"]


@pytest.mark.parametrize(
    ("command", "cls", "needle"),
    [
        (["check"], "PropertyRaises", "the model raised ZeroDivisionError"),
        (["check"], "InitRaises", "the model raised RuntimeError: no init"),
        (["check"], "NotAModel", "is not a model: it has no init_states()"),
        (SAMPLE, "InitRaises", "the model raised RuntimeError: no init"),
        (SAMPLE, "NotAModel", "is not a model: it has no init_states()"),
    ],
)
def test_any_failure_of_a_user_model_is_one_line_exit_2(tmp_path, command, cls, needle):
    spec = tmp_path / "broken.py"
    spec.write_text(BROKEN)
    proc = run(*command, "--spec", f"{spec}:{cls}", cwd=tmp_path, env={"PYTHONPATH": str(ROOT)})
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], proc.stderr
