"""The README's tour, run command by command as a reader would, with the exit codes and the
words each line promises."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import time

import pytest

from tests.conftest import ROOT

# command (as the README writes it, after ".venv/bin/electkit") -> (exit code, words promised)
PROMISES = {
    "check": (0, ["every property holds"]),
    "check --servers 4 --max-term 1 --no-symmetry --json": (0, ['"verdict": "ok"']),
    "check --variant volatile_vote --property ElectionSafety": (
        1,
        ["violation of ElectionSafety", "trace written to"],
    ),
    "check --max-term 3 --max-depth 10 --workers 2": (
        0,
        ["every property holds", "bounded by --max-depth", "2 partition(s)"],
    ),
    "check --simulate --walks 100 --depth 60 --seed 1 --max-term 25": (
        0,
        ["no violation found", "not a proof", "LeaderElected"],
    ),
    "prove": (0, ["PROVED"]),
    "prove --drop VotesAreGranted": (1, ["NOT PROVED", "cti ", "after ReceiveGrant"]),
    "replay traces/raft_election/correct": (0, ["conform, 0 diverge"]),
    "replay traces/raft_election/variants/volatile_vote-N3-T2.itf.json": (
        1,
        ["diverges at step 4: Restart(s=3)"],
    ),
    "view traces/raft_election/variants/volatile_vote-N3-T2.itf.json -o out/trace.html": (
        0,
        ["wrote out/trace.html"],
    ),
    "traces sample --count 5 --steps 40 --seed 1 --out out/samples": (0, ["sample-s1-0005"]),
    "mutate --file node.py --only _on_vote": (0, ["mutants killed"]),
    "cluster --nodes 5 --dir out/cluster": (0, ["elected leader", "cluster: stopped"]),
    "chaos --duration 20 --seed 1 --dir out/chaos": (0, ["every event fits"]),
    "validate out/chaos": (0, ["every event fits"]),
    "verify --junit out/verify.xml": (0, ["PASSED"]),
    "check --spec lease_election --param clients=2 --param max_revision=3": (
        1, ["violation of BeliefExclusion", "trace written to"]),
    "verify --spec lease_election": (0, ["PASSED"]),
    "check --spec examples/ring/ring_bundle.py:BUNDLE --param servers=4": (
        0,
        ["every property holds"],
    ),
}


def tour() -> list[str]:
    text = (ROOT / "README.md").read_text()
    block = text.split("## A short tour", 1)[1].split("```")[1]
    return [
        re.split(r"\s+#", line, maxsplit=1)[0].strip().removeprefix(".venv/bin/electkit ")
        for line in block.splitlines()
        if line.startswith(".venv/bin/electkit")
    ]


def test_the_tour_is_the_one_tested():
    assert tour() == list(PROMISES)


@pytest.mark.parametrize("command", list(PROMISES))
def test_tour_command(command, electkit_cmd):
    code, words = PROMISES[command]
    argv = [*electkit_cmd, *shlex.split(command)]
    env = {**os.environ, "COLUMNS": "200"}
    if command.startswith("chaos"):  # the tour's folder, from an earlier run of the tour
        shutil.rmtree(ROOT / "out" / "chaos", ignore_errors=True)
    if command.startswith("cluster"):
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        try:
            time.sleep(6)  # the README: "a real cluster; Ctrl-C stops it"
            os.killpg(proc.pid, signal.SIGINT)
            out, _ = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        returncode = proc.returncode
    else:
        done = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        out, returncode = done.stdout + done.stderr, done.returncode
    assert returncode == code, out[-2000:]
    for word in words:
        assert word in out, f"{command!r} promised {word!r}:\n{out[-2000:]}"
    assert "Traceback" not in out
