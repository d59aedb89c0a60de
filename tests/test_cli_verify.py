"""`electkit verify`, the CI gate: passes on the project, fails when a stage fails."""

from __future__ import annotations

import json
import shutil
import subprocess
from xml.etree import ElementTree as ET

from checker.cli.verify import stages_of
from checker.protocols.registry import bundle_named
from tests.conftest import ELECTKIT, ROOT


def run(*args: str, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [ELECTKIT, "verify", *args], capture_output=True, text=True, cwd=cwd, timeout=600
    )


def test_gate_passes_with_every_stage_and_writes_junit(tmp_path):
    junit = tmp_path / "verify.xml"
    proc = run("--json", "--junit", str(junit))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["verdict"] == "pass"
    names = [s["name"] for s in report["stages"]]
    bundle = bundle_named("raft_election")
    expected = len(stages_of(bundle, bundle.gate.corpus))  # every stage the bundle has
    assert expected >= 9 and len(names) == expected
    assert all(s["passed"] for s in report["stages"])
    assert "random schedules (mbt)" in names
    suite = ET.parse(junit).getroot()
    assert suite.get("tests") == str(expected) and suite.get("failures") == "0"


def test_gate_fails_on_a_trace_that_does_not_replay_as_expected(tmp_path):
    bad = tmp_path / "traces"
    bad.mkdir()
    source = ROOT / "traces" / "raft_election" / "variants" / "volatile_vote-N3-T2.itf.json"
    doc = json.loads(source.read_text())
    doc["#meta"]["expect"] = "conforms"  # a lie: it diverges at step 4
    del doc["#meta"]["expect_step"]
    (bad / "lie.itf.json").write_text(json.dumps(doc))
    shutil.copy(ROOT / "traces" / "raft_election" / "correct" / "single-server.itf.json", bad)
    junit = tmp_path / "verify.xml"
    proc = run("--only", "replay", "--traces", "traces", "--junit", str(junit), cwd=tmp_path)
    assert proc.returncode == 1
    assert "FAIL" in proc.stdout and "1/2 traces as expected" in proc.stdout
    failure = ET.parse(junit).getroot().find("testcase/failure")
    assert failure is not None and "diverges at step 4" in failure.get("message")
