"""A changed copy of an implementation package, for the gate to run against in a subprocess.

The copy lives in a temporary folder; a process started with :func:`Overlay.env` and
``cwd=overlay.root`` imports the changed package instead of the installed one (``PYTHONPATH``
and the working directory both come before the editable install on ``sys.path``), and so do
the processes it starts (``python -m package`` looks in its working directory first). Nothing
in the project changes. `electkit mutate` runs each mutant this way, and benchmarks plant bugs
this way.

>>> import impl
>>> with Overlay("impl", {"errors.py": "X = 1\\n"}) as o:
...     (o.root / "impl" / "errors.py").read_text()
'X = 1\\n'
"""

from __future__ import annotations

import importlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path


class Overlay:
    """A temporary copy of ``package`` with the files of ``changes`` (relative path -> new
    source) replaced; a context manager that removes it on exit."""

    def __init__(self, package: str, changes: Mapping[str, str]) -> None:
        self.package = package
        self.changes = dict(changes)
        self.source = package_dir(package)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def root(self) -> Path:
        """The folder that holds the changed package (the subprocess's working directory)."""
        assert self._tmp is not None, "use Overlay as a context manager"
        return Path(self._tmp.name)

    def __enter__(self) -> Overlay:
        self._tmp = tempfile.TemporaryDirectory(prefix="electkit-overlay-")
        target = self.root / self.package.replace(".", "/")
        shutil.copytree(
            self.source, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
        for relative, text in self.changes.items():
            (target / relative).write_text(text)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def env(self) -> dict[str, str]:
        """The environment of a process that must import the changed package."""
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(self.root), env.get("PYTHONPATH", "")) if p
        )
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        return env


def package_dir(package: str) -> Path:
    """The folder of an importable package."""
    module = importlib.import_module(package)
    return Path(module.__file__).parent
