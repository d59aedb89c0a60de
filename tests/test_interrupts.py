"""Ctrl-C (and SIGTERM) at any moment of a long-running command: exit 130 within seconds, no
traceback, no process left behind, and a word on what was done."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import psutil
import pytest

from tests.conftest import ELECTKIT, ROOT

LONG_RUNNING = {
    "check": ["check", "--servers", "3", "--max-term", "3"],
    "check-workers": ["check", "--servers", "3", "--max-term", "3", "--workers", "2"],
    "check-dask": [
        "check",
        "--servers",
        "3",
        "--max-term",
        "3",
        "--workers",
        "2",
        "--scheduler",
        "local",
    ],
    "verify": ["verify"],
    "prove-variant": ["prove", "--variant", "stale_votes", "--depth", "12"],
    "mutate": ["mutate", "--walks", "2000"],
    "sample": [
        "traces",
        "sample",
        "--count",
        "5000",
        "--steps",
        "200",
        "--seed",
        "1",
        "--out",
        "samples",
    ],
    "replay": ["replay", *[str(ROOT / "traces" / "raft_election")] * 20],
}


def interrupt(argv: list[str], after: float, sig: int, cwd) -> tuple[int, str, float, list]:
    proc = subprocess.Popen(
        [ELECTKIT, *argv],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        time.sleep(after)
        if proc.poll() is not None:
            proc.communicate()  # close the pipes
            pytest.skip(f"{argv[0]} finished within {after} s on this machine")
        family = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        sent = time.monotonic()
        if sig == signal.SIGINT:
            os.killpg(proc.pid, sig)  # as a terminal does: the whole process group
        else:
            os.kill(proc.pid, sig)  # as a supervisor does: the process alone
        out, err = proc.communicate(timeout=60)
        waited = time.monotonic() - sent
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    time.sleep(0.5)
    left = [
        pid
        for pid in family
        if psutil.pid_exists(pid) and psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    ]
    return proc.returncode, out + err, waited, left


@pytest.mark.parametrize("after", [0.3, 2.5], ids=["early", "mid-run"])
@pytest.mark.parametrize("name", list(LONG_RUNNING))
def test_ctrl_c(name, after, tmp_path):
    code, out, waited, left = interrupt(LONG_RUNNING[name], after, signal.SIGINT, tmp_path)
    assert code == 130, out[-2000:]
    assert "Traceback" not in out and "Exception ignored" not in out, out[-3000:]
    assert "interrupted" in out
    assert waited < 10  # within 2 s on a quiet machine; the margin is for a loaded one
    assert left == []


@pytest.mark.parametrize("name", ["check", "check-workers", "sample"])
def test_sigterm(name, tmp_path):
    code, out, _, left = interrupt(LONG_RUNNING[name], 2.0, signal.SIGTERM, tmp_path)
    assert code == 130, out[-2000:]
    assert "Traceback" not in out and left == []


def test_no_half_written_output(tmp_path):
    code, out, _, _ = interrupt(LONG_RUNNING["sample"], 2.0, signal.SIGINT, tmp_path)
    assert code == 130
    written = sorted((tmp_path / "samples").glob("*"))
    assert written, "nothing was written in 2 s"
    assert all(p.name.startswith("sample-") and p.name.endswith(".itf.json") for p in written)


@pytest.mark.parametrize("after", [0.3, 2.5], ids=["while-starting", "running"])
def test_ctrl_c_stops_a_cluster_cleanly(after, tmp_path):
    """For `cluster`, Ctrl-C is the way to stop (exit 0); never a node's traceback, even
    while the nodes are still starting, and no node left behind."""
    code, out, waited, left = interrupt(
        ["cluster", "--nodes", "3", "--dir", str(tmp_path / "c")], after, signal.SIGINT, tmp_path
    )
    assert code == 0, out[-2000:]
    assert "Traceback" not in out and "cluster: stopped" in out
    assert left == []
