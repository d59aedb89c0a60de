"""I/O faults injected at every file-system call of a run, one run per call and kind.

:class:`FaultyFiles` has the methods of ``impl.files.FileSystem``: it makes each call for
real and counts it. Given a :class:`Fault` it makes call number ``fault.call`` fail:

- ``ENOSPC``, ``EIO``, ``EACCES``: the call raises that OSError without doing anything (a
  ``close`` still releases its descriptor, as the kernel's does), and so does every call
  after it: the storage is gone, so nothing the run does later can make up for the failure;
- ``short``: a ``write`` or ``read`` moves only its first bytes (half a write, at most
  :data:`SHORT_READ` bytes of a read) and succeeds, which POSIX allows at any time.

:func:`run_matrix` runs a scenario once without faults to list its calls, then once per
(call, kind) that applies: every call site of the run, every kind, none sampled.

>>> plan(["open vote.json", "write vote.json", "close vote.json"])[-4:]
[Fault(call=1, kind='short'), Fault(call=2, kind='ENOSPC'), Fault(call=2, kind='EIO'), \
Fault(call=2, kind='EACCES')]
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ERRORS = {"ENOSPC": errno.ENOSPC, "EIO": errno.EIO, "EACCES": errno.EACCES}
KINDS = (*ERRORS, "short")
SHORT_READ = 16
MAX_FINDINGS = 20


@dataclass(frozen=True)
class Fault:
    """Call number ``call`` (from 0) of a run fails with ``kind`` (one of :data:`KINDS`)."""

    call: int
    kind: str


def plan(calls: Sequence[str]) -> list[Fault]:
    """Every fault that applies to a run whose calls are ``calls`` ("write vote.json", ...)."""
    faults = []
    for i, call in enumerate(calls):
        faults += [Fault(i, kind) for kind in ERRORS]
        if call.split(" ", 1)[0] in ("write", "read"):
            faults.append(Fault(i, "short"))
    return faults


class FaultyFiles:
    """The operating system's file calls, counted, with ``fault`` injected (None: no fault).

    ``calls`` names each call made ("fsync vote.json.tmp"; paths relative to ``root``, which
    is itself ``DIR``);
    ``failed`` is the first call that raised an injected error, or None; ``errors`` counts
    the calls that raised one.
    """

    def __init__(self, root: Path, fault: Fault | None = None) -> None:
        self.root = Path(root)
        self.fault = fault
        self.calls: list[str] = []
        self.failed: str | None = None
        self.shortened: str | None = None
        self.errors = 0  # calls that raised an injected error so far
        self._paths: dict[int, str] = {}

    @property
    def still_open(self) -> list[str]:
        """What is open through this file system now (after a run: a leaked descriptor)."""
        return sorted(self._paths.values())

    def describe(self) -> str:
        """The fault and where it hit, for a finding."""
        if self.fault is None:
            return "no fault"
        where = self.failed or self.shortened
        return f"{self.fault.kind} at call {self.fault.call + 1} ({where or 'never reached'})"

    def _name(self, path: Any) -> str:
        relative = os.path.relpath(os.fspath(path), self.root)
        return "DIR" if relative == "." else "DIR/.." if relative == ".." else relative

    def _enter(self, call: str, target: str) -> str | None:
        """Count the call; raise the injected error; say "short" when this call is short."""
        index = len(self.calls)
        self.calls.append(f"{call} {target}")
        fault = self.fault
        if fault is None or index < fault.call:
            return None
        if fault.kind == "short":
            if index == fault.call:
                self.shortened = self.calls[-1]
                return "short"
            return None
        if self.failed is None:
            self.failed = self.calls[-1]
        self.errors += 1
        code = ERRORS[fault.kind]
        raise OSError(code, os.strerror(code), os.fspath(self.root / target.split(" ")[0]))

    # -- the calls of impl.files.FileSystem -------------------------------------------------------
    def makedirs(self, path: Any) -> None:
        """os.makedirs(exist_ok=True), counted."""
        self._enter("makedirs", self._name(path))
        os.makedirs(path, exist_ok=True)

    def mkdir(self, path: Any) -> None:
        """os.mkdir, counted."""
        self._enter("mkdir", self._name(path))
        os.mkdir(path, 0o700)

    def open(self, path: Any, flags: int, mode: int = 0o600) -> int:
        """os.open, counted."""
        name = self._name(path)
        self._enter("open", name)
        fd = os.open(path, flags, mode)
        self._paths[fd] = name
        return fd

    def read(self, fd: int, size: int) -> bytes:
        """os.read, counted (maybe short)."""
        short = self._enter("read", self._paths.get(fd, "?"))
        return os.read(fd, min(size, SHORT_READ) if short else size)

    def write(self, fd: int, data: bytes | memoryview) -> int:
        """os.write, counted (maybe short)."""
        short = self._enter("write", self._paths.get(fd, "?"))
        return os.write(fd, data[: max(1, len(data) // 2)] if short else data)

    def fsync(self, fd: int) -> None:
        """os.fsync, counted."""
        self._enter("fsync", self._paths.get(fd, "?"))
        os.fsync(fd)

    def close(self, fd: int) -> None:
        """os.close, counted; the descriptor is released even when the call fails."""
        try:
            self._enter("close", self._paths.pop(fd, "?"))
        finally:
            os.close(fd)

    def replace(self, src: Any, dst: Any) -> None:
        """os.replace, counted."""
        self._enter("rename", f"{self._name(src)} -> {self._name(dst)}")
        os.replace(src, dst)

    def flock(self, fd: int, operation: int) -> None:
        """fcntl.flock, counted."""
        self._enter("flock", self._paths.get(fd, "?"))
        fcntl.flock(fd, operation)


@dataclass
class FaultReport:
    """What :func:`run_matrix` found."""

    calls: int = 0  # calls of the fault-free run that faults were injected at
    runs: int = 0  # faulty runs
    findings: list[str] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)  # runs per kind

    @property
    def passed(self) -> bool:
        """No run misbehaved."""
        return not self.findings


Scenario = Callable[[Fault | None], Awaitable[tuple[list[str], list[str]]]]


async def run_matrix(scenario: Scenario, name: str, report: FaultReport | None = None,
                     max_findings: int = MAX_FINDINGS) -> FaultReport:
    """Run ``scenario`` without a fault, then with each fault :func:`plan` gives for its calls.

    ``await scenario(fault)`` gives ``(calls, findings)``: the calls faults may be injected at
    (those of the run up to its last required step, so the plan does not depend on timing)
    and what went wrong (a clean fault-free run has none). Findings are prefixed with
    ``name``; at most ``max_findings`` of this scenario are kept; ``report`` accumulates
    several scenarios.
    """
    report = report or FaultReport()
    calls, findings = await scenario(None)
    kept = [f"{name}, no fault: {f}" for f in findings]
    report.calls += len(calls)
    for fault in plan(calls):
        _, findings = await scenario(fault)
        report.runs += 1
        report.by_kind[fault.kind] = report.by_kind.get(fault.kind, 0) + 1
        kept += [f"{name}, {f}" for f in findings]
    report.findings += kept[:max_findings]
    return report
