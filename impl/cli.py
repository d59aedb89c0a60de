"""`electkit node` and `electkit cluster`: one node process, or a local cluster of them.

This module must not import checker/ (impl/ stands alone), so bad input is reported here as
one line on stderr with exit code 2. ``python -m impl node|cluster`` runs the same code
without the electkit dispatcher.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
import time
from pathlib import Path

from impl.errors import ImplError
from impl.server import ElectionServer, ServerConfig

EXIT_USAGE = 2


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_USAGE


def _say(message: str) -> None:
    # One write per line: the nodes of a cluster share one terminal, and print() writes the
    # text and the newline separately, so lines of two nodes could run together.
    sys.stdout.write(message + "\n")
    sys.stdout.flush()


def _add_timing_options(parser: argparse.ArgumentParser) -> None:
    """The timers, the same for one node and for a cluster."""
    parser.add_argument(
        "--election-timeout",
        default="150-300",
        metavar="LOW-HIGH",
        help="election timeout range in ms (default 150-300)",
    )
    parser.add_argument(
        "--heartbeat", default="50", metavar="MS", help="heartbeat interval in ms (default 50)"
    )


# -- electkit node -------------------------------------------------------------------------
def configure_node(parser: argparse.ArgumentParser) -> None:
    """Options of `electkit node`."""
    parser.add_argument("--id", required=True, help="this server's id (an int >= 1)")
    parser.add_argument(
        "--peer",
        action="append",
        default=[],
        metavar="ID=HOST:PORT",
        help="UDP address of a server, this one included; repeat per server",
    )
    parser.add_argument("--data-dir", required=True, help="directory of the durable vote")
    parser.add_argument(
        "--key-file", required=True, help="file holding the cluster key in hex (at least 16 bytes)"
    )
    parser.add_argument("--cluster-id", default="electkit", help="cluster name on the wire")
    parser.add_argument("--status-host", default="127.0.0.1", help="status endpoint host")
    parser.add_argument("--status-port", default="0", help="status endpoint port (0: any)")
    _add_timing_options(parser)
    parser.add_argument(
        "--event-log", default=None, help="JSON-lines event log (default DATA_DIR/events.jsonl)"
    )
    parser.add_argument(
        "--fault-injection",
        action="store_true",
        help="serve POST /admin/partition on the status port (for tests)",
    )
    parser.add_argument(
        "--log-idle",
        action="store_true",
        help="also log idle events (a leader's repeated heartbeats and their deliveries)",
    )
    parser.add_argument(
        "--event-log-max-mb",
        default="256",
        metavar="MB",
        help="stop logging once the event log reaches this size (default 256)",
    )


def _int(text: str, what: str, minimum: int = 0, maximum: int | None = None) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ImplError(f"{what}: expected an integer, got {text!r}") from None
    if value < minimum:
        raise ImplError(f"{what}: must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ImplError(f"{what}: must be <= {maximum}, got {value}")
    return value


def _parse_peers(specs: list[str]) -> dict[int, tuple[str, int]]:
    peers: dict[int, tuple[str, int]] = {}
    for spec in specs:
        ident, sep, address = spec.partition("=")
        host, colon, port = address.rpartition(":")
        if not sep or not colon or not host:
            raise ImplError(f"--peer {spec!r}: expected ID=HOST:PORT, e.g. 2=127.0.0.1:7002")
        node_id = _int(ident, f"--peer {spec!r} id", 1)
        if node_id in peers:
            raise ImplError(f"--peer: server {node_id} is given twice")
        peers[node_id] = (host, _int(port, f"--peer {spec!r} port", 1, 65535))
    return peers


def _parse_range(text: str) -> tuple[float, float]:
    low, sep, high = text.partition("-")
    if not sep:
        raise ImplError(f"--election-timeout {text!r}: expected LOW-HIGH in ms, e.g. 150-300")
    lo, hi = _int(low, "--election-timeout low", 1), _int(high, "--election-timeout high", 1)
    if lo > hi:
        raise ImplError(f"--election-timeout {text!r}: low is above high")
    return lo / 1000, hi / 1000


def _read_key(path: str) -> bytes:
    try:
        text = Path(path).read_bytes().decode("ascii", errors="replace").strip()
    except OSError as exc:
        raise ImplError(f"--key-file {path}: cannot read ({exc.strerror})") from None
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise ImplError(f"--key-file {path}: not a hex string") from None
    if len(key) < 16:
        raise ImplError(f"--key-file {path}: the key must be at least 16 bytes, got {len(key)}")
    return key


def node_config(args: argparse.Namespace) -> ServerConfig:
    """Check the options of `electkit node` and build its ServerConfig."""
    node_id = _int(args.id, "--id", 1)
    peers = _parse_peers(args.peer)
    if node_id not in peers:
        raise ImplError(
            f"--id {node_id}: give this server's own address with --peer "
            f"{node_id}=HOST:PORT (known: {sorted(peers)})"
        )
    data_dir = Path(args.data_dir)
    return ServerConfig(
        node_id=node_id,
        addresses=peers,
        data_dir=data_dir,
        cluster_id=args.cluster_id,
        key=_read_key(args.key_file),
        status_host=args.status_host,
        status_port=_int(args.status_port, "--status-port", 0, 65535),
        election_timeout=_parse_range(args.election_timeout),
        heartbeat_interval=_int(args.heartbeat, "--heartbeat", 1) / 1000,
        event_log=Path(args.event_log) if args.event_log else data_dir / "events.jsonl",
        fault_injection=args.fault_injection,
        log_idle=args.log_idle,
        event_log_max_bytes=_int(args.event_log_max_mb, "--event-log-max-mb", 1) * 2**20,
    )


async def _serve(config: ServerConfig) -> int:
    node_id = config.node_id
    server = ElectionServer(
        config,
        on_elected=lambda term: _say(f"node {node_id}: elected leader of term {term}"),
        on_stepped_down=lambda term: _say(f"node {node_id}: stepped down, now in term {term}"),
    )
    await server.start()
    loop = asyncio.get_running_loop()

    def _on_signal(signum: int, frame: object) -> None:
        # Stays installed after the loop closed, so a second SIGTERM (the terminal's and the
        # cluster's) during shutdown is absorbed instead of killing a clean exit.
        if not loop.is_closed():
            loop.call_soon_threadsafe(lambda: loop.create_task(server.stop()))

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, _on_signal)
    host, port = config.addresses[node_id]
    _say(
        f"node {node_id}: up, udp {host}:{port}, status "
        f"http://{config.status_host}:{server.status_port}/status, term {server.term}"
    )
    await server.wait_stopped()
    # Stopped cleanly: a late SIGTERM (the cluster's, after the terminal's SIGINT) must not
    # kill the exit. Python resets its own handlers to the default while it shuts down, but
    # leaves an ignored signal ignored.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, signal.SIG_IGN)
    _say(f"node {node_id}: stopped in term {server.term}")
    return 0


def run_node(args: argparse.Namespace) -> int:
    """Run one node until SIGTERM/SIGINT; exit 2 on bad options or a damaged vote file."""
    try:
        return asyncio.run(_serve(node_config(args)))
    except ImplError as exc:
        return _fail(str(exc))


# -- electkit cluster ----------------------------------------------------------------------
MAX_NODES = 32  # node processes one `electkit cluster` starts


def configure_cluster(parser: argparse.ArgumentParser) -> None:
    """Options of `electkit cluster`."""
    parser.add_argument("--nodes", required=True, help="number of node processes (N >= 1)")
    parser.add_argument("--dir", required=True, help="directory for cluster.json and data")
    _add_timing_options(parser)
    parser.add_argument(
        "--fault-injection",
        action="store_true",
        help="serve POST /admin/partition on each node's loopback status port, for tests; "
        "a request must carry the cluster key (DIR/cluster.key)",
    )


def run_cluster(args: argparse.Namespace) -> int:
    """Start N nodes on 127.0.0.1, print leadership changes, stop them on SIGINT/SIGTERM."""
    from impl.cluster import LocalCluster

    try:
        size = _int(args.nodes, "--nodes", 1)
        if size > MAX_NODES:
            raise ImplError(f"--nodes {size}: a local cluster runs at most {MAX_NODES} node "
                            "processes on this machine")
        low, high = _parse_range(args.election_timeout)
        heartbeat = _int(args.heartbeat, "--heartbeat", 1)
        if heartbeat >= low * 1000:
            raise ImplError(
                f"--heartbeat {heartbeat} ms must be below the lowest election "
                f"timeout {int(low * 1000)} ms"
            )
        cluster = LocalCluster(
            args.dir,
            size,
            election_timeout_ms=(int(low * 1000), int(high * 1000)),
            heartbeat_ms=heartbeat,
            fault_injection=args.fault_injection,
            output="inherit",
        )
    except ImplError as exc:
        return _fail(str(exc))
    stopping = False

    def _stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        try:
            cluster.start()
        except OSError as exc:
            return _fail(f"--dir {args.dir}: cannot set up the cluster ({exc.strerror or exc})")
        manifest = cluster.directory / "cluster.json"
        _say(f"cluster: {size} nodes started, manifest {manifest}")
        _say(
            "cluster: fault injection on: POST /admin/partition on loopback, with the header "
            f"'Authorization: Bearer <the key in {cluster.key_file}>'"
            if args.fault_injection
            else "cluster: fault injection off (no /admin endpoint; --fault-injection turns it on)"
        )
        for node_id in cluster.ids:
            _say(
                f"cluster: node {node_id} pid {cluster.procs[node_id].pid} "
                f"status {cluster.status_url(node_id)}"
            )
        reported: set[int] = set()
        while not stopping:
            time.sleep(0.1)
            for node_id, proc in cluster.procs.items():
                if proc.poll() is not None and node_id not in reported:
                    reported.add(node_id)
                    _say(
                        f"cluster: node {node_id} (pid {proc.pid}) exited with "
                        f"code {proc.returncode}"
                    )
    finally:
        codes = cluster.stop()
    _say("cluster: stopped " + ", ".join(f"node {i} ({c})" for i, c in sorted(codes.items())))
    return 0
