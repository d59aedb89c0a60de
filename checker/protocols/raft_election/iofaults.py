"""The I/O-fault stage of raft_election: the real server, an I/O error at every call.

Node 1 runs as the real :class:`impl.server.ElectionServer` in this process, on real UDP
sockets of loopback; servers 2 and 3 are plain sockets of this module that send it messages
and receive what it sends. Its vote store is the real one, over
:class:`checker.conformance.iofaults.FaultyFiles`. Each scenario runs once without faults,
then once per (file-system call, fault kind): ENOSPC, EIO and EACCES at every call of the
lock, the load and the save (the storage is gone from that call on), a short write or read
at every write and read.

- ``vote``: the vote file holds term 5; servers 2 and 3 ask for a vote in term 6, both
  requests read in one batch (a save, then a granted Vote to 2 and a denied one to 3);
- ``campaign``: no data directory, nor its parent; the node makes them, then its election
  timer fires (a save, then RequestVotes).

Judged on the wire and on disk, for every run:

- a node that could not lock or read its vote file in full refuses to start, with one line
  naming the file and the errno; one that started had no error injected;
- once a save failed, the node stops with one such line and has sent nothing for it: every
  message on the wire carries a term (and, in that term, a vote) that a save acknowledged
  with no error;
- a short write or read is no error: the run goes on as without it;
- afterwards the vote file holds the acknowledged vote or the one being saved, and no file
  is left open.

Two checks without faults complete the stage (checker/protocols/raft_election/refusals.py):
a second node on the data directory of a running one is refused (its lock), and a damaged
vote file stops the node from starting.
"""

from __future__ import annotations

import asyncio
import functools
import random
import shutil
import socket
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from checker.conformance.iofaults import Fault, FaultReport, FaultyFiles, run_matrix
from checker.protocols.raft_election.refusals import damaged, second_node
from impl.errors import ConfigError, ImplError, StorageError, WireError
from impl.messages import Message, RequestVote, Vote
from impl.node import Durable
from impl.server import ElectionServer, ServerConfig
from impl.storage import VoteStore
from impl.wire import Codec

CLUSTER = "electkit-iofaults"
KEY = b"electkit-iofaults-key-32-bytes!!"
NODE, PEERS = 1, (2, 3)
STORED = Durable(5, None)  # what the vote scenario finds on disk
WAIT = 2.0  # seconds a run may take to reach its end (a correct one takes milliseconds)


def acking(store_class: type[VoteStore]) -> type[VoteStore]:
    """``store_class``, noting each save that returned with no error injected during it."""

    class Acking(store_class):  # type: ignore[valid-type, misc]
        def __init__(self, directory: Path, files: FaultyFiles, acked: Durable) -> None:
            super().__init__(directory, files)
            self.faulty, self.acked = files, acked
            self.attempted: Durable | None = None
            self.calls_at_ack: list[int] = []

        def save(self, durable: Durable) -> None:
            self.attempted = durable
            errors = self.faulty.errors
            super().save(durable)
            if self.faulty.errors == errors:
                self.acked = durable
                self.calls_at_ack.append(len(self.faulty.calls))

    return Acking


class Harness:
    """Loopback sockets for servers 2 and 3, and fresh data directories under ``root``."""

    def __init__(self, root: Path, store_class: type[VoteStore]) -> None:
        self.root = root
        self.store_class = store_class
        self.codec = Codec(CLUSTER, KEY, (NODE, *PEERS))
        self.peers = {}
        for peer in PEERS:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            sock.bind(("127.0.0.1", 0))
            sock.setblocking(False)
            self.peers[peer] = sock
        self.ports = [self._free_port(), self._free_port()]  # node 1, and a second node 1
        self.runs = 0
        self.undecodable: list[str] = []  # reasons the codec gave for datagrams of the node
        self.escaped: list[str] = []  # exceptions that escaped the server's callbacks

    @staticmethod
    def _free_port() -> int:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind(("127.0.0.1", 0))
            return sock.getsockname()[1]

    def close(self) -> None:
        """Close the peers' sockets."""
        for sock in self.peers.values():
            sock.close()

    def fresh_dir(self) -> Path:
        """A data directory for the next run, not made yet, nor its parent."""
        self.runs += 1
        return self.root / f"run{self.runs}" / "data"

    def config(self, data_dir: Path, timeout: tuple[float, float], port: int = 0) -> ServerConfig:
        """Node 1's configuration (``port``: which of the two node-1 ports)."""
        addresses = {NODE: ("127.0.0.1", self.ports[port])}
        addresses |= {p: s.getsockname() for p, s in self.peers.items()}
        return ServerConfig(node_id=NODE, addresses=addresses, data_dir=data_dir,
                            cluster_id=CLUSTER, key=KEY, status_port=None,
                            election_timeout=timeout, heartbeat_interval=timeout[0] / 2)

    def send(self, msg: Message) -> None:
        """Send ``msg`` from its source (a peer) to node 1."""
        self.peers[msg.src].sendto(self.codec.encode(msg), ("127.0.0.1", self.ports[0]))

    def receive(self, into: list[Message]) -> list[Message]:
        """Append what node 1 sent to the peers since the last call."""
        for sock in self.peers.values():
            while True:
                try:
                    data = sock.recv(2048)
                except (BlockingIOError, InterruptedError):
                    break
                try:
                    into.append(self.codec.decode(data))
                except WireError as exc:
                    self.undecodable.append(exc.reason)
        return into


def _escaped(context: dict[str, Any]) -> str:
    exc = context.get("exception")
    what = f"{exc.__class__.__name__}: {exc}" if exc is not None else context.get("message")
    return f"{what} (in {context.get('handle', 'the event loop')})"


async def _until(done: Callable[[], bool], seconds: float) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not done():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.001)
    return True


def _one_line(exc: BaseException, files: FaultyFiles, data_dir: Path) -> str | None:
    """What is wrong with the line a node stopped with (None: it is one clear line)."""
    text = str(exc)
    kind = files.fault.kind if files.fault else ""
    if "\n" in text or str(data_dir) not in text or kind not in text:
        return f"its error does not name the file and {kind} in one line: {text!r}"
    return None


def _unsent(msg: Message, acked: Durable) -> str | None:
    """Why ``msg`` could not have left after ``acked`` was durable (None: it could)."""
    if msg.term > acked.term:
        return f"term {msg.term} is above the durable term {acked.term}"
    if msg.term == acked.term:
        if isinstance(msg, Vote) and msg.granted and acked.voted_for != msg.dst:
            return f"the durable vote of term {acked.term} is for {acked.voted_for}"
        if isinstance(msg, RequestVote) and acked.voted_for != NODE:
            return f"the durable vote of term {acked.term} is for {acked.voted_for}"
    return None


class _PortTaken(Exception):
    """Node 1's port was taken by another process between two runs."""


async def _scenario(h: Harness, name: str, fault: Fault | None) -> tuple[list[str], list[str]]:
    """One run of scenario ``name`` with ``fault``: (the calls faults may hit, findings)."""
    try:
        return await _run(h, name, fault, retry=True)
    except _PortTaken:  # the port is reused run after run: another process may take it
        h.ports[0] = h._free_port()
        return await _run(h, name, fault, retry=False)


async def _run(h: Harness, name: str, fault: Fault | None,
               retry: bool) -> tuple[list[str], list[str]]:
    data_dir = h.fresh_dir()
    vote = name == "vote"
    if vote:
        VoteStore(data_dir).save(STORED)  # else the node makes its data directory itself
    files = FaultyFiles(data_dir, fault)
    store = acking(h.store_class)(data_dir, files, STORED if vote else Durable(0, None))
    timeout = (30.0, 30.0) if vote else (0.002, 0.004)
    server = ElectionServer(h.config(data_dir, timeout), rng=random.Random(0), store=store)
    findings: list[str] = []

    def found(text: str) -> None:
        findings.append(f"{files.describe()}: {text}".replace(str(data_dir), "DIR"))

    try:
        if await _started(server, files, data_dir, found, retry):
            sent = await _drive(h, server, vote, files, data_dir, found)
            _judge_wire_and_disk(sent, store, data_dir, found)
        if files.still_open:
            found(f"the stopped node left {', '.join(files.still_open)} open")
    finally:
        shutil.rmtree(data_dir.parent, ignore_errors=True)
    # The calls up to the first acknowledged save: those that do not depend on timing.
    return files.calls[: store.calls_at_ack[0]] if store.calls_at_ack else files.calls, findings


async def _started(server: ElectionServer, files: FaultyFiles, data_dir: Path,
                   found: Callable[[str], None], retry: bool) -> bool:
    """Start ``server``: it must refuse, in one line, exactly when an error was injected."""
    try:
        await server.start()
    except ConfigError as exc:
        if retry and "cannot start on udp" in str(exc):
            raise _PortTaken from exc
        found(f"start failed with ConfigError: {exc}")
        return False
    except StorageError as exc:
        if files.errors == 0:
            found(f"refused to start with no error injected: {exc}")
        elif (wrong := _one_line(exc, files, data_dir)) is not None:
            found(f"refused to start, but {wrong}")
        return False
    except Exception as exc:  # noqa: BLE001 - anything but one clear refusal is a finding
        found(f"start failed with {exc.__class__.__name__}: {exc}")
        await server.stop()
        return False
    if files.errors:
        found(f"started although {files.failed} failed (term {server.term})")
    return True


async def _drive(h: Harness, server: ElectionServer, vote: bool, files: FaultyFiles,
                 data_dir: Path, found: Callable[[str], None]) -> list[Message]:
    """Run until the node answers (a Vote, or RequestVotes) or stops; what it sent."""
    h.receive([])  # drop a datagram of the previous run
    sent: list[Message] = []
    stopped = asyncio.ensure_future(server.wait_stopped())
    answer = Vote if vote else RequestVote
    try:
        if vote:
            # Two requests in one go: the node reads both in one batch, so one that fails its
            # save must stop reading at once, or it answers the second from its memory.
            h.send(RequestVote(STORED.term + 1, PEERS[0], NODE))
            h.send(RequestVote(STORED.term + 1, PEERS[1], NODE))
        reached = await _until(
            lambda: any(isinstance(m, answer) for m in h.receive(sent)) or stopped.done(), WAIT)
        await asyncio.sleep(0)
        by_itself = stopped.done()
    finally:
        await server.stop()
        h.receive(sent)
    error = stopped.exception() if by_itself else None
    if files.errors and not by_itself:
        found(f"kept running after {files.failed} failed")
    elif files.errors and error is None:
        found("stopped without saying why")
    elif files.errors and (wrong := _one_line(error, files, data_dir)) is not None:  # type: ignore[arg-type]
        found(f"stopped, but {wrong}")
    elif not files.errors and by_itself:
        found(f"stopped with no error injected: {error}")
    elif not reached:
        found(f"the node neither {'voted' if vote else 'campaigned'} nor stopped in {WAIT:g} s")
    return sent


def _judge_wire_and_disk(sent: list[Message], store: Any, data_dir: Path,
                         found: Callable[[str], None]) -> None:
    """Nothing on the wire ahead of the acknowledged vote; the disk holds it or the next."""
    for msg in sent:
        if (why := _unsent(msg, store.acked)) is not None:
            found(f"sent {msg!r}, but {why}")
            break
    try:
        on_disk = VoteStore(data_dir).load()
    except ImplError as exc:
        found(f"the vote file is unreadable after the run: {exc}")
    else:
        if on_disk not in (store.acked, store.attempted):
            found(f"the vote file holds {on_disk} after the run; acknowledged: {store.acked}")


def fault_gate(store_class: type[VoteStore] = VoteStore,
               scratch: str | None = None) -> tuple[bool, str, dict[str, Any]]:
    """The verify stage: (passed, one-line summary, figures)."""
    with tempfile.TemporaryDirectory(prefix="electkit-iofaults-", dir=scratch) as tmp:
        harness = Harness(Path(tmp), store_class)
        try:
            report, damaged, lock = asyncio.run(_all(harness))
        finally:
            harness.close()
    report.findings = [f.replace(tmp, "DIR") for f in report.findings + lock + damaged[1]]
    if harness.escaped:
        report.findings.append(f"{len(harness.escaped)} exceptions escaped the server's "
                               f"callbacks; first: {harness.escaped[0]}")
    if harness.undecodable:
        report.findings.append(f"the node sent {len(harness.undecodable)} datagrams the codec "
                               f"refuses ({harness.undecodable[0]})")
    kinds = ", ".join(f"{n} {k}" for k, n in report.by_kind.items())
    head = (f"{report.runs} faulty runs of the real server ({kinds}) at {report.calls} calls; "
            f"{damaged[0]} damaged vote files; a second node on one data directory")
    summary = (f"{head}: every run safe" if report.passed
               else f"{head}: {len(report.findings)} wrong; first: {report.findings[0]}")
    details = {"runs": report.runs, "calls": report.calls, "by_kind": report.by_kind,
               "damaged": damaged[0], "findings": report.findings}
    return report.passed, summary, details


async def _all(h: Harness) -> tuple[FaultReport, tuple[int, list[str]], list[str]]:
    # An exception escaping one of the server's callbacks is a finding, not a traceback.
    asyncio.get_running_loop().set_exception_handler(
        lambda loop, context: h.escaped.append(_escaped(context)))
    report = FaultReport()
    for name in ("vote", "campaign"):
        await run_matrix(functools.partial(_scenario, h, name), name, report)
    return report, await damaged(h), await second_node(h)
