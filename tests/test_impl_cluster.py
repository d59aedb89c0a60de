"""Real node processes on loopback: election, failover, partitions, bad state, bad datagrams."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

import impl.cluster
from impl.cluster import LocalCluster, free_port, http_json, single_leader
from impl.errors import ConfigError
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


def test_local_cluster_refuses_bad_arguments(tmp_path: Path) -> None:
    for size in (0, -1, True, "3", 2.0):
        with pytest.raises(ConfigError, match="--nodes must be an int >= 1"):
            LocalCluster(tmp_path, size)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="output must be"):
        LocalCluster(tmp_path, 1, output="pipe")
    assert LocalCluster(tmp_path, 1).ids == [1]
    assert LocalCluster(tmp_path, 3, output="inherit").ids == [1, 2, 3]


def _view(node: int, role: str, term: int, leader: int | None) -> dict:
    return {"id": node, "role": role, "term": term, "leader": leader}


def test_single_leader_needs_one_leader_all_agree_on() -> None:
    lead, follow = _view(1, "leader", 3, 1), _view(2, "follower", 3, 1)
    assert single_leader({1: lead, 2: follow, 3: None}) == 1
    assert single_leader({1: lead}) == 1
    assert single_leader({}) is None
    assert single_leader({1: None, 2: follow}) is None
    assert single_leader({1: lead, 2: _view(2, "leader", 3, 2)}) is None
    assert single_leader({1: lead, 2: _view(2, "follower", 2, 1)}) is None  # another term
    assert single_leader({1: lead, 2: _view(2, "follower", 3, None)}) is None  # no leader known
    assert single_leader({1: lead, 2: _view(2, "candidate", 3, 2)}) is None


def test_wait_for_polls_at_its_interval_then_gives_up(tmp_path: Path) -> None:
    cluster = LocalCluster(tmp_path, 2)
    cluster.status_ports = {1: free_port(socket.SOCK_STREAM), 2: free_port(socket.SOCK_STREAM)}
    calls: list[dict] = []
    outcome: list[BaseException | object] = []

    def poll() -> None:
        try:
            outcome.append(cluster.wait_for(lambda v: calls.append(v) and False, 1.0, 0.5))
        except BaseException as exc:  # noqa: BLE001 (handed to the test's thread)
            outcome.append(exc)

    thread = threading.Thread(target=poll, daemon=True)  # a wait_for that never ends stays
    thread.start()
    thread.join(20)
    assert not thread.is_alive(), "wait_for never gave up"
    assert isinstance(outcome[0], TimeoutError) and "not reached in 1.0 s" in str(outcome[0])
    assert calls[0] == {1: None, 2: None}  # nothing listens: every node is down
    assert 1 <= len(calls) <= 4  # at t=0, 0.5, 1.0 (and once more if late): not a busy loop


def _ports_of(pid: int) -> list[tuple[str, int]]:
    """The (address, port) each socket of process ``pid`` listens on or receives at."""
    return [(c.laddr.ip, c.laddr.port) for c in psutil.Process(pid).net_connections("inet")
            if c.status in (psutil.CONN_LISTEN, psutil.CONN_NONE)]


def test_nodes_listen_on_loopback_only_on_ports_of_their_own(
    make_cluster: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The kernel may hand out a port again right after it was freed: force it once (the
    # second node's UDP port asked for is the first node's), the cluster must pick another.
    real, handed = impl.cluster.free_port, []

    def free_port_twice(kind: int) -> int:
        port = handed[0] if len(handed) == 2 else real(kind)
        handed.append(port)
        return port

    monkeypatch.setattr(impl.cluster, "free_port", free_port_twice)
    cluster = make_cluster(2)
    assert handed[2] == handed[0]  # the repeat was offered
    ports = [*cluster.udp_ports.values(), *cluster.status_ports.values()]
    assert len(set(ports)) == 4
    _leader(cluster)
    for node_id in cluster.ids:
        bound = _ports_of(cluster.procs[node_id].pid)
        assert sorted(port for _, port in bound) == sorted(
            [cluster.udp_ports[node_id], cluster.status_ports[node_id]]
        )
        assert {ip for ip, _ in bound} == {"127.0.0.1"}, bound
    # kill: the exit code, then the same code again for a dead node; None for no node
    assert cluster.kill(2) == -signal.SIGKILL
    assert cluster.kill(2) == -signal.SIGKILL
    assert cluster.kill(7) is None


def test_cluster_stops_cleanly_and_starts_again_in_its_directory(tmp_path: Path) -> None:
    directory = tmp_path / "deep" / "er"  # parents are created
    fds = set(os.listdir("/proc/self/fd"))
    cluster = LocalCluster(directory, 1, log_idle=True)
    spawned: list[subprocess.Popen[bytes]] = []
    try:
        try:
            cluster.start()
            spawned += cluster.procs.values()
            key = cluster.key_hex()
            pid = cluster.procs[1].pid
            manifest = json.loads((directory / "cluster.json").read_text())
            assert [n["pid"] for n in manifest["nodes"]] == [pid]
            assert manifest["nodes"][0]["address"] == f"127.0.0.1:{cluster.udp_ports[1]}"
            _leader(cluster)
            with pytest.raises(ConfigError, match="still running"):
                cluster.spawn(1)
            # --log-idle reached the node: a lone leader's heartbeats (sending nothing) are
            # logged
            cluster.wait_for(
                lambda v: any(e["event"] == "heartbeat" for e in cluster.read_events(1)), 10
            )
            term = cluster.status(1)["term"]
        finally:
            codes = cluster.stop()
        assert codes == {1: 0}  # SIGTERM: the node stopped cleanly
        assert set(os.listdir("/proc/self/fd")) == fds  # node-1.out is closed
        assert "elected leader of term" in (directory / "node-1.out").read_text()
        with cluster as again:  # started again, the same object: its output files reopened
            spawned += again.procs.values()
            assert again.key_hex() == key  # the same cluster: its key is kept
            _leader(again)
            assert again.status(1)["term"] > term  # and its vote file
            second = again.procs[1].pid
        with pytest.raises(ProcessLookupError):
            os.kill(second, 0)
    finally:  # whatever went wrong, no node is left behind
        spawned += cluster.procs.values()
        for proc in spawned:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_stop_kills_a_node_that_ignores_sigterm(make_cluster: Callable) -> None:
    cluster = make_cluster(1)
    _leader(cluster)
    proc = cluster.procs[1]
    os.kill(proc.pid, signal.SIGSTOP)  # a stopped process acts on no SIGTERM
    codes: dict = {}
    thread = threading.Thread(target=lambda: codes.update(cluster.stop()), daemon=True)
    thread.start()
    thread.join(30)
    try:
        assert not thread.is_alive(), "stop() never returned"
        assert codes == {1: -signal.SIGKILL} and proc.poll() == -signal.SIGKILL
    finally:  # whatever stop() did, no stopped node is left behind
        if proc.poll() is None:
            proc.kill()
        thread.join(10)


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
