"""The asyncio runtime of one node: UDP between peers, timers, storage, /status, event log.

It carries out what the sans-IO :class:`impl.node.Node` asks and nothing more. Every event
(election timeout, heartbeat timer, datagram) goes through :class:`impl.host.NodeHost`, which
calls one handler and fsyncs ``Output.persist`` before it returns; then the server sends
``Output.send`` as UDP datagrams, re-arms the timers, and runs the leadership callbacks.

The event log (docs/validation.md) records what happened in the order it happened: the
handled event with the node's state after it (written before the save), a ``persist`` line
once the fsync returned, and one ``send`` line per message, written before the datagram
leaves. So everything the world could see is logged, even if the process is then killed, and
a log in which a message leaves before its state was persisted shows it. An *idle* event
(state unchanged, nothing persisted, every message a repeat of one already logged, as a
leader's periodic heartbeat) is not logged unless ``log_idle`` is set.

Embedding::

    server = ElectionServer(config, on_elected=..., on_stepped_down=...)
    await server.start()
    if server.is_leader(): do_work(fencing_token=server.fencing_token())
    await server.stop()

The status endpoint (HTTP/1.1 on loopback) serves ``GET /status``; with fault injection on
it also serves ``POST /admin/partition`` with a body ``{"drop": [ids]}`` (drop all traffic to
and from those peers; an empty list heals).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import os
import random
import socket
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from impl.errors import ConfigError, StorageError, WireError
from impl.eventlog import DEFAULT_MAX_BYTES, EventJournal, EventLogWriter
from impl.host import NodeHost
from impl.messages import Message
from impl.node import Durable, Node, Output, Role
from impl.storage import VoteStore
from impl.wire import Codec

Address = tuple[str, int]
_MAX_REQUEST = 8192
LOOPBACK = ("127.0.0.1", "::1", "localhost")
_RCVBUF = 1 << 20
_BATCH = 256
_RECV_SIZE = 2048  # > MAX_DATAGRAM, so an oversized datagram is still seen as one


@dataclass(frozen=True)
class ServerConfig:
    """Everything one node needs; checked when built.

    ``addresses`` maps every server id (this one included) to its UDP address.
    ``election_timeout`` is the (low, high) range in seconds from which each timeout is drawn
    uniformly; ``heartbeat_interval`` must be well below its low end. ``status_port`` 0 picks
    a free port, None serves no status endpoint.
    """

    node_id: int
    addresses: Mapping[int, Address]
    data_dir: Path
    cluster_id: str
    key: bytes
    status_host: str = "127.0.0.1"
    status_port: int | None = 0
    election_timeout: tuple[float, float] = (0.150, 0.300)
    heartbeat_interval: float = 0.050
    event_log: Path | None = None
    fault_injection: bool = False
    log_idle: bool = False
    event_log_max_bytes: int = DEFAULT_MAX_BYTES

    def __post_init__(self) -> None:
        if self.node_id not in self.addresses:
            raise ConfigError(f"node {self.node_id} has no address among servers "
                              f"{sorted(self.addresses)}")
        low, high = self.election_timeout
        if not 0 < low <= high:
            raise ConfigError(f"election timeout range {low}..{high} s must be 0 < low <= high")
        if not 0 < self.heartbeat_interval < low:
            raise ConfigError(f"heartbeat interval {self.heartbeat_interval} s must be > 0 and "
                              f"below the lowest election timeout {low} s")
        if len(self.key) < 16:
            raise ConfigError("the cluster key must be at least 16 bytes")
        if self.fault_injection and self.status_host not in LOOPBACK:
            raise ConfigError(f"fault injection serves POST /admin/partition on loopback only, "
                              f"not on {self.status_host}")


@dataclass
class _Timer:
    handle: asyncio.TimerHandle | None = None

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
            self.handle = None


@dataclass
class Counters:
    """What the node saw on the wire, served in /status."""

    received: int = 0
    sent: int = 0
    dropped: Counter[str] = field(default_factory=Counter)


class ElectionServer:
    """One running node: wraps a sans-IO Node with sockets, timers, storage and a log.

    ``on_elected(term)`` and ``on_stepped_down(term)`` are called from the event loop right
    after the change took effect; they must not block. ``store`` is where the vote lives
    (default: a :class:`VoteStore` on ``config.data_dir``; the checker passes one whose file
    system injects I/O errors).
    """

    def __init__(self, config: ServerConfig, *,
                 on_elected: Callable[[int], None] | None = None,
                 on_stepped_down: Callable[[int], None] | None = None,
                 rng: random.Random | None = None, store: VoteStore | None = None) -> None:
        self.config = config
        self.counters = Counters()
        self._on_elected = on_elected
        self._on_stepped_down = on_stepped_down
        self._rng = rng or random.Random()
        self._store = store if store is not None else VoteStore(config.data_dir)
        self._codec = Codec(config.cluster_id, config.key, config.addresses)
        self._host: NodeHost | None = None
        self._sock: socket.socket | None = None
        self._status_server: asyncio.base_events.Server | None = None
        self._election = _Timer()
        self._heartbeat = _Timer()
        self._blocked: frozenset[int] = frozenset()
        self._journal: EventJournal | None = None
        self._stopped = asyncio.Event()
        self._fatal: BaseException | None = None
        self._stop_task: asyncio.Task[None] | None = None

    # -- the embeddable API ------------------------------------------------------------------
    def is_leader(self) -> bool:
        """Whether this node believes it leads its current term."""
        return self._host is not None and self._host.node.snapshot().role is Role.LEADER

    @property
    def term(self) -> int:
        """The current term."""
        return self._require_node().snapshot().term

    def fencing_token(self) -> int | None:
        """The term while this node leads, else None.

        Work done under leadership should carry this token; a resource that has seen a larger
        token must refuse a smaller one, which fences a deposed leader that has not yet
        noticed.
        """
        snap = self._require_node().snapshot()
        return snap.term if snap.role is Role.LEADER else None

    @property
    def status_port(self) -> int | None:
        """The bound status port, once started."""
        if self._status_server is None:
            return None
        return self._status_server.sockets[0].getsockname()[1]

    def status(self) -> dict[str, Any]:
        """The /status document: id, term, role, leader, voted_for, plus counters."""
        view = self._require_node().snapshot().to_dict()
        view.update(pid=os.getpid(), received=self.counters.received, sent=self.counters.sent,
                    dropped=dict(self.counters.dropped), blocked=sorted(self._blocked))
        return view

    def partition(self, peers: set[int] | frozenset[int]) -> None:
        """Drop all traffic to and from ``peers`` (fault injection); an empty set heals."""
        unknown = set(peers) - set(self.config.addresses)
        if unknown:
            raise ConfigError(f"cannot partition from unknown servers {sorted(unknown)}; "
                              f"valid: {sorted(self.config.addresses)}")
        self._blocked = frozenset(peers) - {self.config.node_id}

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        """Recover from storage, bind the sockets, arm the election timer.

        Raises StorageError for a damaged or unreadable vote file or a data directory another
        node holds, and ConfigError when a socket cannot be bound; nothing is left open in
        either case.
        """
        cfg = self.config
        self._store.lock()  # before the load: the vote read must be this node's alone
        try:
            self._host = NodeHost(cfg.node_id, cfg.addresses, self._store,
                                  on_handled=self._log_handled, on_persisted=self._log_persisted)
        except BaseException:
            self._store.unlock()
            raise
        loop = asyncio.get_running_loop()
        host, port = cfg.addresses[cfg.node_id]
        try:
            if cfg.event_log is not None:
                writer = EventLogWriter(cfg.event_log, cfg.node_id, cfg.event_log_max_bytes)
                writer.open()
                self._journal = EventJournal(writer, cfg.log_idle)
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            self._sock = socket.socket(family, socket.SOCK_DGRAM)
            self._sock.setblocking(False)
            # A deeper receive queue rides out a burst without the kernel dropping peers'
            # messages; the kernel caps it at net.core.rmem_max.
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
            self._sock.bind((host, port))
            loop.add_reader(self._sock.fileno(), self._drain)
            if self._journal is not None:
                self._journal.start(self._require_node())
            # /status comes up last: once it answers, the start is in the log.
            if cfg.status_port is not None:
                self._status_server = await asyncio.start_server(
                    self._serve_http, cfg.status_host, cfg.status_port)
        except OSError as exc:
            await self.stop()
            raise ConfigError(f"node {cfg.node_id}: cannot start on udp {host}:{port}, status "
                              f"port {cfg.status_port}, log {cfg.event_log}: "
                              f"{exc.strerror or exc}") from None
        self._arm_election()

    async def stop(self) -> None:
        """Cancel the timers, close sockets and log, release the data directory; idempotent."""
        self._election.cancel()
        self._heartbeat.cancel()
        self._close_socket()
        self._store.unlock()
        if self._status_server is not None:
            self._status_server.close()
            await self._status_server.wait_closed()
            self._status_server = None
        if self._journal is not None:
            self._journal.writer.close()
            self._journal = None
        self._stopped.set()

    async def wait_stopped(self) -> None:
        """Wait until stop() ran; re-raise the fatal error that stopped the node, if any."""
        await self._stopped.wait()
        if self._fatal is not None:
            raise self._fatal

    def _close_socket(self) -> None:
        if self._sock is not None:
            try:
                asyncio.get_running_loop().remove_reader(self._sock.fileno())
            except RuntimeError:  # no running loop (stop() after the loop ended)
                pass
            self._sock.close()
            self._sock = None

    # -- events ------------------------------------------------------------------------------
    def _drain(self) -> None:
        """Read and handle up to _BATCH waiting datagrams.

        Far cheaper than asyncio's one datagram per loop turn, so a flood of garbage costs
        less CPU, and timers still run between batches.
        """
        for _ in range(_BATCH):
            sock = self._sock
            if sock is None:
                return
            try:
                data = sock.recv(_RECV_SIZE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                self.counters.dropped["recv-error"] += 1
                return
            self._on_datagram(data)

    def _on_datagram(self, data: bytes) -> None:
        if self._host is None:
            return
        node = self._host.node
        try:
            msg = self._codec.decode(data)
        except WireError as exc:
            self.counters.dropped[exc.reason] += 1
            return
        if msg.dst != node.id:
            self.counters.dropped["wrong-dst"] += 1
            return
        if msg.src in self._blocked:
            self.counters.dropped["partitioned"] += 1
            return
        self.counters.received += 1
        self._apply(self._host.deliver, msg)

    def _on_election_timer(self) -> None:
        self._election.handle = None
        self._apply(self._require_host().election_timeout)

    def _on_heartbeat_timer(self) -> None:
        self._heartbeat.handle = None
        self._apply(self._require_host().heartbeat_timer)

    def _apply(self, event: Callable[..., Output], *args: Message) -> None:
        """Run one event through the host (handler, then fsync), then send, timers, callbacks."""
        if self._sock is None:
            return
        try:
            out = event(*args)
        except StorageError as exc:
            # The node's memory is ahead of its disk: it must not send another byte.
            self._fatal = exc
            self._close_socket()
            self._stop_task = asyncio.get_running_loop().create_task(self.stop())
            return
        for m in out.send:
            if self._journal is not None:
                self._journal.send(m, self._require_node())
            if m.dst in self._blocked:
                self.counters.dropped["partitioned-out"] += 1
                continue
            try:
                self._sock.sendto(self._codec.encode(m), self.config.addresses[m.dst])
                self.counters.sent += 1
            except OSError:  # full send buffer, or ICMP unreachable: UDP may lose it
                self.counters.dropped["send-error"] += 1
        self._rearm(out)
        snap = self._require_node().snapshot()
        if out.became_leader and self._on_elected is not None:
            self._on_elected(snap.term)
        if out.stepped_down and self._on_stepped_down is not None:
            self._on_stepped_down(snap.term)

    # -- timers ------------------------------------------------------------------------------
    def _rearm(self, out: Output) -> None:
        if self._require_node().snapshot().role is Role.LEADER:
            self._election.cancel()
            if self._heartbeat.handle is None:
                self._heartbeat.handle = asyncio.get_running_loop().call_later(
                    self.config.heartbeat_interval, self._on_heartbeat_timer)
            return
        self._heartbeat.cancel()
        if out.reset_election_timer or out.stepped_down or self._election.handle is None:
            self._arm_election()

    def _arm_election(self) -> None:
        self._election.cancel()
        delay = self._rng.uniform(*self.config.election_timeout)
        self._election.handle = asyncio.get_running_loop().call_later(
            delay, self._on_election_timer)

    # -- event log (impl/eventlog.py decides the lines) ------------------------------------
    def _log_handled(self, event: str, msg: Message | None, out: Output) -> None:
        if self._journal is not None:
            self._journal.handled(event, msg, out, self._require_node())

    def _log_persisted(self, durable: Durable) -> None:
        if self._journal is not None:
            self._journal.persisted(durable, self._require_node())

    # -- /status -----------------------------------------------------------------------------
    async def _serve_http(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        try:
            code, body = await asyncio.wait_for(self._http_request(reader), timeout=5)
        except (TimeoutError, ValueError, ConnectionError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError):
            code, body = 400, {"error": "bad request"}
        payload = json.dumps(body).encode()
        reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
                  404: "Not Found",
                  405: "Method Not Allowed"}.get(code, "Error")
        try:
            writer.write(f"HTTP/1.1 {code} {reason}\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                         + payload)
            await writer.drain()
            writer.close()
            await writer.wait_closed()
        except ConnectionError:
            pass

    async def _http_request(self, reader: asyncio.StreamReader) -> tuple[int, Any]:
        head = await reader.readuntil(b"\r\n\r\n")
        if len(head) > _MAX_REQUEST:
            raise ValueError("request head too large")
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers = {k.strip().lower(): v.strip() for k, _, v in
                   (line.partition(":") for line in lines[1:] if line)}
        length = int(headers.get("content-length", "0"))
        if not 0 <= length <= _MAX_REQUEST:
            raise ValueError("body too large")
        body = await reader.readexactly(length) if length else b""
        path = target.split("?", 1)[0]
        if path == "/status":
            return (200, self.status()) if method == "GET" else (405, {"error": "use GET"})
        if path == "/admin/partition":
            if method != "POST":
                return 405, {"error": "use POST"}
            if not self.config.fault_injection:
                return 403, {"error": "fault injection is off (start the node with "
                                      "--fault-injection)"}
            offered = headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not hmac.compare_digest(offered.encode(), self.config.key.hex().encode()):
                return 401, {"error": "the admin endpoint needs the cluster key: "
                                      "'Authorization: Bearer <key in hex>'"}
            try:
                drop = json.loads(body or b"{}").get("drop", [])
                self.partition({int(p) for p in drop})
            except (ValueError, AttributeError, TypeError, ConfigError) as exc:
                return 400, {"error": f"expected {{\"drop\": [ids]}}: {exc}"}
            return 200, {"blocked": sorted(self._blocked)}
        return 404, {"error": f"no route {path}; valid: /status, /admin/partition"}

    def _require_host(self) -> NodeHost:
        if self._host is None:
            raise ConfigError("the server is not started")
        return self._host

    def _require_node(self) -> Node:
        return self._require_host().node
