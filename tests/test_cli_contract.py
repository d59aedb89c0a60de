"""docs/cli.md and `--help` agree: every command has its section, and each section names
exactly the options its command has, each with a help text."""

from __future__ import annotations

import argparse
import re
import subprocess

from checker.cli.main import _load, build_parser, commands
from tests.conftest import ELECTKIT, ROOT


def parsers() -> dict[str, argparse.ArgumentParser]:
    """'check' -> its parser, 'traces sample' -> its parser, ..., for every command."""
    table = commands()
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, name: str) -> None:
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if name and not subs:
            found[name] = parser
        for action in subs:
            for sub_name, sub in action.choices.items():
                walk(sub, f"{name} {sub_name}".strip())

    walk(build_parser(_load(list(table), table), table), "")
    return found


def sections() -> dict[str, str]:
    text = (ROOT / "docs" / "cli.md").read_text()
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return {
        parts[i].strip().removeprefix("electkit "): parts[i + 1]
        for i in range(1, len(parts), 2)
        if parts[i].startswith("electkit ")
    }


def options(parser: argparse.ArgumentParser) -> set[str]:
    return {o for a in parser._actions for o in a.option_strings if o not in ("-h", "--help")}


def test_every_command_has_a_section_and_no_section_is_stale():
    assert set(sections()) == set(parsers())


def test_each_section_names_exactly_its_commands_options():
    docs = sections()
    for name, parser in parsers().items():
        named = set(re.findall(r"`(--?[a-z][a-z-]*)", docs[name]))
        assert options(parser) - named == set(), f"{name}: options not in docs/cli.md"
        assert named - options(parser) - {"--help", "--version"} == set(), (
            f"{name}: docs/cli.md names options the command does not have"
        )


def test_every_option_has_help():
    for name, parser in parsers().items():
        for action in parser._actions:
            if action.option_strings and action.dest != "help":
                assert action.help and action.help != argparse.SUPPRESS, (
                    f"electkit {name} {action.option_strings[0]} has no help"
                )


def test_version():
    proc = subprocess.run([ELECTKIT, "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and re.fullmatch(r"electkit \d+\.\d+\.\d+\n", proc.stdout)
