"""`electkit etcd`: run the project's real etcd on loopback until Ctrl-C, for the tour.

Prints one line with the client URL (and, with ``--url-file``, writes the URL to a file for
scripts); stops and reaps the server, and removes its folder, on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from checker.errors import EXIT_OK, EXIT_USAGE, ElectkitError
from impl.lease.etcd_server import EtcdServer, EtcdUnavailable


def configure(parser: argparse.ArgumentParser) -> None:
    """The options of `electkit etcd`."""
    parser.add_argument("--url-file", type=Path, help="also write the client URL to this file")


def run(args: argparse.Namespace) -> int:
    """Start etcd, print its URL, wait for Ctrl-C or SIGTERM, stop it."""
    server = EtcdServer()
    try:
        server.start()
    except EtcdUnavailable as exc:
        raise ElectkitError(str(exc)) from None
    stopped = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        if args.url_file is not None:
            try:
                args.url_file.write_text(server.url + "\n")
            except OSError as exc:
                raise ElectkitError(f"--url-file {args.url_file}: {exc.strerror}") from None
        print(
            f"etcd at {server.url} (pid {server.pid}, data in {server.dir}); Ctrl-C stops it",
            flush=True,
        )
        while not stopped.wait(0.2):
            if server.process is None or server.process.poll() is not None:
                print("error: etcd exited on its own", file=sys.stderr)
                return EXIT_USAGE
        return EXIT_OK
    except KeyboardInterrupt:
        print("interrupted: etcd stopped", file=sys.stderr)
        return 130
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.stop()
