"""`electkit view TRACE -o PAGE.html`: one self-contained HTML page of a trace."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from checker.errors import EXIT_OK, ElectkitError
from checker.files import check_output_path, write_text
from checker.protocols.registry import resolve
from checker.render.view import render_html
from checker.traces import read_trace


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("trace", metavar="TRACE", help="a trace file")
    parser.add_argument(
        "-o",
        "--output",
        metavar="PAGE.html",
        help="where to write the page (default: TRACE with .html)",
    )
    parser.add_argument(
        "--graph",
        metavar="PICTURE",
        help="link the page to a picture of the state graph (`electkit graph --format svg`)",
    )
    parser.add_argument(
        "--spec",
        metavar="FILE.py:NAME",
        help="make a protocol of your own known, so that its traces can be read",
    )


def run(args: argparse.Namespace) -> int:
    if args.spec is not None:
        resolve(args.spec)
    out = Path(args.output) if args.output else Path(args.trace).with_suffix(".html")
    check_output_path(out, "-o")
    trace = read_trace(args.trace)  # a bad file: one line naming file, step, field (exit 2)
    link = None
    if args.graph is not None:
        if not Path(args.graph).is_file():
            raise ElectkitError(f"--graph: {args.graph} is not a file")
        link = os.path.relpath(Path(args.graph).resolve(), out.resolve().parent)
    write_text(out, render_html(trace, Path(args.trace).name, link), "-o")
    print(f"wrote {out} ({len(trace.steps)} steps)")
    return EXIT_OK
