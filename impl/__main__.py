"""`python -m impl node|cluster`: the node CLI without the electkit dispatcher.

Node processes of a LocalCluster start this way, so a restart loads only impl/.
"""

from __future__ import annotations

import argparse
import sys

from impl import cli


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        print(f"error: {self.prog}: {message}", file=sys.stderr)
        sys.exit(cli.EXIT_USAGE)


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m impl", description="electkit leader-election node")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    cli.configure_node(sub.add_parser("node", help="run one node"))
    cli.configure_cluster(sub.add_parser("cluster", help="run a local cluster"))
    args = parser.parse_args(argv)
    return cli.run_node(args) if args.command == "node" else cli.run_cluster(args)


if __name__ == "__main__":
    sys.exit(main())
