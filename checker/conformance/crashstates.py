"""Every on-disk state a crash can leave, and what recovery makes of each (ALICE, CrashMonkey).

A :class:`~checker.conformance.fsrecord.Recorder` stands in for the operating system under a
store (it has the methods of ``impl.files.FileSystem``): it makes each call for real, in a
real directory, and records what the call asks of the disk. The caller marks each save
(``Recorder.saving``): a save is *acknowledged* once it returns. :func:`crash_states` then
enumerates, for a crash before each recorded call and after the last, every state the disk
may hold under POSIX rules (docs/durability.md):

- a file's data written since its last ``fsync`` may be lost: any prefix of those writes
  persists, the last one possibly torn at a 512-byte sector boundary, or with the file's
  size grown but the new bytes still zero;
- a directory entry (create, rename, unlink) made since the last ``fsync`` of its directory
  may be lost: any subset of them persists, applied in order (past
  :data:`MAX_SUBSET` pending entries, only prefixes);
- an ``fsync`` of a file makes its data durable, not its name; an ``fsync`` of a directory
  makes its entries durable. A rename is atomic. A directory made while recording (``mkdir``)
  is an entry of its parent like a file's: until that persists, nothing inside is found.

:func:`explore` writes each distinct state into a fresh real directory and runs the real
recovery on it. Recovery must give the last acknowledged value or the one being saved when
the crash came. A refusal to start counts as a failure too: a crash alone damages nothing, so
a store that cannot come back from one turns every crash into an outage and a vote the node
can no longer read. Not modelled: writes to one file reaching the disk out of order, media
damage (the fault stage covers unreadable files), and parents made by ``makedirs``.

>>> import os, tempfile
>>> root = Path(tempfile.mkdtemp())
>>> rec = Recorder(root)
>>> fd = rec.open(root / "f", os.O_WRONLY | os.O_CREAT)
>>> rec.write(fd, b"data"), rec.close(fd)
(4, None)
>>> sorted({state.files for state in crash_states({}, rec.ops)})
[(), (('f', b''),), (('f', b'\\x00\\x00\\x00\\x00'),), (('f', b'data'),)]
"""

from __future__ import annotations

import itertools
import posixpath
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from checker.conformance.fsrecord import (
    Ack,
    Begin,
    Create,
    DataOp,
    EntryOp,
    Mkdir,
    Op,
    Recorder,
    Rename,
    SyncDir,
    SyncFile,
    Truncate,
    Unlink,
    Write,
    describe,
)

SECTOR = 512  # the unit a disk writes atomically
MAX_SUBSET = 10  # past this many unsynced directory entries, only prefixes are explored
MAX_FINDINGS = 20

# -- the states a crash can leave ---------------------------------------------------------------
@dataclass(frozen=True)
class CrashState:
    """One state of the disk after a crash before call ``point`` (``calls``: after them all)."""

    point: int
    files: tuple[tuple[str, bytes], ...]  # name -> content, sorted by name
    lost: str  # what of the unsynced work did not persist, for a finding
    allowed: tuple[Any, ...]  # what recovery may give: the acknowledged value, the one in flight
    dirs: tuple[str, ...] = ()  # the directories made while recording that persisted


def _apply_data(content: bytes, op: DataOp) -> bytes:
    if isinstance(op, Truncate):
        return content[: op.size].ljust(op.size, b"\0")
    end = op.offset + len(op.data)
    head = content[: op.offset].ljust(op.offset, b"\0")
    return head + op.data + content[end:]


def _data_choices(base: bytes, pending: Sequence[DataOp]) -> list[tuple[bytes, str]]:
    """What one file may hold: ``base`` plus a prefix of ``pending``, the last maybe torn."""
    choices = [(base, f"{len(pending)} unsynced writes lost" if pending else "")]
    content = base
    for k, op in enumerate(pending, 1):
        if isinstance(op, Write):
            start, end = op.offset, op.offset + len(op.data)
            for cut in range((start // SECTOR + 1) * SECTOR, end, SECTOR):
                torn = Write(op.inode, start, op.data[: cut - start])
                choices.append((_apply_data(content, torn), f"write {k} torn at byte {cut}"))
            if end > len(content):
                grown = content.ljust(end, b"\0")
                choices.append((grown, f"write {k}: size persisted, data not (zeros)"))
        content = _apply_data(content, op)
        lost = len(pending) - k
        choices.append((content, f"{lost} unsynced writes lost" if lost else ""))
    seen: dict[bytes, str] = {}
    for data, note in choices:
        seen.setdefault(data, note)
    return list(seen.items())


def _entry_subsets(pending: Sequence[EntryOp]) -> Iterator[tuple[EntryOp, ...]]:
    if len(pending) > MAX_SUBSET:
        for k in range(len(pending) + 1):
            yield tuple(pending[:k])
        return
    for mask in range(1 << len(pending)):
        yield tuple(op for i, op in enumerate(pending) if mask >> i & 1)


DIRECTORY = 0  # the inode number of every directory made while recording


def _apply_entry(entries: dict[str, int], op: EntryOp) -> None:
    if isinstance(op, Create):
        entries[op.name] = op.inode
    elif isinstance(op, Mkdir):
        entries[op.name] = DIRECTORY
    elif isinstance(op, Rename):
        entries.pop(op.src, None)
        entries[op.dst] = op.inode
    else:
        entries.pop(op.name, None)


def _reachable(names: Mapping[str, int], made: set[str]) -> dict[str, int]:
    """The entries a reader finds: those inside a directory made while recording need it."""

    def ancestors(name: str) -> Iterator[str]:
        while name := posixpath.dirname(name):
            yield name

    return {n: i for n, i in names.items() if all(a in names for a in ancestors(n) if a in made)}


def crash_states(initial: Mapping[str, bytes], ops: Sequence[Op]) -> Iterator[CrashState]:
    """Every state a crash before each recorded call (and after the last) can leave."""
    # The recorder numbers the initial files 1, 2, ... in the order of their names.
    entries = {name: i for i, name in enumerate(sorted(initial), 1)}  # durable name -> inode
    durable = {i: initial[name] for name, i in entries.items()}  # inode -> durable data
    pending_entries: list[EntryOp] = []
    pending_data: dict[int, list[DataOp]] = {}
    made: set[str] = set()  # directories made so far
    acked: Any = None
    in_flight: tuple[Any, ...] = ()
    point = 0

    def states() -> Iterator[CrashState]:
        allowed = (acked, *in_flight)
        for persisted in _entry_subsets(pending_entries):
            names = dict(entries)
            for op in persisted:
                _apply_entry(names, op)
            names = _reachable(names, made)
            dirs = tuple(sorted(n for n, i in names.items() if i == DIRECTORY))
            lost_entries = [describe(op) for op in pending_entries if op not in persisted]
            order = sorted(n for n, i in names.items() if i != DIRECTORY)
            per_file = [
                _data_choices(durable.get(names[n], b""), pending_data.get(names[n], []))
                for n in order
            ]
            for pick in itertools.product(*per_file):
                notes = [f"{n}: {note}" for n, (_, note) in zip(order, pick, strict=True) if note]
                if lost_entries:
                    notes.insert(0, "lost: " + ", ".join(lost_entries))
                files = tuple((n, data) for n, (data, _) in zip(order, pick, strict=True))
                lost = "; ".join(notes) or "every call so far persisted"
                yield CrashState(point, files, lost, allowed, dirs)

    for op in ops:
        if isinstance(op, Begin):
            in_flight = (op.value,)
            continue
        if isinstance(op, Ack):
            acked, in_flight = op.value, ()
            continue
        yield from states()
        point += 1
        match op:
            case Mkdir(name):
                made.add(name)
                pending_entries.append(op)
            case Create() | Rename() | Unlink():
                pending_entries.append(op)
            case Write() | Truncate():
                pending_data.setdefault(op.inode, []).append(op)
            case SyncFile(inode):
                content = durable.get(inode, b"")
                for data_op in pending_data.pop(inode, []):
                    content = _apply_data(content, data_op)
                durable[inode] = content
            case SyncDir(directory):
                synced = [op for op in pending_entries if _directory_of(op) == directory]
                for entry_op in synced:
                    _apply_entry(entries, entry_op)
                pending_entries = [op for op in pending_entries if op not in synced]
    yield from states()


def _directory_of(op: EntryOp) -> str:
    name = op.dst if isinstance(op, Rename) else op.name
    return posixpath.dirname(name)


# -- recovery on every state -----------------------------------------------------------------
class Refused(Exception):
    """Recovery refused to start, with one line saying why (raised by a recovery function)."""


@dataclass
class CrashReport:
    """What :func:`explore` found."""

    runs: int = 0  # recorded runs
    calls: int = 0  # file-system calls recorded
    states: int = 0  # (crash point, disk state) pairs judged
    distinct: int = 0  # distinct disk states, each recovered once in a real directory
    outcomes: Counter[str] = field(default_factory=Counter)
    findings: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        """No crash state recovered wrongly."""
        return not self.findings

    def summary(self) -> str:
        """One line for the gate."""
        runs = f" in {self.runs} runs" if self.runs > 1 else ""
        head = (f"{self.states:,} crash states ({self.distinct} distinct on disk) after "
                f"{self.calls} file-system calls{runs}")
        if self.passed:
            told = ", ".join(f"{n} {what}" for what, n in sorted(self.outcomes.items()))
            return f"{head}: every recovery correct ({told})"
        return f"{head}: {len(self.findings)} wrong; first: {self.findings[0]}"


def explore(record: Callable[[Recorder], None], recover: Callable[[Path], Any],
            initial: Any, before: Mapping[str, bytes] | None = None, *,
            report: CrashReport | None = None, scratch: str | None = None,
            max_findings: int = MAX_FINDINGS) -> CrashReport:
    """Record ``record``'s calls, then recover every crash state and judge the outcome.

    ``record(recorder)`` does its saves through ``recorder`` (as the store's file system)
    in ``recorder.root``, each inside ``recorder.saving(value)``. The directory starts empty,
    or with the files ``before`` (name -> bytes, durable). ``recover(directory)`` runs the
    real recovery on a directory and returns the value it recovered, or raises
    :class:`Refused`. ``initial`` is what recovery must give before the first save.
    ``report`` accumulates several runs; at most ``max_findings`` findings are kept (all
    are counted in ``outcomes``).
    """
    report = report if report is not None else CrashReport()
    outcomes: dict[tuple, tuple[str, Any]] = {}  # (files, directories) -> recovery
    with tempfile.TemporaryDirectory(prefix="electkit-crash-", dir=scratch) as tmp:
        root = Path(tmp) / "run"
        root.mkdir()
        for name, data in (before or {}).items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(data)
        recorder = Recorder(root)
        recorder.acknowledged(initial)
        try:
            record(recorder)
        except Exception as exc:  # noqa: BLE001 - a save that fails with no fault is a finding
            report.findings.append(f"a save failed while recording: {exc.__class__.__name__}: "
                                   f"{exc}".replace(tmp, "DIR"))
        calls = sum(not isinstance(op, Begin | Ack) for op in recorder.ops)
        report.calls += calls
        report.runs += 1
        for state in crash_states(recorder.initial, recorder.ops):
            report.states += 1
            disk = (state.files, state.dirs)
            if disk not in outcomes:
                outcomes[disk] = _recover(state, recover, Path(tmp) / "state")
            kind, value = outcomes[disk]
            verdict = _judge(kind, value, state)
            report.outcomes[verdict] += 1
            if verdict.startswith("wrong") and len(report.findings) < max_findings:
                report.findings.append(_finding(state, calls, kind, value))
        report.distinct += len(outcomes)
    return report


def _recover(state: CrashState, recover: Callable[[Path], Any], where: Path) -> tuple[str, Any]:
    where.mkdir()
    try:
        for name in state.dirs:
            (where / name).mkdir(parents=True, exist_ok=True)
        for name, data in state.files:
            (where / name).parent.mkdir(parents=True, exist_ok=True)
            (where / name).write_bytes(data)
        try:
            return "value", recover(where)
        except Refused as exc:
            return "refused", str(exc).replace(str(where), "DIR")
        except Exception as exc:  # noqa: BLE001 - a recovery that crashes is a finding
            return "error", f"{exc.__class__.__name__}: {exc}".replace(str(where), "DIR")
    finally:
        shutil.rmtree(where)


def _judge(kind: str, value: Any, state: CrashState) -> str:
    if kind != "value":
        return f"wrong: {kind}"
    if value == state.allowed[0]:
        return "acknowledged"
    if value in state.allowed[1:]:
        return "being saved"
    return "wrong: older or lost"


def _finding(state: CrashState, calls: int, kind: str, value: Any) -> str:
    where = f"crash before call {state.point + 1} of {calls}" if state.point < calls else (
        f"crash after all {calls} calls")
    shown = [f"{n}/" for n in state.dirs] + [f"{n} ({len(d)} bytes)" for n, d in state.files]
    disk = ", ".join(shown) or "no files"
    expected = f"{state.allowed[0]!r} (acknowledged)" + "".join(
        f" or {v!r} (being saved)" for v in state.allowed[1:])
    got = {"value": f"recovered {value!r}", "refused": f"refused to start: {value}",
           "error": f"recovery failed: {value}"}[kind]
    return f"{where}, disk {disk} [{state.lost}]: {got}; expected {expected}"
