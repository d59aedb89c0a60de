"""The I/O-fault stage of raft_election: the real server, an I/O error at every call.

Node 1 runs as the real :class:`impl.server.ElectionServer` in this process, on real UDP
sockets of loopback; servers 2 and 3 are plain sockets of this module that send it messages
and receive what it sends. Its vote store is the real one, over
:class:`checker.conformance.iofaults.FaultyFiles`. Each scenario runs once without faults,
then once per (file-system call, fault kind): ENOSPC, EIO and EACCES at every call of the
lock, the load and the save (the storage is gone from that call on), a short write or read
at every write and read.

- ``vote``: the vote file holds term 5; server 2 asks for a vote in term 6 (a save, then a
  granted Vote on the wire);
- ``campaign``: no vote file; the election timer fires (a save, then RequestVotes).

Judged on the wire and on disk, for every run:

- a node that could not lock or read its vote file in full refuses to start, with one line
  naming the file and the errno; one that started had no error injected;
- once a save failed, the node stops with one such line and has sent nothing for it: every
  message on the wire carries a term (and, in that term, a vote) that a save acknowledged
  with no error;
- a short write or read is no error: the run goes on as without it;
- afterwards the vote file holds the acknowledged vote or the one being saved.

Two checks without faults complete the stage: a second node on the data directory of a
running one is refused (its lock), and a damaged vote file (every truncation of a record, a
term changed under its checksum, garbage) stops the node from starting.
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
from impl.errors import ImplError, StorageError, WireError
from impl.messages import Message, RequestVote, Vote
from impl.node import Durable
from impl.server import ElectionServer, ServerConfig
from impl.storage import VoteStore, encode_record
from impl.wire import Codec

CLUSTER = "electkit-iofaults"
KEY = b"electkit-iofaults-key-32-bytes!!"
NODE, PEERS = 1, (2, 3)
STORED = Durable(5, None)  # what the vote scenario finds on disk
DAMAGED_FROM = Durable(15, 2)  # the record the damaged files are made of
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
        """An empty data directory for the next run."""
        self.runs += 1
        return self.root / f"run{self.runs}"

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


async def _scenario(h: Harness, name: str, fault: Fault | None) -> tuple[list[str], list[str]]:
    """One run of scenario ``name`` with ``fault``: (the calls faults may hit, findings)."""
    data_dir = h.fresh_dir()
    data_dir.mkdir()
    vote = name == "vote"
    if vote:
        VoteStore(data_dir).save(STORED)
    files = FaultyFiles(data_dir, fault)
    store = acking(h.store_class)(data_dir, files, STORED if vote else Durable(0, None))
    timeout = (30.0, 30.0) if vote else (0.002, 0.004)
    server = ElectionServer(h.config(data_dir, timeout), rng=random.Random(0), store=store)
    findings: list[str] = []

    def found(text: str) -> None:
        findings.append(f"{files.describe()}: {text}".replace(str(data_dir), "DIR"))

    try:
        if await _started(server, files, data_dir, found):
            sent = await _drive(h, server, vote, files, data_dir, found)
            _judge_wire_and_disk(sent, store, data_dir, found)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
    # The calls up to the first acknowledged save: those that do not depend on timing.
    return files.calls[: store.calls_at_ack[0]] if store.calls_at_ack else files.calls, findings


async def _started(server: ElectionServer, files: FaultyFiles, data_dir: Path,
                   found: Callable[[str], None]) -> bool:
    """Start ``server``: it must refuse, in one line, exactly when an error was injected."""
    try:
        await server.start()
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
            h.send(RequestVote(STORED.term + 1, PEERS[0], NODE))
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


async def _lock(h: Harness) -> list[str]:
    """A second node on a running node's data directory is refused; after a stop, it starts."""
    data_dir = h.fresh_dir()
    timeout = (30.0, 30.0)
    first = ElectionServer(h.config(data_dir, timeout), store=h.store_class(data_dir))
    second = ElectionServer(h.config(data_dir, timeout, port=1), store=h.store_class(data_dir))
    again = ElectionServer(h.config(data_dir, timeout, port=1), store=h.store_class(data_dir))
    findings = []
    try:
        await first.start()
        try:
            await second.start()
        except StorageError as exc:
            if "vote.lock" not in str(exc) or "\n" in str(exc):
                findings.append(f"second node refused, but not in one line naming the lock: {exc}")
        else:
            findings.append("a second node started on the data directory of a running node")
        await second.stop()
        await first.stop()
        try:
            await again.start()
        except ImplError as exc:
            findings.append(f"no node could start after the first stopped (lock kept): {exc}")
    except Exception as exc:  # noqa: BLE001 - a node that cannot even start is a finding
        findings.append(f"the lock check failed: {exc.__class__.__name__}: {exc}")
    finally:
        for server in (first, second, again):
            await server.stop()
    return [f.replace(str(data_dir), "DIR") for f in findings]


def damaged_files() -> list[tuple[str, bytes]]:
    """Damaged vote files: each truncation of a record, a term changed under its checksum."""
    good = encode_record(DAMAGED_FROM)
    cases = [(f"first {k} of {len(good)} bytes", good[:k]) for k in range(len(good.rstrip()))]
    older = good.replace(b'"term": 15', b'"term": 14')
    cases += [("term 15 changed to 14, checksum kept", older), ("garbage", b"\xff\xfe\x00garbage")]
    return cases


async def _damaged(h: Harness) -> tuple[int, list[str]]:
    findings = []
    cases = damaged_files()
    for what, data in cases:
        data_dir = h.fresh_dir()
        data_dir.mkdir()
        (data_dir / "vote.json").write_bytes(data)
        server = ElectionServer(h.config(data_dir, (30.0, 30.0)), store=h.store_class(data_dir))
        try:
            await server.start()
        except StorageError as exc:
            if "vote.json" not in str(exc) or "\n" in str(exc):
                findings.append(f"damaged vote file ({what}): refused, but not in one line "
                                f"naming the file: {exc}")
        except Exception as exc:  # noqa: BLE001 - anything but one clear refusal is a finding
            findings.append(f"damaged vote file ({what}): start failed with "
                            f"{exc.__class__.__name__}: {exc}")
        else:
            findings.append(f"started from a damaged vote file ({what}) at term {server.term}")
        finally:
            await server.stop()
            shutil.rmtree(data_dir, ignore_errors=True)
    return len(cases), [f.replace(str(h.root), "DIR") for f in findings]


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
    return report, await _damaged(h), await _lock(h)
