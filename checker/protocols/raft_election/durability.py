"""The durability stages of raft_election: crash states of the vote file, and I/O faults.

:func:`crash_gate` is the gate's crash stage (below); :func:`fault_gate` its I/O-fault stage
(checker/protocols/raft_election/iofaults.py): the real server with ENOSPC, EIO, EACCES or a
short write at every file-system call of its lock, load and save.

The vote store (impl/storage.py) saves a sequence of (term, vote) pairs — a vote, a new term
without a vote, a vote in that term, a vote in the next; then, in a second run, two saves
after a crash left a torn temp file behind — through the checker's recorder
(checker/conformance/fsrecord.py, crashstates.py). Each state a crash could leave is written
to a real directory and recovered the way a node starts: take the directory's lock, build a
``NodeHost`` (which loads the vote file). The recovered (term, vote) must be the last
acknowledged one or the one being saved; a refusal, an older term or a lost vote fails.

>>> passed, summary, details = crash_gate()
>>> passed, details["findings"]
(True, [])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checker.conformance.crashstates import CrashReport, Refused, explore
from checker.conformance.fsrecord import Recorder
from impl.errors import StorageError
from impl.host import NodeHost
from impl.node import Durable
from impl.storage import FILE_NAME, VoteStore, encode_record

IDS = (1, 2, 3)
NODE = 1
DATA = "data"  # the data directory, inside the recorded one: its own entry is recorded too


@dataclass(frozen=True)
class Run:
    """A recorded run: the directory's files before it, what they hold, the saves made."""

    before: Mapping[str, bytes]
    initial: Durable
    saves: tuple[Durable, ...]


RUNS = (
    # From nothing (the data directory is made by the first save): a vote, a higher term
    # learnt (no vote), a vote in that term, a vote in the next term.
    Run({}, Durable(0, None), (Durable(1, 1), Durable(2, None), Durable(2, 3), Durable(3, 2))),
    # After a crash left a torn temp file longer than a record (two sectors): a save must not
    # leave its tail behind.
    Run({f"{DATA}/{FILE_NAME}": encode_record(Durable(1, 1)),
         f"{DATA}/{FILE_NAME}.tmp": b"#" * 600},
        Durable(1, 1), (Durable(2, 2), Durable(3, None))),
)


def explore_store(store_class: type[VoteStore] = VoteStore, runs: tuple[Run, ...] = RUNS,
                  **options: Any) -> CrashReport:
    """Record each run's saves made by ``store_class`` and recover every crash state
    (``options``: those of :func:`checker.conformance.crashstates.explore`)."""

    def recover(directory: Path) -> Durable:
        store = store_class(directory / DATA)
        try:
            store.lock()
            try:
                return NodeHost(NODE, IDS, store).node.durable()
            finally:
                store.unlock()
        except StorageError as exc:
            raise Refused(str(exc)) from None

    report = CrashReport()
    for run in runs:

        def record(recorder: Recorder, saves: tuple[Durable, ...] = run.saves) -> None:
            store = store_class(recorder.root / DATA, recorder)  # type: ignore[arg-type]
            for durable in saves:
                with recorder.saving(durable):
                    store.save(durable)

        explore(record, recover, run.initial, run.before, report=report, **options)
    return report


def fault_gate(store_class: type[VoteStore] = VoteStore) -> tuple[bool, str, dict[str, Any]]:
    """The I/O-fault stage: (passed, one-line summary, figures)."""
    from checker.protocols.raft_election.iofaults import fault_gate as gate

    return gate(store_class)


def crash_gate(store_class: type[VoteStore] = VoteStore) -> tuple[bool, str, dict[str, Any]]:
    """The verify stage: (passed, one-line summary, figures)."""
    report = explore_store(store_class)
    details = {"calls": report.calls, "states": report.states, "distinct": report.distinct,
               "outcomes": dict(report.outcomes), "findings": report.findings}
    return report.passed, report.summary(), details
