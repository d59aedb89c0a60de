"""The asyncio server in-process: embedding API, callbacks, fuzzed datagrams, storage failure."""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
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
from impl.wire import Codec

KEY = b"s" * 32


def _config(tmp: Path, node_id: int, ports: dict[int, int], **kw: object) -> ServerConfig:
    return ServerConfig(
        node_id=node_id,
        addresses={i: ("127.0.0.1", p) for i, p in ports.items()},
        data_dir=tmp / f"n{node_id}",
        cluster_id="t",
        key=KEY,
        event_log=tmp / f"n{node_id}" / "events.jsonl",
        **kw,
    )  # type: ignore[arg-type]


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
            await _until(lambda: sum(s.is_leader() for s in servers.values()) == 1)
            leader = next(i for i, s in servers.items() if s.is_leader())
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


def test_bad_config_is_refused(tmp_path: Path) -> None:
    from impl.errors import ConfigError

    with pytest.raises(ConfigError, match="no address"):
        _config(tmp_path, 4, {1: 1})
    with pytest.raises(ConfigError, match="heartbeat"):
        _config(tmp_path, 1, {1: 1}, heartbeat_interval=0.5)
