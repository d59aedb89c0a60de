"""The asyncio server in-process: embedding API, callbacks, fuzzed datagrams, storage failure."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impl.cluster import free_port
from impl.errors import StorageError
from impl.messages import Heartbeat, RequestVote, Vote
from impl.node import Durable
from impl.server import ElectionServer, ServerConfig
from impl.storage import VoteStore
from impl.wire import REASONS, Codec

KEY = b"s" * 32


@contextlib.contextmanager
def _peers(count: int) -> Iterator[list[socket.socket]]:
    """``count`` non-blocking UDP sockets on loopback ports, standing in for other nodes."""
    with contextlib.ExitStack() as stack:
        peers = [
            stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_DGRAM))
            for _ in range(count)
        ]
        for peer in peers:
            peer.bind(("127.0.0.1", 0))
            peer.setblocking(False)
        yield peers


def _config(tmp: Path, node_id: int, ports: dict[int, int], **kw: object) -> ServerConfig:
    fields: dict[str, object] = {
        "node_id": node_id,
        "addresses": {i: ("127.0.0.1", p) for i, p in ports.items()},
        "data_dir": tmp / f"n{node_id}",
        "cluster_id": "t",
        "key": KEY,
        "event_log": tmp / f"n{node_id}" / "events.jsonl",
    }
    return ServerConfig(**{**fields, **kw})  # type: ignore[arg-type]


async def _sole_leader(servers: dict) -> int:
    """The id of the one leader among ``servers``, once there is exactly one."""
    await _until(lambda: sum(s.is_leader() for s in servers.values()) == 1)
    return next(i for i, s in servers.items() if s.is_leader())


async def _until(predicate, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        if loop.time() > deadline:
            raise TimeoutError("condition not reached")
        await asyncio.sleep(0.005)


def test_three_servers_in_one_loop_elect_with_callbacks(tmp_path: Path) -> None:
    async def main() -> None:
        ports = {i: free_port(socket.SOCK_DGRAM) for i in (1, 2, 3)}
        events: list[tuple[int, str, int]] = []
        servers = {
            i: ElectionServer(
                _config(
                    tmp_path,
                    i,
                    ports,
                    status_port=None,
                    election_timeout=(0.05, 0.1),
                    heartbeat_interval=0.01,
                ),
                on_elected=lambda t, i=i: events.append((i, "elected", t)),
                on_stepped_down=lambda t, i=i: events.append((i, "stepped_down", t)),
            )
            for i in ports
        }
        for server in servers.values():
            await server.start()
        try:
            leader = await _sole_leader(servers)
            term = servers[leader].term
            assert servers[leader].fencing_token() == term
            assert events == [(leader, "elected", term)]
            for i, s in servers.items():
                if i != leader:
                    assert s.fencing_token() is None
            # Cut the leader off both ways: the others elect a new leader in a higher term;
            # on healing, the old one steps down and its callback fires.
            others = set(ports) - {leader}
            servers[leader].partition(others)
            for i in others:
                servers[i].partition({leader})
            await _until(lambda: any(servers[i].is_leader() for i in others))
            servers[leader].partition(set())
            for i in others:
                servers[i].partition(set())
            await _until(lambda: (leader, "stepped_down", servers[leader].term) in events)
            assert VoteStore(tmp_path / f"n{leader}").load() == Durable(
                servers[leader].term, servers[leader].status()["voted_for"]
            )
        finally:
            for server in servers.values():
                await server.stop()

    asyncio.run(main())


def _bad(draw_bytes: bytes, kind: int) -> bytes:
    codec = Codec("t", b"wrong-key-" * 4, [1, 2, 3])
    other = Codec("other", KEY, [1, 2, 3])
    if kind == 0:
        return draw_bytes
    msg = [RequestVote(7, 2, 1), Vote(7, 2, 1, True), Heartbeat(7, 2, 1)][len(draw_bytes) % 3]
    return (codec if kind == 1 else other).encode(msg)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.binary(max_size=700), st.integers(0, 2)), min_size=1, max_size=40))
def test_fuzzed_datagrams_never_change_term_or_vote(tmp_path: Path, datagrams: list) -> None:
    data_dir = tmp_path / "fuzz"
    shutil.rmtree(data_dir, ignore_errors=True)
    VoteStore(data_dir / "n1").save(Durable(5, 3))

    async def main() -> None:
        ports = {1: free_port(socket.SOCK_DGRAM), 2: 1, 3: 2}
        server = ElectionServer(
            _config(data_dir, 1, ports, status_port=None, election_timeout=(600.0, 600.0))
        )
        await server.start()
        try:
            before = server.status()
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
                for payload, kind in datagrams:
                    sock.sendto(_bad(payload, kind), ("127.0.0.1", ports[1]))
            await _until(lambda: sum(server.counters.dropped.values()) == len(datagrams))
            after = server.status()
            assert server.counters.received == 0
            for field in ("term", "voted_for", "role", "leader", "votes"):
                assert after[field] == before[field]
        finally:
            await server.stop()

    asyncio.run(main())
    assert VoteStore(data_dir / "n1").load() == Durable(5, 3)
    log = [json.loads(line) for line in (data_dir / "n1" / "events.jsonl").read_text().split()]
    assert [e["event"] for e in log] == ["start"]


def test_failed_vote_write_stops_the_node_before_sending(tmp_path: Path) -> None:
    async def main() -> None:
        ports = {1: free_port(socket.SOCK_DGRAM), 2: free_port(socket.SOCK_DGRAM)}
        config = _config(
            tmp_path,
            1,
            ports,
            status_port=None,
            election_timeout=(0.02, 0.03),
            heartbeat_interval=0.01,
        )
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
            peer.bind(("127.0.0.1", ports[2]))
            peer.setblocking(False)
            server = ElectionServer(config)
            await server.start()
            shutil.rmtree(config.data_dir)
            config.data_dir.write_text("not a directory any more")  # the next save fails
            with pytest.raises(StorageError, match="cannot save vote"):
                await asyncio.wait_for(server.wait_stopped(), 10)
            with pytest.raises(BlockingIOError):
                peer.recv(1024)  # the RequestVote of the unpersisted term never left

    asyncio.run(main())


def test_no_message_leaves_after_a_failed_save_even_one_already_queued(tmp_path: Path) -> None:
    """Two requests wait in the socket; the save of the first fails: the second must not be
    handled, or the node would answer from a term its disk never saw."""

    async def main() -> None:
        with _peers(2) as (peer2, peer3):
            ports = {
                1: free_port(socket.SOCK_DGRAM),
                2: peer2.getsockname()[1],
                3: peer3.getsockname()[1],
            }
            config = _config(tmp_path, 1, ports, status_port=None, election_timeout=(60.0, 60.0))
            server = ElectionServer(config)
            await server.start()
            shutil.rmtree(config.data_dir)
            config.data_dir.write_text("not a directory any more")  # the next save fails
            codec = Codec("t", KEY, ports)
            # no await in between: both are queued before the server reads either
            peer2.sendto(codec.encode(RequestVote(7, 2, 1)), ("127.0.0.1", ports[1]))
            peer3.sendto(codec.encode(RequestVote(7, 3, 1)), ("127.0.0.1", ports[1]))
            with pytest.raises(StorageError, match="cannot save vote"):
                await asyncio.wait_for(server.wait_stopped(), 10)
            await asyncio.sleep(0.05)
            for peer in (peer2, peer3):
                with pytest.raises(BlockingIOError):
                    peer.recv(1024)  # no vote, granted or denied, left in term 7

    asyncio.run(main())


def test_bad_config_is_refused(tmp_path: Path) -> None:
    from impl.errors import ConfigError

    with pytest.raises(ConfigError, match="no address"):
        _config(tmp_path, 4, {1: 1})
    with pytest.raises(ConfigError, match="heartbeat"):
        _config(tmp_path, 1, {1: 1}, heartbeat_interval=0.5)


# -- configuration, lifecycle and clean-up -------------------------------------------------


def test_config_boundaries(tmp_path: Path) -> None:
    from impl.errors import ConfigError

    for bad, needle in (
        ({"election_timeout": (0.0, 0.3)}, "election timeout range"),
        ({"election_timeout": (0.3, 0.2), "heartbeat_interval": 0.01}, "election timeout range"),
        ({"heartbeat_interval": 0.0}, "heartbeat interval"),
        ({"key": b"k" * 15}, "at least 16 bytes"),
        ({"fault_injection": True, "status_host": "0.0.0.0"}, "loopback only"),  # noqa: S104
    ):
        with pytest.raises(ConfigError, match=needle):
            _config(tmp_path, 1, {1: 1}, **bad)
    # the edges that are accepted
    assert _config(tmp_path, 1, {1: 1}, key=b"k" * 16).key == b"k" * 16
    assert _config(tmp_path, 1, {1: 1}, election_timeout=(0.2, 0.2)).election_timeout == (0.2, 0.2)
    assert (
        _config(
            tmp_path, 1, {1: 1}, heartbeat_interval=0.5, election_timeout=(0.6, 0.9)
        ).heartbeat_interval
        == 0.5
    )
    assert not _config(tmp_path, 1, {1: 1}, status_host="0.0.0.0").fault_injection  # noqa: S104
    assert _config(tmp_path, 1, {1: 1}, fault_injection=True, status_host="::1").fault_injection


def _fds() -> set[str]:
    return {p.name for p in Path("/proc/self/fd").iterdir()}


def test_unstarted_server_answers_plainly(tmp_path: Path) -> None:
    from impl.errors import ConfigError

    server = ElectionServer(_config(tmp_path, 1, {1: 1, 2: 2}))
    assert not server.is_leader()
    assert server.status_port is None
    with pytest.raises(ConfigError, match="not started"):
        server.status()
    with pytest.raises(ConfigError, match="unknown servers \\[9\\]"):
        server.partition({9})


def test_stop_cancels_timers_and_closes_everything(tmp_path: Path) -> None:
    async def main() -> None:
        ports = {1: free_port(socket.SOCK_DGRAM), 2: free_port(socket.SOCK_DGRAM)}
        config = _config(tmp_path, 1, ports, election_timeout=(0.05, 0.1), heartbeat_interval=0.01)
        before = _fds()
        server = ElectionServer(config)
        await server.start()
        assert isinstance(server.status_port, int) and server.status_port > 0
        await asyncio.sleep(0.15)  # a timeout or two: the node is a candidate, timers armed
        assert server.term >= 1
        await server.stop()
        assert server.status_port is None
        assert server._election.handle is None and server._heartbeat.handle is None
        assert _fds() == before  # UDP socket, status server, event log, vote lock: closed
        await asyncio.wait_for(server.wait_stopped(), 5)
        await server.stop()  # idempotent
        assert _fds() == before
        # the data directory is free: a new server on it starts in this very loop, with its
        # socket on the descriptor the old one had, and elects itself
        single = _config(
            tmp_path, 1, {1: ports[1]}, election_timeout=(0.05, 0.1), heartbeat_interval=0.01
        )
        again = ElectionServer(single)
        await again.start()
        try:
            await _until(again.is_leader, 5)
            # and it hears datagrams: the old socket's reader went with it, the new one's is on
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer:
                peer.sendto(b"EK not a message", ("127.0.0.1", ports[1]))
                await _until(lambda: sum(again.counters.dropped.values()) == 1, 5)
        finally:
            await again.stop()
        assert _fds() == before

    asyncio.run(main())


def test_a_leader_stops_its_heartbeat_timer_too(tmp_path: Path) -> None:
    async def main() -> None:
        ports = {1: free_port(socket.SOCK_DGRAM)}
        server = ElectionServer(
            _config(tmp_path, 1, ports, election_timeout=(0.02, 0.03), heartbeat_interval=0.01)
        )
        await server.start()
        await _until(server.is_leader, 5)
        await asyncio.sleep(0.03)
        assert server._heartbeat.handle is not None and server._election.handle is None
        await server.stop()
        assert server._heartbeat.handle is None and server._election.handle is None

    asyncio.run(main())


@pytest.mark.parametrize("taken", ["udp", "status"])
def test_start_on_a_taken_port_fails_and_leaves_nothing_open(tmp_path: Path, taken: str) -> None:
    from impl.errors import ConfigError

    async def main() -> None:
        kind = socket.SOCK_DGRAM if taken == "udp" else socket.SOCK_STREAM
        with socket.socket(socket.AF_INET, kind) as holder:
            holder.bind(("127.0.0.1", 0))
            if kind == socket.SOCK_STREAM:
                holder.listen()
            port = holder.getsockname()[1]
            udp = port if taken == "udp" else free_port(socket.SOCK_DGRAM)
            config = _config(
                tmp_path, 1, {1: udp, 2: 1}, status_port=port if taken == "status" else 0
            )
            before = _fds()
            server = ElectionServer(config)
            with pytest.raises(ConfigError) as refused:
                await server.start()
            message = str(refused.value)
            assert message.startswith("node 1: cannot start on udp 127.0.0.1:")
            assert message.lower().endswith("address already in use") and "\n" not in message
            assert "[Errno" not in message  # the reason in words, not the exception's repr
            assert _fds() == before  # the lock, log and socket opened before it are closed
            assert server._election.handle is None
            VoteStore(config.data_dir).lock()  # the data directory is free again

    asyncio.run(main())


def test_damaged_vote_file_refuses_start_and_frees_the_directory(tmp_path: Path) -> None:
    async def main() -> None:
        config = _config(tmp_path, 1, {1: free_port(socket.SOCK_DGRAM), 2: 1})
        config.data_dir.mkdir()
        (config.data_dir / "vote.json").write_text('{"format": "electkit-vote", "vers')
        before = _fds()
        server = ElectionServer(config)
        with pytest.raises(StorageError):
            await server.start()
        assert _fds() == before
        VoteStore(config.data_dir).lock()

    asyncio.run(main())


def test_start_error_is_one_line_and_exit_2(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    key = tmp_path / "key"
    key.write_text(os.urandom(16).hex())
    electkit = str(Path(sys.executable).with_name("electkit"))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as holder:
        holder.bind(("127.0.0.1", 0))
        port = holder.getsockname()[1]
        run = subprocess.run(
            [
                electkit,
                "node",
                "--id",
                "1",
                "--peer",
                f"1=127.0.0.1:{port}",
                "--peer",
                "2=127.0.0.1:1",
                "--data-dir",
                str(tmp_path / "d"),
                "--key-file",
                str(key),
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot start on udp 127.0.0.1:{port}" in lines[0], lines
    assert "Address already in use" in lines[0]


def test_receive_buffer_is_deepened(tmp_path: Path) -> None:
    async def main() -> None:
        server = ElectionServer(
            _config(
                tmp_path, 1, {1: free_port(socket.SOCK_DGRAM), 2: 1}, election_timeout=(60.0, 60.0)
            )
        )
        await server.start()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as plain:
                default = plain.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)
            assert server._sock is not None
            assert server._sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF) > default
        finally:
            await server.stop()

    asyncio.run(main())


def test_given_rng_draws_the_timeouts(tmp_path: Path) -> None:
    import random

    async def main() -> None:
        rng = random.Random(7)
        state = rng.getstate()
        server = ElectionServer(
            _config(
                tmp_path, 1, {1: free_port(socket.SOCK_DGRAM), 2: 1}, election_timeout=(60.0, 61.0)
            ),
            rng=rng,
        )
        await server.start()
        try:
            assert rng.getstate() != state  # the first timeout came from this rng
        finally:
            await server.stop()

    asyncio.run(main())


# -- the wire: counters, partitions, send errors -------------------------------------------


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_counters_and_partitions_match_the_event_log(tmp_path: Path) -> None:
    """Every message the node sends is logged, then counted once: sent, partitioned-out or
    send-error; every datagram it gets is counted once: received or dropped with its reason."""

    async def main() -> None:
        with _peers(2) as (peer2, peer3):
            ports = {
                1: free_port(socket.SOCK_DGRAM),
                2: peer2.getsockname()[1],
                3: peer3.getsockname()[1],
                4: 0,
            }  # port 0: every send to 4 fails
            config = _config(
                tmp_path,
                1,
                ports,
                status_port=None,
                log_idle=True,
                election_timeout=(0.03, 0.05),
                heartbeat_interval=0.01,
            )
            server = ElectionServer(config)
            await server.start()
            server.partition({3})
            codec = Codec("t", KEY, ports)
            to_server = ("127.0.0.1", ports[1])
            peer2.sendto(b"EK garbage", to_server)  # a wire error
            peer2.sendto(codec.encode(Heartbeat(0, 3, 2)), to_server)  # not for node 1
            peer3.sendto(codec.encode(Heartbeat(0, 3, 1)), to_server)  # from a blocked peer
            peer2.sendto(codec.encode(Heartbeat(0, 2, 1)), to_server)  # stale, but delivered
            counters = server.counters
            await _until(
                lambda: (
                    counters.received == 1
                    and sum(counters.dropped.values()) >= 3
                    and server.term >= 3
                )
            )
            await server.stop()
            delivered = 0
            while True:
                try:
                    peer2.recv(2048)
                    delivered += 1
                except BlockingIOError:
                    break
            with pytest.raises(BlockingIOError):
                peer3.recv(2048)  # nothing crossed the partition
        sends = Counter(e["msg"]["dst"] for e in _events(config.event_log) if e["event"] == "send")
        assert min(sends[2], sends[3], sends[4]) >= 2  # one RequestVote each per election
        assert counters.received == 1
        assert counters.sent == sends[2] == delivered
        dropped = dict(counters.dropped)
        assert dropped.pop("partitioned-out") == sends[3]
        assert dropped.pop("send-error") == sends[4]
        assert dropped.pop("wrong-dst") == 1 and dropped.pop("partitioned") == 1
        assert sum(dropped.values()) == 1 and set(dropped) <= set(REASONS)  # the garbage

    asyncio.run(main())


# -- timers ---------------------------------------------------------------------------------


def test_denied_requests_do_not_hold_off_a_timeout(tmp_path: Path) -> None:
    """Only a granted vote, the leader's heartbeat or an election resets the timer (Raft
    §5.2): a stream of stale RequestVotes must not keep a follower from timing out."""

    async def main() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as peer2:
            peer2.bind(("127.0.0.1", 0))
            ports = {1: free_port(socket.SOCK_DGRAM), 2: peer2.getsockname()[1], 3: 1}
            VoteStore(tmp_path / "n1").save(Durable(5, None))
            server = ElectionServer(
                _config(
                    tmp_path,
                    1,
                    ports,
                    status_port=None,
                    election_timeout=(0.2, 0.25),
                    heartbeat_interval=0.01,
                )
            )
            await server.start()
            stale = Codec("t", KEY, ports).encode(RequestVote(1, 2, 1))
            try:
                for _ in range(200):  # 2 s of a denied request every 10 ms
                    peer2.sendto(stale, ("127.0.0.1", ports[1]))
                    await asyncio.sleep(0.01)
                    if server.term > 5:
                        break
                assert server.term > 5
                assert server.counters.received >= 2  # the stream was being handled
            finally:
                await server.stop()

    asyncio.run(main())


def test_timers_follow_the_role_and_elections_go_on(tmp_path: Path) -> None:
    """A stable leader keeps its term; a leader has no election timer and a follower no
    heartbeat timer (the logs of every event say so); every follower keeps its timer, so
    the cluster elects again after a leader is deposed and after one is gone."""

    async def main() -> None:
        ports = {i: free_port(socket.SOCK_DGRAM) for i in (1, 2, 3)}
        servers = {
            i: ElectionServer(
                _config(
                    tmp_path,
                    i,
                    ports,
                    status_port=None,
                    log_idle=True,
                    election_timeout=(0.15, 0.3),
                    heartbeat_interval=0.03,
                )
            )
            for i in ports
        }
        for server in servers.values():
            await server.start()
        try:
            leader = await _sole_leader(servers)
            term = servers[leader].term
            await asyncio.sleep(1.2)  # four times the longest timeout
            assert servers[leader].is_leader() and servers[leader].term <= term + 2
            # Depose the leader: cut it off, let the others elect, heal.
            others = set(ports) - {leader}
            servers[leader].partition(others)
            for i in others:
                servers[i].partition({leader})
            await _until(lambda: any(servers[i].is_leader() for i in others))
            for server in servers.values():
                server.partition(set())
            await _until(lambda: not servers[leader].is_leader())
            await asyncio.sleep(0.4)  # time for a stray timer of the old role to fire
            # The new leader goes away: the two left, the deposed one among them, elect.
            second = next(i for i in others if servers[i].is_leader())
            await servers[second].stop()
            rest = set(ports) - {second}
            await _until(lambda: any(servers[i].is_leader() for i in rest))
        finally:
            for server in servers.values():
                await server.stop()
        for i in ports:
            for event in _events(tmp_path / f"n{i}" / "events.jsonl"):
                role = event["state"]["role"]
                assert not (event["event"] == "timeout" and role == "leader"), (i, event)
                assert not (event["event"] == "heartbeat" and role != "leader"), (i, event)

    asyncio.run(main())


# -- /status and /admin/partition, in-process -----------------------------------------------


async def _http(port: int, request: bytes) -> tuple[int, dict]:
    """Send raw ``request``; read the reply to EOF (the server closes): (code, JSON body)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(request)
        await writer.drain()
        reply = await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()
    head, _, body = reply.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert int(headers["Content-Length"]) == len(body) and headers["Connection"] == "close"
    return int(lines[0].split(" ")[1]), json.loads(body)


def _post(path: str, body: bytes, auth: bytes | None = None) -> bytes:
    head = f"POST {path} HTTP/1.1\r\nContent-Length: {len(body)}\r\n".encode()
    if auth is not None:
        head += b"Authorization: Bearer " + auth + b"\r\n"
    return head + b"\r\n" + body


def test_status_and_admin_endpoints(tmp_path: Path) -> None:
    async def main() -> None:
        ports = {1: free_port(socket.SOCK_DGRAM), 2: 1, 3: 2}
        server = ElectionServer(
            _config(tmp_path, 1, ports, fault_injection=True, election_timeout=(60.0, 60.0))
        )
        await server.start()
        port = server.status_port
        assert port is not None
        key = KEY.hex().encode()
        try:
            code, body = await _http(port, b"GET /status?x=1 HTTP/1.1\r\n\r\n")
            assert code == 200 and body["id"] == 1 and body["role"] == "follower"
            assert set(body) >= {
                "term",
                "voted_for",
                "leader",
                "pid",
                "received",
                "sent",
                "dropped",
                "blocked",
            }
            assert (await _http(port, b"GET /status HTTP/1.1 and more\r\n\r\n"))[0] == 200
            assert (await _http(port, _post("/status", b"")))[0] == 405
            assert (await _http(port, b"GET /admin/partition HTTP/1.1\r\n\r\n"))[0] == 405
            assert (await _http(port, b"GET /nope HTTP/1.1\r\n\r\n"))[0] == 404
            assert (await _http(port, b"nonsense\r\n\r\n"))[0] == 400
            assert (await _http(port, b"GET /status HTTP/1.1\r\nContent-Length: -1\r\n\r\n"))[
                0
            ] == 400
            drop = b'{"drop": [2]}'
            assert (await _http(port, _post("/admin/partition", drop)))[0] == 401
            assert (await _http(port, _post("/admin/partition", drop, b"\xe9" + key)))[0] == 401
            assert (await _http(port, _post("/admin/partition", drop, b"00" * 32)))[0] == 401
            assert server.status()["blocked"] == []
            assert await _http(port, _post("/admin/partition", drop, key)) == (
                200,
                {"blocked": [2]},
            )
            assert server.status()["blocked"] == [2]
            for bad in (b"not json", b'{"drop": [9]}', b'{"drop": ["x"]}', b"[2]"):
                code, body = await _http(port, _post("/admin/partition", bad, key))
                assert code == 400 and "expected" in body["error"], bad
            assert server.status()["blocked"] == [2]
            assert await _http(port, _post("/admin/partition", b"", key)) == (200, {"blocked": []})
        finally:
            await server.stop()

    asyncio.run(main())


def test_request_size_limits(tmp_path: Path) -> None:
    from impl.server import _MAX_REQUEST

    async def main() -> None:
        server = ElectionServer(
            _config(
                tmp_path, 1, {1: free_port(socket.SOCK_DGRAM), 2: 1}, election_timeout=(60.0, 60.0)
            )
        )
        await server.start()
        port = server.status_port
        assert port is not None

        def head(size: int) -> bytes:
            start = b"GET /status HTTP/1.1\r\nX-Pad: "
            return start + b"p" * (size - len(start) - 4) + b"\r\n\r\n"

        try:
            assert len(head(_MAX_REQUEST)) == _MAX_REQUEST
            assert (await _http(port, head(_MAX_REQUEST)))[0] == 200
            assert (await _http(port, head(_MAX_REQUEST + 1)))[0] == 400
            body = b"b" * (_MAX_REQUEST + 1)
            too_big = f"GET /status HTTP/1.1\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            assert (await _http(port, too_big + body))[0] == 400
            fits = f"GET /status HTTP/1.1\r\nContent-Length: {_MAX_REQUEST}\r\n\r\n".encode()
            assert (await _http(port, fits + body[:_MAX_REQUEST]))[0] == 200
        finally:
            await server.stop()

    asyncio.run(main())
