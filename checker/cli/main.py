"""The `electkit` command line: one subcommand per module, loaded on demand.

Each subcommand module provides ``configure(parser)`` and ``run(args) -> int``. Bad usage or
bad input raises :class:`checker.errors.ElectkitError` (or argparse rejects it) and becomes one
line on stderr with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import os
import signal
import sys
from collections.abc import Sequence

from checker.cli.options import ListParams
from checker.errors import (
    EXIT_INTERNAL,
    EXIT_USAGE,
    ElectkitError,
    interrupt,
    interrupt_pending,
)
from checker.protocols.registry import KIT_BUNDLES, bundle_named

# name -> (module, one-line help). Modules are imported only when their command runs, so a
# slow import (z3, asyncio servers) never slows the others down.
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("checker.cli.check", "exhaustively model-check a protocol at a bound"),
    "replay": ("checker.cli.replay", "replay traces against the implementation"),
    "traces": ("checker.cli.traces", "sample random traces of the model; build the corpus"),
    "prove": ("checker.cli.prove", "prove a protocol's safety for every size with z3"),
    "verify": ("checker.cli.verify", "the CI gate: model check, proof and conformance"),
    "mutate": ("checker.cli.mutate", "run the gate against mutants of the implementation"),
    "view": ("checker.cli.view", "render a trace as one self-contained HTML page"),
    "graph": ("checker.cli.graph", "the state graph: figures, liveness, GraphML/DOT/JSON/SVG"),
    "validate": ("checker.cli.validate", "check a real run's event logs against the model"),
}


def commands() -> dict[str, tuple[str, str]]:
    """The kit's commands, then those the protocols add (their implementations')."""
    found = dict(COMMANDS)
    for name in KIT_BUNDLES:
        for command, entry in bundle_named(name).commands.items():
            found.setdefault(command, entry)
    return found


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the command, and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ElectkitError(f"{self.prog}: {message} (see '{self.prog} --help')")


def _load(names: Sequence[str], table: dict[str, tuple[str, str]]) -> dict[str, object]:
    """Import the modules of the named commands; a command not yet built is left out."""
    modules = {}
    for name in names:
        module_name = table[name][0]
        try:
            modules[name] = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
    return modules


def version() -> str:
    """The installed version of electkit."""
    try:
        return importlib.metadata.version("electkit")
    except importlib.metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser(
    modules: dict[str, object], table: dict[str, tuple[str, str]]
) -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="electkit", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"electkit {version()}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    for name, module in modules.items():
        help_text = table[name][1]
        command = sub.add_parser(name, help=help_text, description=help_text)
        configure = getattr(module, f"configure_{name}", None) or module.configure  # type: ignore[attr-defined]
        configure(command)
        runner = getattr(module, f"run_{name}", None) or module.run  # type: ignore[attr-defined]
        command.set_defaults(_run=runner)
    return parser


def _from_broken_pipe(exc: SystemExit) -> bool:
    """Whether rich raised ``exc`` on finding standard output closed by its reader."""
    frame = exc.__traceback__
    while frame is not None:
        if f"{os.sep}rich{os.sep}" in frame.tb_frame.f_code.co_filename:
            return True
        frame = frame.tb_next
    return False


def _quiet_about_interrupts(unraisable) -> None:
    """A Ctrl-C that a finalizer swallowed is remembered (``interrupt_pending``): no need for
    Python's "Exception ignored" report; anything else is reported as usual."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        return
    sys.__unraisablehook__(unraisable)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `electkit` console script."""
    if argv is None:  # the console script, not a caller in the same process
        # SIGTERM stops a command as Ctrl-C does: cleanly, children reaped, exit 130.
        signal.signal(signal.SIGTERM, interrupt)
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, interrupt)
        sys.unraisablehook = _quiet_about_interrupts
    if sys.stdout is None or sys.stderr is None:  # started with the descriptor closed
        if sys.stderr is not None:
            print(
                "error: standard output is closed; electkit writes its results there "
                "(redirect it to a file or /dev/null)",
                file=sys.stderr,
            )
        return EXIT_USAGE
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        table = commands()
        wanted = [argv[0]] if argv and argv[0] in table else list(table)
        args = build_parser(_load(wanted, table), table).parse_args(argv)
        try:
            code = args._run(args)
        except SystemExit as exc:  # only a model or plug-in of the user's calls sys.exit...
            if _from_broken_pipe(exc):  # ... or rich, when `| head` stopped reading
                return 141
            print(
                f"error: electkit {args.command}: the model or plug-in called sys.exit"
                f"({exc.code!r}); that is no verdict (exit 2)",
                file=sys.stderr,
            )
            return EXIT_USAGE
    except ListParams as listing:
        print(listing.text())
        return 0
    except ElectkitError as exc:
        if interrupt_pending():
            print("interrupted", file=sys.stderr)
            return 130
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Piped into `head`: stop quietly, as Unix tools do (the rest of the output is moot).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        if interrupt_pending():  # Ctrl-C, wrapped on its way out (ctypes: ArgumentError)
            print("interrupted", file=sys.stderr)
            return 130
        # A bug of electkit's own: not a verdict (1) and not the user's input (2).
        if os.environ.get("ELECTKIT_DEBUG"):
            raise
        print(
            f"internal error: {type(exc).__name__}: {exc} (a bug in electkit: please report "
            "it; ELECTKIT_DEBUG=1 shows the traceback)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL
    return int(code)


if __name__ == "__main__":
    sys.exit(main())
