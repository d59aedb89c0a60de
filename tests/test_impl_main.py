"""`python -m impl`: the node CLI without the electkit dispatcher, refusing bad input in one
line with exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _impl(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "impl", *argv], capture_output=True, text=True,
                          timeout=60, cwd=cwd)


@pytest.mark.parametrize(
    "argv, needle",
    [
        ([], "the following arguments are required: command"),
        (["node", "--bogus"], "python -m impl node: the following arguments are required: --id"),
        (["cluster", "--nodes", "0", "--dir", "c"], "--nodes: must be >= 1, got 0"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, argv: list[str], needle: str) -> None:
    run = _impl(*argv, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0], lines
    assert lines[0].startswith("error: ") and "Traceback" not in run.stderr
