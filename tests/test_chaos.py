"""`electkit chaos`: the fault schedule, a real cluster under faults that validates, and reaping."""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest

from impl.chaos import ChaosConfig, fault_schedule
from impl.errors import ConfigError


def _processes_in(directory: Path) -> list[int]:
    """Pids of live processes whose command line names ``directory`` (the cluster's nodes)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            state = (proc / "stat").read_text().split(") ", 1)[1][0]
        except OSError:
            continue
        if str(directory) in cmdline and state != "Z":
            found.append(int(proc.name))
    return found


def test_the_schedule_is_a_function_of_the_seed() -> None:
    config = ChaosConfig(duration=60, seed=11)
    schedule = fault_schedule(config)
    assert schedule == fault_schedule(ChaosConfig(duration=60, seed=11))
    assert schedule != fault_schedule(ChaosConfig(duration=60, seed=12))
    counts = Counter(f.kind for f in schedule)
    assert counts["kill"] >= 100 and counts["pause"] >= 20 and counts["partition"] >= 20
    assert all(0 <= f.at < 60 for f in schedule)
    assert [f.at for f in schedule] == sorted(f.at for f in schedule)


def test_faults_on_one_node_never_overlap() -> None:
    schedule = fault_schedule(ChaosConfig(duration=60, seed=5, kill_rate=10))
    until: dict[int, float] = {}
    partitions_end = 0.0
    for fault in schedule:
        if fault.kind == "partition":
            assert fault.at >= partitions_end and 1 <= len(fault.group) <= 2
            partitions_end = fault.at + fault.duration
            continue
        assert fault.at >= until.get(fault.node, 0.0)
        until[fault.node] = fault.at + fault.duration


def test_bad_options_are_refused() -> None:
    with pytest.raises(ConfigError, match="--nodes"):
        ChaosConfig(nodes=0)
    with pytest.raises(ConfigError, match="--kill-rate"):
        ChaosConfig(kill_rate=-1)


def test_a_short_chaos_run_validates(tmp_path: Path, electkit_cmd: list[str]) -> None:
    directory = tmp_path / "run"
    run = subprocess.run(
        [
            *electkit_cmd,
            "chaos",
            "--nodes",
            "5",
            "--duration",
            "8",
            "--seed",
            "3",
            "--dir",
            str(directory),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    summary = json.loads(run.stdout.splitlines()[-1])
    assert summary["verdict"] == "validated" and summary["misfit"] is None
    assert summary["faults"]["kill"] >= 5 and summary["faults"]["restart"] >= 5
    assert summary["events"] > 50 and set(summary["per_node"]) == {"1", "2", "3", "4", "5"}
    assert "kills" in run.stdout and "terms had a leader" in run.stdout
    assert _processes_in(directory) == []


def test_ctrl_c_reaps_every_node(tmp_path: Path, electkit_cmd: list[str]) -> None:
    directory = tmp_path / "run"
    proc = subprocess.Popen(
        [*electkit_cmd, "chaos", "--duration", "60", "--seed", "1", "--dir", str(directory)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while len(_processes_in(directory)) < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert len(_processes_in(directory)) >= 5, "the cluster never came up"
        time.sleep(1.0)  # let some faults happen
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, out + err
    assert _processes_in(directory) == []


def test_the_verify_stage_runs_chaos_and_validates() -> None:
    from checker.protocols.raft_election.validate import run_validation_stage

    ok, summary = run_validation_stage(seconds=4, seed=2)
    assert ok, summary
    assert "every event fits" in summary and "kills" in summary


def test_bad_chaos_options_are_one_line_exit_2(tmp_path: Path, electkit_cmd: list[str]) -> None:
    for args in (["--nodes", "0"], ["--duration", "-1"], ["--kill-rate", "-2"]):
        run = subprocess.run(
            [*electkit_cmd, "chaos", *args, "--dir", str(tmp_path / "x")],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert run.returncode == 2 and run.stderr.count("\n") == 1, run.stderr
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    run = subprocess.run(
        [*electkit_cmd, "chaos", "--dir", str(tmp_path / "full")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2 and "not empty" in run.stderr
    assert (tmp_path / "full" / "keep.txt").read_text() == "mine"


@pytest.mark.slow
def test_sixty_seconds_of_chaos_validate(tmp_path: Path, electkit_cmd: list[str]) -> None:
    directory = tmp_path / "run"
    run = subprocess.run(
        [
            *electkit_cmd,
            "chaos",
            "--nodes",
            "5",
            "--duration",
            "60",
            "--seed",
            "0",
            "--dir",
            str(directory),
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    summary = json.loads(run.stdout.splitlines()[-1])
    faults = summary["faults"]
    assert faults["kill"] >= 100 and faults["partition"] >= 20 and faults["pause"] >= 20
    assert summary["verdict"] == "validated" and summary["terms_with_leader"] >= 10
    assert _processes_in(directory) == []
