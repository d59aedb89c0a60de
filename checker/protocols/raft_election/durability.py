"""The durability stages of raft_election: crash states of the vote file, and I/O faults.

:func:`crash_gate` is the gate's crash stage (below); :func:`fault_gate` its I/O-fault stage
(checker/protocols/raft_election/iofaults.py): the real server with ENOSPC, EIO, EACCES or a
short write at every file-system call of its lock, load and save.

The vote store (impl/storage.py) saves a sequence of (term, vote) pairs — a vote, a new term
without a vote, a vote in that term, a vote in the next — through the checker's recorder
(checker/conformance/crashstates.py). Each state a crash could leave is written to a real
directory and recovered the way a node starts: take the directory's lock, build a
``NodeHost`` (which loads the vote file). The recovered (term, vote) must be the last
acknowledged one or the one being saved; a refusal, an older term or a lost vote fails.

>>> passed, summary, details = crash_gate()
>>> passed, details["findings"]
(True, [])
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from checker.conformance.crashstates import CrashReport, Recorder, Refused, explore
from impl.errors import StorageError
from impl.host import NodeHost
from impl.node import Durable
from impl.storage import VoteStore

IDS = (1, 2, 3)
NODE = 1
# A vote, a higher term learnt (no vote), a vote in that term, a vote in the next term.
SAVES = (Durable(1, 1), Durable(2, None), Durable(2, 3), Durable(3, 2))


def explore_store(store_class: type[VoteStore] = VoteStore,
                  saves: tuple[Durable, ...] = SAVES, **options: Any) -> CrashReport:
    """Record ``saves`` made by ``store_class`` and recover every crash state (``options``:
    those of :func:`checker.conformance.crashstates.explore`)."""

    def record(recorder: Recorder) -> None:
        store = store_class(recorder.root, recorder)  # type: ignore[arg-type]
        for durable in saves:
            with recorder.saving(durable):
                store.save(durable)

    def recover(directory: Path) -> Durable:
        store = store_class(directory)
        try:
            store.lock()
            try:
                return NodeHost(NODE, IDS, store).node.durable()
            finally:
                store.unlock()
        except StorageError as exc:
            raise Refused(str(exc)) from None

    return explore(record, recover, Durable(0, None), **options)


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
