"""NodeHost: persist (fsynced, on real files) before any Output escapes; restart reads it back."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import impl.storage
from impl.errors import StorageError
from impl.host import NodeHost
from impl.messages import RequestVote
from impl.node import Durable, Node, Output
from impl.storage import VoteStore

IDS = [1, 2, 3]


def test_the_vote_is_on_disk_and_fsynced_before_the_output_is_returned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fsynced: list[int] = []
    real_fsync = os.fsync

    def recording_fsync(fd: int) -> None:
        real_fsync(fd)  # the real call: the test only watches the order
        fsynced.append(fd)

    monkeypatch.setattr(impl.storage.os, "fsync", recording_fsync)
    store = VoteStore(tmp_path / "n1")
    seen_at_handler: list[Durable] = []
    host = NodeHost(1, IDS, store, on_handled=lambda e, m, o: seen_at_handler.append(store.load()))
    out = host.election_timeout()
    assert seen_at_handler == [Durable(0, None)], "the hook runs after the handler, before the save"
    assert out.persist == Durable(1, 1) and len(out.send) == 2
    # The data directory's parent (the store's first save made the directory), the vote file
    # and the directory: all fsynced before the return.
    assert len(fsynced) == 3, "the vote file and its directories are fsynced before the return"
    assert VoteStore(tmp_path / "n1").load() == Durable(1, 1)


def test_a_delivery_that_grants_a_vote_persists_it_first(tmp_path: Path) -> None:
    persisted: list[Durable] = []
    store = VoteStore(tmp_path / "n2")
    host = NodeHost(2, IDS, store, on_persisted=persisted.append)
    out = host.deliver(RequestVote(4, 1, 2))
    assert persisted == [Durable(4, 1)]
    assert VoteStore(tmp_path / "n2").load() == Durable(4, 1)
    assert [m.granted for m in out.send] == [True]


def test_a_failing_store_raises_and_withholds_the_output(tmp_path: Path) -> None:
    store = VoteStore(tmp_path / "n1")
    persisted: list[Durable] = []
    host = NodeHost(1, IDS, store, on_persisted=persisted.append)
    host.election_timeout()
    shutil.rmtree(store.directory)
    store.directory.write_text("not a directory any more")  # the next save fails for real
    returned: list[Output] = []
    with pytest.raises(StorageError, match="cannot save vote"):
        returned.append(host.election_timeout())
    assert returned == [] and persisted == [Durable(1, 1)]


def test_nothing_to_persist_means_no_write(tmp_path: Path) -> None:
    store = VoteStore(tmp_path / "n1")
    host = NodeHost(1, IDS, store)
    assert host.heartbeat_timer() == Output()
    assert not store.path.exists()


def test_restart_rebuilds_the_node_from_storage(tmp_path: Path) -> None:
    store = VoteStore(tmp_path / "n3")
    host = NodeHost(3, IDS, store)
    host.election_timeout()
    host.election_timeout()
    before = host.node
    after = host.restart()
    assert after is host.node and after is not before
    snap = after.snapshot()
    assert (snap.term, snap.voted_for, str(snap.role)) == (2, 3, "follower")
    # A second host on the same directory (a new process) reads the same vote.
    assert NodeHost(3, IDS, VoteStore(tmp_path / "n3")).node.durable() == Durable(2, 3)


def test_node_class_is_used_at_every_restart(tmp_path: Path) -> None:
    class Mutant(Node):
        __slots__ = ()

    host = NodeHost(1, IDS, VoteStore(tmp_path / "n1"), node_class=Mutant)
    assert type(host.node) is Mutant
    assert type(host.restart()) is Mutant


def test_a_damaged_vote_file_is_refused_when_the_host_is_built(tmp_path: Path) -> None:
    store = VoteStore(tmp_path / "n1")
    store.directory.mkdir()
    store.path.write_text("{ torn")
    with pytest.raises(StorageError, match="corrupt or truncated"):
        NodeHost(1, IDS, store)
