"""A local cluster of real node processes on 127.0.0.1, for `electkit cluster`, tests and
benchmarks.

:class:`LocalCluster` picks free ports, writes a random cluster key (mode 0600), starts one
``python -m impl node`` process per server, writes ``DIR/cluster.json`` and can kill, restart,
query and partition any node. Known limitation: free ports are found by binding port 0 and
closing it, so another program could take one in between; start() then fails loudly.
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

from impl.errors import ConfigError
from impl.eventlog import read_event_log

HOST = "127.0.0.1"


def free_port(kind: int) -> int:
    """A port that is free right now on loopback for ``kind`` (SOCK_DGRAM or SOCK_STREAM)."""
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def http_json(url: str, body: dict[str, Any] | None = None, timeout: float = 1.0,
              key: str | None = None) -> Any:
    """GET (or POST ``body`` to) a node's status port, with the cluster ``key`` (hex) for the
    admin endpoint; raises OSError when it is down or refuses."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="GET" if body is None else "POST")
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return json.loads(response.read())


class LocalCluster:
    """N node processes on loopback, driven from this process.

    Parameters: ``directory`` (created; one sub-directory per node), ``size`` (N >= 1),
    ``election_timeout_ms`` (low, high), ``heartbeat_ms``, ``fault_injection`` (serve
    /admin/partition), ``output`` ("inherit": node lines go to this stdout; "files":
    ``DIR/node-<id>.out``).
    """

    def __init__(self, directory: str | Path, size: int, *,
                 election_timeout_ms: tuple[int, int] = (150, 300), heartbeat_ms: int = 50,
                 fault_injection: bool = True, output: str = "files",
                 cluster_id: str = "electkit-local", log_idle: bool = False) -> None:
        if type(size) is not int or size < 1:
            raise ConfigError(f"--nodes must be an int >= 1, got {size!r}")
        if output not in ("inherit", "files"):
            raise ConfigError(f"output must be 'inherit' or 'files', got {output!r}")
        self.directory = Path(directory).resolve()
        self.ids = list(range(1, size + 1))
        self.election_timeout_ms = election_timeout_ms
        self.heartbeat_ms = heartbeat_ms
        self.fault_injection = fault_injection
        self.output = output
        self.cluster_id = cluster_id
        self.log_idle = log_idle
        self.key_file = self.directory / "cluster.key"
        self.udp_ports: dict[int, int] = {}
        self.status_ports: dict[int, int] = {}
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self._outs: dict[int, IO[bytes]] = {}

    # -- paths ---------------------------------------------------------------------------------
    def data_dir(self, node_id: int) -> Path:
        return self.directory / f"node-{node_id}"

    def event_log(self, node_id: int) -> Path:
        return self.data_dir(node_id) / "events.jsonl"

    def status_url(self, node_id: int) -> str:
        return f"http://{HOST}:{self.status_ports[node_id]}/status"

    def argv(self, node_id: int) -> list[str]:
        """The command that starts (or restarts) node ``node_id``."""
        low, high = self.election_timeout_ms
        argv = [sys.executable, "-m", "impl", "node", "--id", str(node_id),
                "--data-dir", str(self.data_dir(node_id)), "--key-file", str(self.key_file),
                "--cluster-id", self.cluster_id,
                "--status-port", str(self.status_ports[node_id]),
                "--election-timeout", f"{low}-{high}", "--heartbeat", str(self.heartbeat_ms),
                "--event-log", str(self.event_log(node_id))]
        for peer in self.ids:
            argv += ["--peer", f"{peer}={HOST}:{self.udp_ports[peer]}"]
        if self.fault_injection:
            argv.append("--fault-injection")
        if self.log_idle:
            argv.append("--log-idle")
        return argv

    # -- lifecycle -----------------------------------------------------------------------------
    def start(self) -> None:
        """Pick ports, write the key and cluster.json, start every node (not waiting)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        if not self.key_file.exists():
            fd = os.open(self.key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as key:
                key.write(secrets.token_hex(32) + "\n")
        taken: set[int] = set()
        for node_id in self.ids:
            for table, kind in ((self.udp_ports, socket.SOCK_DGRAM),
                                (self.status_ports, socket.SOCK_STREAM)):
                port = free_port(kind)
                while port in taken:
                    port = free_port(kind)
                taken.add(port)
                table[node_id] = port
        for node_id in self.ids:
            self.spawn(node_id)
        self.write_manifest()

    def write_manifest(self) -> Path:
        """Write ``cluster.json`` (atomically) describing every node; returns its path."""
        nodes = [{"id": i, "pid": self.procs[i].pid if i in self.procs else None,
                  "status_url": self.status_url(i), "data_dir": str(self.data_dir(i)),
                  "address": f"{HOST}:{self.udp_ports[i]}", "event_log": str(self.event_log(i)),
                  "argv": self.argv(i)} for i in self.ids]
        manifest = {"cluster_id": self.cluster_id, "key_file": str(self.key_file),
                    "election_timeout_ms": list(self.election_timeout_ms),
                    "heartbeat_ms": self.heartbeat_ms, "nodes": nodes}
        path = self.directory / "cluster.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(manifest, indent=2) + "\n")
        os.replace(tmp, path)
        return path

    def spawn(self, node_id: int) -> subprocess.Popen[bytes]:
        """Start node ``node_id`` (again); the previous process must be gone."""
        old = self.procs.get(node_id)
        if old is not None and old.poll() is None:
            raise ConfigError(f"node {node_id} is still running as pid {old.pid}")
        if self.output == "files":
            if node_id not in self._outs:
                self._outs[node_id] = open(self.directory / f"node-{node_id}.out", "ab")
            out: IO[bytes] | None = self._outs[node_id]
        else:
            out = None
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        root = str(Path(__file__).resolve().parent.parent)
        env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
        # A process group of its own: Ctrl-C at the terminal reaches the driver alone, which
        # stops every node with SIGTERM (a node still importing would print a traceback).
        proc = subprocess.Popen(self.argv(node_id), stdout=out, stderr=out, env=env,
                                stdin=subprocess.DEVNULL, process_group=0)
        self.procs[node_id] = proc
        return proc

    def kill(self, node_id: int, sig: int = signal.SIGKILL) -> int | None:
        """Send ``sig`` to node ``node_id`` and reap it; returns its exit code."""
        proc = self.procs.get(node_id)
        if proc is None or proc.poll() is not None:
            return proc.returncode if proc is not None else None
        proc.send_signal(sig)
        return proc.wait(timeout=10)

    def stop(self) -> dict[int, int | None]:
        """SIGTERM every node, SIGKILL any that lingers; returns the exit codes."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes: dict[int, int | None] = {}
        for node_id, proc in self.procs.items():
            try:
                codes[node_id] = proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                codes[node_id] = proc.wait()
        for out in self._outs.values():
            out.close()
        self._outs.clear()
        return codes

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- queries -------------------------------------------------------------------------------
    def status(self, node_id: int, timeout: float = 0.5) -> dict[str, Any] | None:
        """Node ``node_id``'s /status, or None when it does not answer."""
        try:
            return http_json(self.status_url(node_id), timeout=timeout)
        except (OSError, ValueError):
            return None

    def statuses(self, ids: list[int] | None = None) -> dict[int, dict[str, Any] | None]:
        return {i: self.status(i) for i in (ids or self.ids)}

    def partition(self, node_id: int, drop: list[int] | set[int]) -> None:
        """Make node ``node_id`` drop all traffic to and from ``drop`` (empty heals)."""
        http_json(f"http://{HOST}:{self.status_ports[node_id]}/admin/partition",
                  {"drop": sorted(drop)}, key=self.key_hex())

    def key_hex(self) -> str:
        """The cluster key in hex, as the nodes read it (the admin endpoint asks for it)."""
        return self.key_file.read_text().strip()

    def wait_for(self, predicate: Any, timeout: float, interval: float = 0.02,
                  ids: list[int] | None = None) -> dict[int, dict[str, Any] | None]:
        """Poll statuses until ``predicate(statuses)`` holds; raise TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            views = self.statuses(ids)
            if predicate(views):
                return views
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not reached in {timeout} s; last: {views}")
            time.sleep(interval)

    def read_events(self, node_id: int) -> list[dict[str, Any]]:
        """Every event-log line of node ``node_id``, across all its restarts."""
        path = self.event_log(node_id)
        if not path.exists():
            return []
        return read_event_log(path)


def single_leader(views: dict[int, dict[str, Any] | None]) -> int | None:
    """The leader every answering node agrees on, when exactly one node leads; else None.

    All answering nodes must be in the leader's term and name it as leader.
    """
    up = [v for v in views.values() if v is not None]
    leaders = [v for v in up if v["role"] == "leader"]
    if len(leaders) != 1:
        return None
    lead = leaders[0]
    if all(v["term"] == lead["term"] and v["leader"] == lead["id"] for v in up):
        return lead["id"]
    return None
