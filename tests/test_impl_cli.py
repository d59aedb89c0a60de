"""impl/cli.py and `python -m impl`: every bad option is one line and exit 2, every good one
becomes exactly the configuration it names (in-process: quick enough for `electkit mutate`
to run on each mutant of impl/cli.py the gate lets pass)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from impl import cli
from impl.__main__ import main
from impl.cluster import free_port
from impl.errors import ImplError

KEY = "ab" * 16  # 16 bytes: the shortest key allowed


def node_args(tmp_path: Path, *extra: str, key: str = KEY) -> argparse.Namespace:
    key_file = tmp_path / "key"
    key_file.write_text(key + "\n")
    parser = argparse.ArgumentParser()
    cli.configure_node(parser)
    base = ["--id", "1", "--peer", "1=127.0.0.1:7001", "--peer", "2=127.0.0.1:7002",
            "--data-dir", str(tmp_path / "d"), "--key-file", str(key_file)]
    return parser.parse_args([*base, *extra])


def test_a_good_command_line_is_the_config_it_names(tmp_path):
    config = cli.node_config(node_args(tmp_path, "--election-timeout", "150-150",
                                       "--heartbeat", "40", "--event-log-max-mb", "2",
                                       "--status-port", "65535"))
    assert config.node_id == 1 and config.addresses == {1: ("127.0.0.1", 7001),
                                                        2: ("127.0.0.1", 7002)}
    assert config.key == bytes.fromhex(KEY)
    assert config.election_timeout == (0.150, 0.150)  # low == high is allowed
    assert config.heartbeat_interval == 0.040
    assert config.event_log_max_bytes == 2 * 2**20
    assert config.status_port == 65535 and config.status_host == "127.0.0.1"
    assert config.event_log == tmp_path / "d" / "events.jsonl"
    assert cli.node_config(node_args(tmp_path)).election_timeout == (0.150, 0.300)


@pytest.mark.parametrize(
    ("extra", "key", "message"),
    [
        (["--peer", "3"], KEY, "expected ID=HOST:PORT"),
        (["--peer", "=127.0.0.1:1"], KEY, "expected an integer"),
        (["--peer", "1=127.0.0.1:7009"], KEY, "server 1 is given twice"),
        (["--peer", "3=127.0.0.1:0"], KEY, "must be >= 1, got 0"),
        (["--peer", "3=127.0.0.1:65536"], KEY, "must be <= 65535, got 65536"),
        (["--election-timeout", "300-150"], KEY, "low is above high"),
        (["--election-timeout", "150"], KEY, "expected LOW-HIGH"),
        (["--heartbeat", "0"], KEY, "--heartbeat: must be >= 1"),
        (["--status-port", "x"], KEY, "expected an integer, got 'x'"),
        ([], "ab" * 15, "the key must be at least 16 bytes, got 15"),
        ([], "not hex", "not a hex string"),
    ],
)
def test_bad_options_are_refused_with_what_is_wrong(tmp_path, extra, key, message):
    with pytest.raises(ImplError, match=message):
        cli.node_config(node_args(tmp_path, *extra, key=key))


def test_the_node_must_be_among_its_peers_and_the_key_file_must_exist(tmp_path):
    args = node_args(tmp_path)
    args.id = "3"
    with pytest.raises(ImplError, match="give this server's own address"):
        cli.node_config(args)
    args = node_args(tmp_path)
    args.key_file = str(tmp_path / "missing")
    with pytest.raises(ImplError, match="cannot read"):
        cli.node_config(args)


def test_run_node_says_one_line_and_exits_2(tmp_path, capsys):
    assert cli.run_node(node_args(tmp_path, "--election-timeout", "9-1")) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --election-timeout '9-1'") and err.count("\n") == 1


def test_say_writes_one_whole_line(capsys):
    cli._say("node 1: up")
    assert capsys.readouterr().out == "node 1: up\n"


@pytest.mark.parametrize(
    "argv",
    [
        [],  # a command is required
        ["node", "--peer", "1=127.0.0.1:1", "--data-dir", "d", "--key-file", "k"],  # no --id
        ["node", "--id", "1", "--data-dir", "d"],  # no --key-file
        ["node", "--id", "1", "--key-file", "k"],  # no --data-dir
        ["cluster", "--dir", "d"],  # no --nodes
        ["cluster", "--nodes", "3"],  # no --dir
        ["cluster", "--nodes", "3", "--dir", "d", "--bogus"],
    ],
)
def test_python_m_impl_refuses_a_bad_command_line_with_one_line(argv, capsys):
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: python -m impl") and err.count("\n") == 1


def test_both_commands_take_the_timing_options():
    for command in ("node", "cluster"):
        parser = argparse.ArgumentParser()
        (cli.configure_node if command == "node" else cli.configure_cluster)(parser)
        options = {a for action in parser._actions for a in action.option_strings}
        assert {"--election-timeout", "--heartbeat"} <= options, command


# ---- the real commands, as processes: the lines they say and how they stop


def _spawn(argv: list[str], cwd: Path) -> subprocess.Popen[bytes]:
    # stdout buffered, as on a pipe by default: each line must be flushed to be seen; our end
    # unbuffered (bufsize=0), so that a line read leaves the next ones in the pipe, where
    # select() and communicate() see them
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    return subprocess.Popen([sys.executable, "-m", "impl", *argv], cwd=cwd, env=env, bufsize=0,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)


def _next_line(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> str:
    """The next line the process prints (it prints each line whole, with a flush)."""
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, f"no line in {timeout:g} s"
    return proc.stdout.readline().decode().rstrip("\n")


def _finish(proc: subprocess.Popen[bytes]) -> tuple[str, str]:
    """Everything the process prints until it exits: (stdout, stderr)."""
    out, err = proc.communicate(timeout=10)
    return out.decode(), err.decode()


def _reap(proc: subprocess.Popen[bytes], pids: list[int], directory: Path | None = None) -> None:
    """Kill what a failed test left running: the process, the node pids it named and those
    of its manifest (``directory``/cluster.json; nodes run in process groups of their own)."""
    if proc.poll() is None:
        proc.kill()
    manifest = None if directory is None else directory / "cluster.json"
    if manifest is not None and manifest.exists():
        pids = pids + [n["pid"] for n in json.loads(manifest.read_text())["nodes"] if n["pid"]]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    proc.communicate(timeout=10)  # after the nodes: they hold the stdout pipe open too


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_node_says_up_and_stops_cleanly_on_a_signal(tmp_path, sig):
    port = free_port(socket.SOCK_DGRAM)
    (tmp_path / "key").write_text(KEY + "\n")
    proc = _spawn(["node", "--id", "1", "--peer", f"1=127.0.0.1:{port}",
                   "--data-dir", str(tmp_path / "d"), "--key-file", str(tmp_path / "key"),
                   "--election-timeout", "20-40", "--heartbeat", "10"], tmp_path)
    try:
        up = _next_line(proc)
        assert re.fullmatch(rf"node 1: up, udp 127\.0\.0\.1:{port}, status "
                            r"http://127\.0\.0\.1:\d+/status, term 0", up), up
        assert _next_line(proc) == "node 1: elected leader of term 1"  # a cluster of one
        proc.send_signal(sig)
        out, err = _finish(proc)
    finally:
        _reap(proc, [])
    assert (proc.returncode, out, err) == (0, "node 1: stopped in term 1\n", "")


def test_a_node_with_a_bad_option_says_one_line_and_exits_2(tmp_path):
    proc = _spawn(["node", "--id", "1", "--peer", "1=127.0.0.1:1", "--data-dir", "d",
                   "--key-file", str(tmp_path / "missing")], tmp_path)
    out, err = _finish(proc)
    assert proc.returncode == 2 and out == ""
    assert re.fullmatch(r"error: --key-file \S+missing: cannot read \(No such file or "
                        r"directory\)\n", err), err


def _voluntary_switches(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^voluntary_ctxt_switches:\s+(\d+)", status, re.M).group(1))


def _cluster_lines(proc: subprocess.Popen[bytes], count: int) -> tuple[list[str], list[str]]:
    """The next ``count`` lines: the cluster's own, and its node's (one terminal, any order)."""
    lines = [_next_line(proc) for _ in range(count)]
    return ([line for line in lines if line.startswith("cluster: ")],
            [line for line in lines if not line.startswith("cluster: ")])


def test_a_cluster_says_what_it_runs_and_stops_its_nodes(tmp_path):
    proc = _spawn(["cluster", "--nodes", "1", "--dir", str(tmp_path / "c"),
                   "--election-timeout", "1000-1999", "--heartbeat", "99"], tmp_path)
    pids: list[int] = []
    try:
        lines, node_lines = _cluster_lines(proc, 4)
        assert lines[0] == f"cluster: 1 nodes started, manifest {tmp_path / 'c' / 'cluster.json'}"
        assert lines[1] == ("cluster: fault injection off (no /admin endpoint; "
                            "--fault-injection turns it on)")
        node = re.fullmatch(r"cluster: node 1 pid (\d+) status http://127\.0\.0\.1:\d+/status",
                            lines[2])
        assert node, lines[2]
        pids.append(int(node.group(1)))
        assert len(node_lines) == 1 and node_lines[0].startswith("node 1: up, udp 127.0.0.1:")
        manifest = json.loads((tmp_path / "c" / "cluster.json").read_text())
        assert manifest["election_timeout_ms"] == [1000, 1999] and manifest["heartbeat_ms"] == 99
        assert [n["pid"] for n in manifest["nodes"]] == pids
        os.kill(pids[0], signal.SIGKILL)
        assert _next_line(proc) == f"cluster: node 1 (pid {pids[0]}) exited with code -9"
        # reported once: nothing more in the next second (the cluster checks every 0.1 s)
        assert select.select([proc.stdout], [], [], 1.0)[0] == []
        proc.send_signal(signal.SIGINT)
        out, err = _finish(proc)
    finally:
        _reap(proc, pids, tmp_path / "c")
    assert (proc.returncode, out, err) == (0, "cluster: stopped node 1 (-9)\n", "")


def test_a_cluster_with_fault_injection_says_how_to_reach_it(tmp_path):
    proc = _spawn(["cluster", "--nodes", "1", "--dir", str(tmp_path / "c"),
                   "--fault-injection"], tmp_path)
    pids: list[int] = []
    try:
        lines, node_lines = _cluster_lines(proc, 4)
        assert lines[1] == (
            "cluster: fault injection on: POST /admin/partition on loopback, with the header "
            f"'Authorization: Bearer <the key in {tmp_path / 'c' / 'cluster.key'}>'")
        pids.append(int(lines[2].split()[4]))
        assert node_lines[0].startswith("node 1: up")  # then stopped by SIGTERM: code 0
        # While it waits, the cluster sleeps between its checks of the nodes, not spins: each
        # sleep is a voluntary context switch (a busy loop makes none).
        before = _voluntary_switches(proc.pid)
        time.sleep(1.0)
        assert _voluntary_switches(proc.pid) - before >= 3
        proc.send_signal(signal.SIGTERM)
        out, _ = _finish(proc)
    finally:
        _reap(proc, pids, tmp_path / "c")
    assert proc.returncode == 0 and out.endswith("cluster: stopped node 1 (0)\n")


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--nodes", "33"], "--nodes 33: a local cluster runs at most 32 node processes"),
        (["--nodes", "0"], "--nodes: must be >= 1, got 0"),
        (["--nodes", "1", "--heartbeat", "150"],
         "--heartbeat 150 ms must be below the lowest election timeout 150 ms"),
        # 32 nodes are allowed: refused here for the heartbeat alone, before any is started
        (["--nodes", "32", "--heartbeat", "151"],
         "--heartbeat 151 ms must be below the lowest election timeout 150 ms"),
        (["--nodes", "1", "--election-timeout", "1000-2000", "--heartbeat", "1000"],
         "--heartbeat 1000 ms must be below the lowest election timeout 1000 ms"),
        (["--nodes", "1", "--election-timeout", "9"], "--election-timeout '9': expected LOW-HIGH"),
    ],
)
def test_a_bad_cluster_command_line_is_one_line_and_exit_2(tmp_path, capsys, extra, message):
    # The directory cannot be made (under a file): should a check fail to refuse, the cluster
    # fails to start, with another message, and no node process is ever started.
    (tmp_path / "file").write_text("")
    parser = argparse.ArgumentParser()
    cli.configure_cluster(parser)
    args = parser.parse_args(["--dir", str(tmp_path / "file" / "c"), *extra])
    assert cli.run_cluster(args) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith(f"error: {message}") and captured.err.count("\n") == 1
    assert captured.out == ""


def test_a_cluster_directory_that_cannot_be_made_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    parser = argparse.ArgumentParser()
    cli.configure_cluster(parser)
    args = parser.parse_args(["--nodes", "1", "--dir", str(tmp_path / "file" / "c")])
    assert cli.run_cluster(args) == 2
    captured = capsys.readouterr()
    assert captured.err == (f"error: --dir {tmp_path / 'file' / 'c'}: cannot set up the cluster "
                            "(Not a directory)\n")
    assert captured.out == ""


@pytest.mark.parametrize(
    ("extra", "check"),
    [
        (["--peer", "3=::1:7003"], lambda c: c.addresses[3] == ("::1", 7003)),
        (["--peer", "3=h:1"], lambda c: c.addresses[3] == ("h", 1)),
        (["--heartbeat", "1"], lambda c: c.heartbeat_interval == 0.001),
        (["--election-timeout", "2-2", "--heartbeat", "1"],
         lambda c: c.election_timeout == (0.002, 0.002)),
        (["--status-port", "0"], lambda c: c.status_port == 0),
        (["--event-log-max-mb", "1"], lambda c: c.event_log_max_bytes == 2**20),
        (["--event-log", "e.jsonl"], lambda c: c.event_log == Path("e.jsonl")),
        (["--fault-injection", "--log-idle"], lambda c: c.fault_injection and c.log_idle),
        ([], lambda c: not c.fault_injection and not c.log_idle and c.cluster_id == "electkit"),
    ],
)
def test_the_smallest_good_values_are_taken(tmp_path, extra, check):
    assert check(cli.node_config(node_args(tmp_path, *extra)))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--peer", "3=:7003"], "--peer '3=:7003': expected ID=HOST:PORT"),
        (["--peer", "3=127.0.0.1"], "--peer '3=127.0.0.1': expected ID=HOST:PORT"),
        (["--peer", "3127.0.0.1:7003"], "expected ID=HOST:PORT"),
        (["--peer", "0=127.0.0.1:7003"], "--peer '0=127.0.0.1:7003' id: must be >= 1, got 0"),
        (["--event-log-max-mb", "0"], "--event-log-max-mb: must be >= 1, got 0"),
        (["--election-timeout", "0-5"], "--election-timeout low: must be >= 1, got 0"),
        (["--election-timeout", "5-x"], "--election-timeout high: expected an integer, got 'x'"),
        (["--status-port", "65536"], "--status-port: must be <= 65535, got 65536"),
    ],
)
def test_each_bad_value_is_named(tmp_path, extra, message):
    with pytest.raises(ImplError, match=re.escape(message)):
        cli.node_config(node_args(tmp_path, *extra))


def test_a_key_file_with_no_hex_or_unreadable_is_named(tmp_path):
    args = node_args(tmp_path, key="zz" * 16)
    with pytest.raises(ImplError, match=re.escape(f"--key-file {args.key_file}: not a hex")):
        cli.node_config(args)
    args = node_args(tmp_path)
    args.key_file = str(tmp_path)  # a directory
    with pytest.raises(ImplError, match=r"cannot read \(Is a directory\)"):
        cli.node_config(args)
    assert cli.node_config(node_args(tmp_path, key="AB" * 20)).key == b"\xab" * 20


def test_fail_says_one_line_on_stderr_and_returns_2(capsys):
    assert cli._fail("--x: bad") == 2
    assert capsys.readouterr() == ("", "error: --x: bad\n")


def test_the_parsers_take_their_bounds():
    assert cli._parse_range("1-1") == (0.001, 0.001)
    assert cli._parse_range("1000-2000") == (1.0, 2.0)
    assert cli._int("5", "--x", 5, 5) == 5
    with pytest.raises(ImplError, match="--x: must be <= 5, got 6"):
        cli._int("6", "--x", 0, 5)
    with pytest.raises(ImplError, match="--x: must be >= 5, got 4"):
        cli._int("4", "--x", 5)
    assert cli._parse_peers(["1=a:1", "2=b:65535"]) == {1: ("a", 1), 2: ("b", 65535)}
