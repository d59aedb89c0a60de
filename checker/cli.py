"""The `electkit` command line: one subcommand per module, loaded on demand.

Each subcommand module provides ``configure(parser)`` and ``run(args) -> int``. Bad usage or
bad input raises :class:`checker.errors.ElectkitError` (or argparse rejects it) and becomes one
line on stderr with exit code 2, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from checker.errors import EXIT_INTERNAL, EXIT_USAGE, ElectkitError

# Branch `validate` only, until checker/cli/ becomes a package in the lead's refactor: lets
# checker/cli/validate.py and checker/cli/chaos.py be imported as checker.cli.<name>.
__path__ = [os.path.join(os.path.dirname(__file__), "cli")]

# name -> (module, one-line help). Modules are imported only when their command runs, so a
# slow import (z3, asyncio servers) never slows the others down.
COMMANDS: dict[str, tuple[str, str]] = {
    "check": ("checker.cmd_check", "exhaustively model-check a spec at a bound"),
    "replay": ("checker.cmd_replay", "replay traces against the implementation"),
    "traces": ("checker.cmd_traces", "sample random traces of the model"),
    "prove": ("checker.cmd_prove", "prove ElectionSafety for every N and T with z3"),
    "verify": ("checker.cmd_verify", "the CI gate: model check, proof and conformance"),
    "mutate": ("checker.cmd_mutate", "run the gate against mutants of the implementation"),
    "view": ("checker.cmd_view", "render a trace as one self-contained HTML page"),
    "validate": ("checker.cli.validate", "check a real run's event logs against the model"),
    "chaos": ("checker.cli.chaos", "run a cluster under faults, then validate its logs"),
    "node": ("impl.cli", "run one leader-election node"),
    "cluster": ("impl.cli", "run a local cluster of node processes"),
}


class _OneLineParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line naming the command, and exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise ElectkitError(f"{self.prog}: {message} (see '{self.prog} --help')")


def _load(names: Sequence[str]) -> dict[str, object]:
    """Import the modules of the named commands; a command not yet built is left out."""
    modules = {}
    for name in names:
        module_name = COMMANDS[name][0]
        try:
            modules[name] = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
    return modules


def build_parser(modules: dict[str, object]) -> argparse.ArgumentParser:
    parser = _OneLineParser(prog="electkit", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_OneLineParser)
    for name, module in modules.items():
        help_text = COMMANDS[name][1]
        command = sub.add_parser(name, help=help_text, description=help_text)
        configure = getattr(module, f"configure_{name}", None) or module.configure  # type: ignore[attr-defined]
        configure(command)
        runner = getattr(module, f"run_{name}", None) or module.run  # type: ignore[attr-defined]
        command.set_defaults(_run=runner)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `electkit` console script."""
    try:
        argv = list(sys.argv[1:] if argv is None else argv)
        wanted = [argv[0]] if argv and argv[0] in COMMANDS else list(COMMANDS)
        args = build_parser(_load(wanted)).parse_args(argv)
        code = args._run(args)
    except ElectkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
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
