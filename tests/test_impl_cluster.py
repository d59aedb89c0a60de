"""Real node processes on loopback: election, failover, partitions, bad state, bad datagrams."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from impl.cluster import LocalCluster, http_json, single_leader
from impl.eventlog import check_logs
from impl.faults import bad_datagrams

ROOT = Path(__file__).resolve().parent.parent
ELECTKIT = str(Path(sys.executable).parent / "electkit")


@pytest.fixture
def make_cluster(tmp_path: Path) -> Iterator[Callable[..., LocalCluster]]:
    """Start LocalClusters that are always stopped, even when the test fails."""
    started: list[LocalCluster] = []

    def make(size: int, **kwargs: object) -> LocalCluster:
        cluster = LocalCluster(tmp_path / f"c{len(started)}", size, **kwargs)  # type: ignore[arg-type]
        started.append(cluster)
        cluster.start()
        return cluster

    yield make
    for cluster in started:
        cluster.stop()


def _leader(cluster: LocalCluster, timeout: float = 10.0, ids: list[int] | None = None) -> int:
    views = cluster.wait_for(
        lambda v: single_leader(v) is not None and all(v.values()), timeout, ids=ids
    )
    leader = single_leader(views)
    assert leader is not None
    return leader


def _all_logs(cluster: LocalCluster) -> dict[int, list[dict]]:
    return {i: cluster.read_events(i) for i in cluster.ids}


def test_five_nodes_elect_exactly_one_leader_and_agree(make_cluster: Callable) -> None:
    cluster = make_cluster(5)
    leader = _leader(cluster)
    views = cluster.statuses()
    assert [v["role"] for v in views.values()].count("leader") == 1
    assert {v["leader"] for v in views.values()} == {leader}
    assert {v["term"] for v in views.values()} == {views[leader]["term"]}
    for view in views.values():
        assert set(view) >= {"id", "term", "role", "leader", "voted_for"}
    assert check_logs(_all_logs(cluster)) == []


def test_sigkill_leader_fails_over_and_old_leader_rejoins(make_cluster: Callable) -> None:
    cluster = make_cluster(5)
    old = _leader(cluster)
    old_term = cluster.status(old)["term"]
    killed_at = time.time()
    assert cluster.kill(old) == -signal.SIGKILL
    rest = [i for i in cluster.ids if i != old]
    new = _leader(cluster, ids=rest)
    new_term = cluster.status(new)["term"]
    assert new != old and new_term > old_term
    # When the new leader was elected, from its own event log (not from this test's polling).
    elected_at = min(
        e["time"]
        for e in cluster.read_events(new)
        if e["state"]["role"] == "leader" and e["state"]["term"] == new_term
    )
    assert elected_at - killed_at < 2.0, "the issue asks for a new leader within 2 s"
    cluster.spawn(old)
    cluster.wait_for(
        lambda v: (
            v[old] is not None
            and v[old]["term"] >= new_term
            and v[old]["role"] == "follower"
            and v[old]["leader"] is not None
        ),
        10,
    )
    final = _leader(cluster)
    assert final != old or cluster.status(old)["term"] > new_term
    assert check_logs(_all_logs(cluster)) == []


def _partition(cluster: LocalCluster, side_a: list[int], side_b: list[int]) -> None:
    for i in side_a:
        cluster.partition(i, side_b)
    for i in side_b:
        cluster.partition(i, side_a)


def _leaders_above(cluster: LocalCluster, nodes: list[int], term: int) -> set[tuple]:
    """(term, node) for every node of ``nodes`` whose log shows it leading a term > ``term``."""
    return {
        (e["state"]["term"], n)
        for n in nodes
        for e in cluster.read_events(n)
        if e["state"]["role"] == "leader" and e["state"]["term"] > term
    }


@pytest.mark.parametrize("leader_side", ["minority", "majority"])
def test_partition_minority_elects_none_and_heal_gives_one_leader(
    make_cluster: Callable, leader_side: str
) -> None:
    cluster = make_cluster(5)
    leader = _leader(cluster)
    followers = [i for i in cluster.ids if i != leader]
    random.Random(7).shuffle(followers)
    if leader_side == "minority":
        minority, majority = [leader, followers[0]], followers[1:]
    else:
        minority, majority = followers[:2], [leader, *followers[2:]]
    term_before = cluster.status(leader)["term"]
    _partition(cluster, minority, majority)
    new = _leader(cluster, ids=majority)
    if leader_side == "majority":
        assert new == leader and cluster.status(leader)["term"] == term_before
    else:
        assert new in majority and cluster.status(new)["term"] > term_before
    time.sleep(1.0)  # give the minority ample election timeouts to misbehave
    assert _leaders_above(cluster, minority, term_before) == set()
    assert (
        any(
            e["state"]["role"] == "candidate"
            for n in minority  # it did try, and failed
            for e in cluster.read_events(n)
        )
        or leader_side == "minority"
    )
    assert single_leader(cluster.statuses(majority)) is not None
    for i in cluster.ids:
        cluster.partition(i, [])
    healed = _leader(cluster)
    views = cluster.statuses()
    assert [v["role"] for v in views.values()].count("leader") == 1
    assert views[healed]["term"] == max(v["term"] for v in views.values())
    assert check_logs(_all_logs(cluster)) == []


def test_corrupt_state_file_refuses_to_start(tmp_path: Path) -> None:
    data = tmp_path / "n1"
    data.mkdir()
    state = data / "vote.json"
    state.write_text('{"format": "electkit-vote", "version": 1, "term": 4, "voted_fo')
    key = tmp_path / "key"
    key.write_text(os.urandom(32).hex())
    argv = [
        ELECTKIT,
        "node",
        "--id",
        "1",
        "--peer",
        "1=127.0.0.1:1",
        "--peer",
        "2=127.0.0.1:2",
        "--data-dir",
        str(data),
        "--key-file",
        str(key),
    ]
    run = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert run.returncode == 2
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and str(state) in lines[0] and "Traceback" not in run.stderr
    state.write_text('{"format": "electkit-vote", "version": 9}')
    run = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert run.returncode == 2 and "unknown format version 9" in run.stderr


@pytest.mark.parametrize(
    "argv_tail, needle",
    [
        (["--id", "1", "--peer", "1=nohostport"], "ID=HOST:PORT"),
        (["--id", "3", "--peer", "1=127.0.0.1:9"], "own address"),
        (["--id", "1", "--peer", "1=127.0.0.1:9", "--election-timeout", "300-100"], "low is above"),
        (["--id", "1", "--peer", "1=127.0.0.1:9", "--heartbeat", "500"], "heartbeat interval"),
    ],
)
def test_bad_node_options_are_one_line(tmp_path: Path, argv_tail: list[str], needle: str) -> None:
    key = tmp_path / "key"
    key.write_text(os.urandom(32).hex())
    run = subprocess.run(
        [ELECTKIT, "node", "--data-dir", str(tmp_path), "--key-file", str(key), *argv_tail],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 2 and needle in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_garbage_and_forged_datagrams_change_nothing(make_cluster: Callable) -> None:
    cluster = make_cluster(3)
    leader = _leader(cluster)
    target = next(i for i in cluster.ids if i != leader)
    before = cluster.status(target)
    key = bytes.fromhex(cluster.key_file.read_text().strip())
    datagrams = bad_datagrams(key, cluster.cluster_id, cluster.ids, 600, seed=1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        for data in datagrams:
            sock.sendto(data, ("127.0.0.1", cluster.udp_ports[target]))
            time.sleep(0.0005)  # stay under the loopback receive buffer
    views = cluster.wait_for(
        lambda v: (
            v[target]
            and sum(
                v[target]["dropped"].get(r, 0)
                for r in (
                    "truncated",
                    "bad-mac",
                    "wrong-cluster",
                    "unknown-peer",
                    "oversized",
                    "bad-magic",
                    "bad-version",
                )
            )
            >= 600
        ),
        10,
    )
    after = views[target]
    assert (after["term"], after["voted_for"], after["leader"]) == (
        before["term"],
        before["voted_for"],
        before["leader"],
    )
    assert cluster.procs[target].poll() is None
    # Elections still work: kill the leader, the others elect a new one.
    cluster.kill(leader)
    new = _leader(cluster, ids=[i for i in cluster.ids if i != leader])
    assert cluster.status(new)["term"] > before["term"]


def test_status_endpoint_routes(make_cluster: Callable) -> None:
    cluster = make_cluster(1, fault_injection=False)
    _leader(cluster)  # a cluster of one elects itself
    base = f"http://127.0.0.1:{cluster.status_ports[1]}"
    with pytest.raises(OSError, match="403"):
        http_json(base + "/admin/partition", {"drop": []})
    with pytest.raises(OSError, match="404"):
        http_json(base + "/nope")
    with socket.create_connection(("127.0.0.1", cluster.status_ports[1]), timeout=5) as conn:
        conn.sendall(b"garbage\r\n\r\n")
        assert b"400" in conn.recv(4096).split(b"\r\n")[0]
    assert cluster.status(1)["role"] == "leader"


def test_electkit_cluster_command(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [ELECTKIT, "cluster", "--nodes", "3", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        manifest = tmp_path / "cluster.json"
        deadline = time.monotonic() + 20
        while not manifest.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        nodes = json.loads(manifest.read_text())["nodes"]
        assert [n["id"] for n in nodes] == [1, 2, 3]
        assert {"id", "pid", "status_url", "data_dir"} <= set(nodes[0])
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            views = {}
            for n in nodes:
                try:
                    views[n["id"]] = http_json(n["status_url"])
                except OSError:
                    views[n["id"]] = None
            if single_leader(views) is not None and all(views.values()):
                break
            time.sleep(0.05)
        assert single_leader(views) is not None
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0
    assert "elected leader of term" in output and "Traceback" not in output
    assert "fault injection off" in output
    for n in nodes:  # every node process is gone
        with pytest.raises(ProcessLookupError):
            os.kill(n["pid"], 0)


@pytest.mark.parametrize(
    "extra, needle",
    [
        (["--nodes", "0"], "--nodes"),
        (["--nodes", "5000"], "at most 32"),
        (["--nodes", "3", "--heartbeat", "400"], "--heartbeat"),
        (["--nodes", "2", "--election-timeout", "fast"], "LOW-HIGH"),
        (["--nodes", "2", "--dir-is-a-file"], "cannot set up"),
    ],
)
def test_bad_cluster_options_are_one_line(tmp_path: Path, extra: list[str], needle: str) -> None:
    target = tmp_path / "c"
    if "--dir-is-a-file" in extra:
        extra = [e for e in extra if e != "--dir-is-a-file"]
        target.write_text("a file, not a directory")
    run = subprocess.run(
        [ELECTKIT, "cluster", "--dir", str(target), *extra],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 2 and needle in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "Traceback" not in run.stderr


def test_admin_endpoint_needs_the_cluster_key(make_cluster: Callable) -> None:
    cluster = make_cluster(2)
    url = f"http://127.0.0.1:{cluster.status_ports[1]}/admin/partition"
    _leader(cluster)
    with pytest.raises(OSError, match="401"):
        http_json(url, {"drop": [2]})
    with pytest.raises(OSError, match="401"):
        http_json(url, {"drop": [2]}, key="00" * 32)
    assert http_json(url, {"drop": [2]}, key=cluster.key_hex()) == {"blocked": [2]}
    assert cluster.status(1)["blocked"] == [2]


def test_fault_injection_is_loopback_only(tmp_path: Path) -> None:
    key = tmp_path / "key"
    key.write_text("ab" * 16)
    run = subprocess.run(
        [
            ELECTKIT,
            "node",
            "--id",
            "1",
            "--peer",
            "1=127.0.0.1:39999",
            "--data-dir",
            str(tmp_path / "d"),
            "--key-file",
            str(key),
            "--status-host",
            "0.0.0.0",
            "--fault-injection",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert run.returncode == 2 and "loopback only" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1


def test_node_refuses_ports_out_of_range_in_one_line(tmp_path):
    import subprocess
    import sys

    key = tmp_path / "key"
    key.write_text("ab" * 16)
    electkit = str(Path(sys.executable).with_name("electkit"))
    for extra in (
        ["--peer", "1=127.0.0.1:99999"],
        ["--peer", "1=127.0.0.1:9999", "--status-port", "70000"],
    ):
        proc = subprocess.run(
            [
                electkit,
                "node",
                "--id",
                "1",
                "--data-dir",
                str(tmp_path / "d"),
                "--key-file",
                str(key),
                *extra,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "65535" in proc.stderr
