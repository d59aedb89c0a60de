"""`electkit replay` and `electkit traces sample` as a user runs them."""

from __future__ import annotations

import json
import subprocess

import pytest

from checker.traces import to_itf, trace_from_actions
from spec.raft_election import Message, RaftElection
from tests.conftest import ELECTKIT, ROOT


def run(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([ELECTKIT, *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def good_doc() -> dict:
    trace = trace_from_actions(
        RaftElection(3, 2),
        [
            ("Timeout", {"s": 1}),
            ("Receive", {"m": Message("RequestVote", 1, 1, 2)}),
            ("Receive", {"m": Message("Vote", 1, 2, 1, True)}),
        ],
    )
    return to_itf(trace)


def test_conforming_trace_exit_0_and_json(tmp_path):
    path = tmp_path / "ok.itf.json"
    path.write_text(json.dumps(good_doc()))
    proc = run("replay", str(path), "--json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {k: out[k] for k in ("traces", "conforming", "diverging", "steps")} == {
        "traces": 1,
        "conforming": 1,
        "diverging": 0,
        "steps": 3,
    }
    assert out["results"][0]["verdict"] == "conforms"


def test_diverging_trace_exit_1_with_report():
    path = ROOT / "traces" / "raft_election" / "variants" / "volatile_vote-N3-T2.itf.json"
    proc = run("replay", str(path))
    assert proc.returncode == 1
    assert "diverges at step 4: Restart(s=3)" in proc.stdout
    assert "voted_for[3]: expected none, actual 1" in proc.stdout
    assert f"rerun: electkit replay {path}" in proc.stdout
    # Judged by its #meta, the same divergence is the expected one.
    assert run("replay", "--expect", str(path)).returncode == 0


def test_folder_of_traces_with_expectations():
    proc = run("replay", "--expect", "--json", "traces")
    assert proc.returncode == 0, proc.stdout[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["traces"] >= 10 and out["diverging"] >= 6


def _mutated(mutate):
    doc = good_doc()
    out = mutate(doc)
    return out if isinstance(out, str) else json.dumps(doc)


@pytest.mark.parametrize(
    ("mutate", "needles"),
    [
        (lambda d: "[1, 2", ["not JSON"]),
        (lambda d: d["states"][2].pop("votes"), ["step 2", "field (the state)", "votes"]),
        (lambda d: d["#meta"].__setitem__("spec", "paxos"), ["unknown protocol 'paxos'"]),
        (
            lambda d: d["states"][1]["#meta"].__setitem__("action", "Elect"),
            ["step 1", "#meta.action"],
        ),
        (
            lambda d: d["states"][1]["#meta"]["params"].__setitem__("s", 7),
            ["step 1", "#meta.params.s", "server 7 is not one of 1..3"],
        ),
        (
            lambda d: d["states"][3]["#meta"]["params"]["m"].__setitem__("term", 2),
            ["step 3", "not enabled"],
        ),
    ],
    ids=["not-json", "schema", "unknown-spec", "unknown-action", "unknown-server", "not-enabled"],
)
def test_bad_trace_exit_2_names_file_step_field(tmp_path, mutate, needles):
    path = tmp_path / "bad.itf.json"
    path.write_text(_mutated(mutate))
    proc = run("replay", str(path))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert str(path) in lines[0]
    for needle in needles:
        assert needle in lines[0]


def test_missing_path_exit_2(tmp_path):
    proc = run("replay", str(tmp_path / "nope.json"))
    assert proc.returncode == 2 and "no such file" in proc.stderr


def test_sample_is_reproducible_from_the_seed(tmp_path):
    for out in ("a", "b"):
        proc = run(
            "traces",
            "sample",
            "--count",
            "3",
            "--steps",
            "25",
            "--seed",
            "11",
            "--out",
            str(tmp_path / out),
        )
        assert proc.returncode == 0, proc.stderr
    a = sorted((tmp_path / "a").iterdir())
    b = sorted((tmp_path / "b").iterdir())
    assert len(a) == 3 and [p.read_text() for p in a] == [p.read_text() for p in b]
    assert run("replay", str(tmp_path / "a")).returncode == 0
    other = run(
        "traces",
        "sample",
        "--count",
        "1",
        "--steps",
        "25",
        "--seed",
        "12",
        "--out",
        str(tmp_path / "c"),
    )
    assert other.returncode == 0
    assert next((tmp_path / "c").iterdir()).read_text() != a[0].read_text()


def test_itf_bigints_are_read_and_floats_refused(tmp_path):
    doc = good_doc()
    doc["states"][1]["term"]["#map"][0][1] = {"#bigint": "1"}  # as Quint and Apalache write it
    big = tmp_path / "big.itf.json"
    big.write_text(json.dumps(doc))
    assert run("replay", str(big)).returncode == 0
    doc["states"][1]["term"]["#map"][0][1] = 1.0
    flt = tmp_path / "float.itf.json"
    flt.write_text(json.dumps(doc))
    proc = run("replay", str(flt))
    assert proc.returncode == 2 and "step 1: field term" in proc.stderr
    assert "not an integer" in proc.stderr


def test_a_trace_cannot_name_code_to_run(tmp_path):
    evil = tmp_path / "evil.py"
    marker = tmp_path / "ran"
    evil.write_text(f"open({str(marker)!r}, 'w').write('x')\nclass X: pass\n")
    doc = good_doc()
    doc["#meta"]["spec"] = f"{evil}:X"
    path = tmp_path / "evil.itf.json"
    path.write_text(json.dumps(doc))
    proc = run("replay", str(path))
    assert proc.returncode == 2 and "unknown protocol" in proc.stderr
    assert not marker.exists()


def test_recorded_sends_must_match_the_action(tmp_path):
    doc = good_doc()
    doc["states"][1]["#meta"]["sends"] = []
    path = tmp_path / "sends.itf.json"
    path.write_text(json.dumps(doc))
    proc = run("replay", str(path))
    assert proc.returncode == 2 and "step 1: field #meta.sends" in proc.stderr
