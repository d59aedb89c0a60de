"""The gate itself against the durability bugs of issue 10, planted in a copy of impl/.

Each bug is written into a scratch copy of the project's packages; `electkit verify --only
crash --only iofaults` then runs on the copy in its own process and must fail at the named
stage. (Persist skipped on a term change is a node bug: the replay and chaos stages catch it,
tests/test_conformance.py shows the replay side.)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

VERIFY = [sys.executable, "-m", "checker.cli.main", "verify", "--only", "crash", "--only",
          "iofaults", "--traces", str(ROOT / "traces" / "raft_election")]
TERM_0 = "return Durable(0, None)"
BUGS = {
    "write in place": ("crash states recovered", [
        ("impl/storage.py",
         'fd = call("open", tmp, files.open, tmp, os.O_WRONLY',
         'fd = call("open", tmp, files.open, self.path, os.O_WRONLY'),
        ("impl/storage.py", '        call("rename", tmp, files.replace, tmp, self.path)\n', ""),
    ]),
    "no directory fsync": ("crash states recovered", [
        ("impl/storage.py", 'call("fsync", self.directory, files.fsync, dir_fd)', "pass"),
    ]),
    "a failed save ignored": ("I/O faults at every call", [
        ("impl/host.py",
         "            self.store.save(out.persist)  # raises StorageError: the Output never "
         "escapes\n",
         "            try:\n                self.store.save(out.persist)\n"
         "            except Exception:\n                pass\n"),
    ]),
    "unreadable vote file read as term 0": ("I/O faults at every call", [
        ("impl/storage.py", 'raise self._unreadable("open", exc) from None', TERM_0),
        ("impl/storage.py", 'raise self._unreadable("read", exc) from None', TERM_0),
    ]),
    "damaged vote file read as term 0": ("I/O faults at every call", [
        ("impl/storage.py",
         '        return decode_record(b"".join(chunks), self.path)\n',
         '        try:\n            return decode_record(b"".join(chunks), self.path)\n'
         "        except StorageError:\n            return Durable(0, None)\n"),
    ]),
    "two nodes on one data directory": ("I/O faults at every call", [
        ("impl/server.py", "        self._store.lock()  # before the load", "        pass  # "),
    ]),
}


def _planted(tmp: Path, patches: list[tuple[str, str, str]]) -> Path:
    for package in ("impl", "checker", "spec"):
        shutil.copytree(ROOT / package, tmp / package,
                        ignore=shutil.ignore_patterns("__pycache__"))
    for file, old, new in patches:
        text = (tmp / file).read_text()
        assert text.count(old) == 1, f"{file}: the bug's anchor moved: {old!r}"
        (tmp / file).write_text(text.replace(old, new))
    return tmp


@pytest.mark.slow
@pytest.mark.parametrize("bug", sorted(BUGS))
def test_the_gate_catches_the_planted_bug(tmp_path: Path, bug: str) -> None:
    stage, patches = BUGS[bug]
    copy = _planted(tmp_path, patches)
    proc = subprocess.run(
        [*VERIFY, "--json"],
        cwd=copy, env={**os.environ, "PYTHONPATH": str(copy)},
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    failed = {s["name"] for s in report["stages"] if not s["passed"]}
    assert stage in failed, report


@pytest.mark.slow
def test_the_unplanted_copy_passes(tmp_path: Path) -> None:
    copy = _planted(tmp_path, [])
    proc = subprocess.run(
        VERIFY,
        cwd=copy, env={**os.environ, "PYTHONPATH": str(copy)},
        capture_output=True, text=True, timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
