"""The search on a real Dask cluster: a scheduler and workers as separate processes on
loopback (as on several machines), and the same result as one process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from checker.search.explore import explore
from spec.raft_election import RaftElection
from tests.conftest import search_summary

pytest.importorskip("distributed")
DASK = str(Path(sys.executable).with_name("dask"))


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    where = tmp_path_factory.mktemp("dask")
    info = where / "scheduler.json"
    procs = [
        subprocess.Popen(
            [
                DASK,
                "scheduler",
                "--host",
                "127.0.0.1",
                "--port",
                "0",
                "--dashboard-address",
                ":0",
                "--scheduler-file",
                str(info),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=where,
        )
    ]
    try:
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        procs.append(
            subprocess.Popen(
                [DASK, "worker", address, "--nworkers", "2", "--nthreads", "1", "--no-dashboard"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                cwd=where,
            )
        )
        yield address
    finally:
        for proc in reversed(procs):
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize(
    "model",
    [
        RaftElection(3, 1),
        RaftElection(2, 3),
        RaftElection(3, 2, variant="no_step_down"),
    ],
    ids=["N3T1", "N2T3", "no_step_down"],
)
@pytest.mark.parametrize("symmetry", [False, True])
def test_dask_cluster_gives_the_one_process_result(scheduler, model, symmetry):
    # Two partitions, each an actor on one of the two Dask workers; small rounds.
    remote = explore(model, symmetry=symmetry, scheduler=scheduler, workers=2, round_size=50)
    assert search_summary(remote) == search_summary(explore(model, symmetry=symmetry))
