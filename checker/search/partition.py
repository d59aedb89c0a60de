"""One partition of the partitioned search: the states whose fingerprint it owns.

A :class:`Partition` owns the states with ``fingerprint % parts == index``: their visited set
(a :class:`~checker.search.fpset.FingerprintSet`) and, on disk under its folder, every state it
stored, level by level, with its parent's fingerprint. It does three things a round, each
called by the coordinator (levels.py) through a transport (transport.py):

- :meth:`expand` the frontier states whose rank in the level is in [lo, hi): every successor
  becomes a record carrying its fingerprint, its packed state, its parent's fingerprint,
  its action and its *key*, ``parent rank << 16 | ordinal``: the order in which one process
  searching breadth first would meet it. Records go to their owners in batches.
- :meth:`ingest` the records it owns: of several with one fingerprint the least key wins
  (the first discovery); those not seen before are the round's new states, checked against the
  properties in key order.
- :meth:`commit` the new states with their ranks in the next level (the coordinator merges the
  keys of every partition into ranks), written to one file per round: the checkpoint.

So the states, their order, the parents and the first violation do not depend on how many
partitions there are: they are those of one process searching breadth first.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import xxhash

from checker.search.batch import Batch, codec_for
from checker.search.fpset import FingerprintSet
from checker.search.native import native_kernel
from checker.search.native_sets import Projections, Recent
from checker.search.native_shared import SharedRecent, round_stamps
from checker.search.stats import peak_rss_bytes, rss_bytes

ORDINAL_BITS = 16  # successors of one state: fewer than 65,536
RECENT_LIMIT = 1 << 21  # successors remembered between rounds, to send each once (~160 MB)
ROUND_FILE = re.compile(r"L(\d+)-r(\d+)\.npz")
CACHED_ROUNDS = 4
ROUND_COLUMNS = ("fps", "parents", "ranks", "aids", "keys", "offsets", "blob")


@dataclass
class Ingested:
    """What a partition reports of one round's new states."""

    keys: np.ndarray  # sorted
    violation: tuple[int, int] | None  # (key, fingerprint) of the first violating new state
    violations: dict[str, tuple[int, int]]  # property -> (key, fingerprint), with `continue`
    new_by_action: dict[str, int]
    witnessed: set[str]
    rss: int
    disk: int


@dataclass
class RoundFile:
    path: Path
    first_rank: int
    last_rank: int
    size: int


class Partition:
    """The states one worker owns, and the three steps of a round over them."""

    def __init__(
        self,
        kernel,
        canon: Callable | None,
        index: int,
        parts: int,
        folder: Path,
        memory_limit: int | None = None,
        first_violated: Callable[[Any], str | None] | None = None,
        shared: SharedRecent | None = None,
    ) -> None:
        self.kernel, self.canon, self.codec = kernel, canon, codec_for(kernel)
        self.index, self.parts = index, parts
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.seen = FingerprintSet(memory_limit, self.folder)
        self.levels: dict[int, list[RoundFile]] = {}
        self.pending: tuple[int, int, Batch] | None = None
        self.first_violated = first_violated  # names the property (for `continue`)
        # Round files read or written last: the round being expanded reads one level while
        # commits write the next, so a few are kept (each is one round: a few MB).
        self._cache: dict[Path, dict[str, np.ndarray]] = {}
        # Successors this partition already sent, and states it stores: their owners have
        # them, with a key no greater (rounds go in key order), so sending them changes nothing.
        self.recent: set = set()
        self.own = Batch.empty()  # the records of the last expand that this one owns
        # Action names by id, as this partition stores them. A generic kernel names actions
        # as it meets them, so each partition's kernel numbers them its own way.
        self.labels: list[str] = list(kernel.action_labels)
        self.label_ids = {label: i for i, label in enumerate(self.labels)}
        # A compiled kernel's tables run as machine code where numba can (native.py).
        self.native = native_kernel(kernel, self.codec.width, canon is not None)
        # What this partition sent, or (forked workers) what any of them sent.
        self.sent = None
        if self.native is not None:
            self.sent = shared.for_worker(index) if shared else Recent(self.native.words)
        self.rounds = 0  # expanded so far by this process: stamps the shared table's entries
        # The property masks of projections met before, for machine code to check most new
        # states (not for properties the compiled kernel evaluates on the whole state).
        self.projections = (
            Projections(kernel, self.native.words)
            if self.native is not None and not kernel._general
            else None
        )

    # --- the three steps of a round ----------------------------------------------------------
    def expand(self, level: int, lo: int, hi: int) -> tuple[list[Batch], dict, dict, dict]:
        """Expand this partition's states of ``level`` ranked in [lo, hi); returns the
        records per owner, the tallies of successors and of enabled actions by action, and
        where each action this partition had not met before was first met: (rank, position)."""
        if self.native is not None:
            return self._expand_native(level, lo, hi)
        kernel, canon, codec, parts = self.kernel, self.canon, self.codec, self.parts
        expand, pack, fingerprint = kernel.expand, codec.pack, codec.fingerprint
        fired_before = kernel.fired_counts()
        changed = [0] * 256
        rows: list[list] = [[] for _ in range(parts)]
        if len(self.recent) > RECENT_LIMIT:
            self.recent = set()
        seen_here = self.recent
        width, digest = codec.width, xxhash.xxh3_64_intdigest
        labels, firsts = kernel.action_labels, {}
        for rank, parent_fp, packed in self._states(level, lo, hi):
            base = rank << ORDINAL_BITS
            known = len(labels)
            successors = expand(codec.unpack(packed))
            if len(labels) > known:
                for i, label in enumerate(labels[known:]):
                    firsts[label] = (rank, i)
            for ordinal, (aid, nxt) in enumerate(successors):
                changed[aid] += 1
                if nxt in seen_here:
                    continue
                seen_here.add(nxt)
                if canon is not None:
                    # Raw successors are remembered too: most repeat, and canonicalizing
                    # is the dearest step of the loop.
                    representative = canon(nxt)
                    if representative != nxt:
                        if representative in seen_here:
                            continue
                        seen_here.add(representative)
                        nxt = representative
                if width:  # packed ints, inlined: this line runs for most successors
                    b = nxt.to_bytes(width, "little")
                    fp = digest(b) or 1
                else:
                    b = pack(nxt)
                    fp = fingerprint(nxt, b)
                rows[fp % parts].append((fp, base | ordinal, parent_fp, aid, b))
        fired = _minus(kernel.fired_counts(), fired_before)
        names = tuple(labels)
        batches = [Batch.of(r, names) for r in rows]
        # Its own records stay here: only the others' cross a process boundary.
        self.own, batches[self.index] = batches[self.index], Batch.empty()
        return batches, _named(changed, names), _named(fired, names), firsts

    def _expand_native(self, level: int, lo: int, hi: int) -> tuple[list[Batch], dict, dict, dict]:
        """:meth:`expand` by the native kernel: the same records, a round in one call."""
        native, parts, kernel = self.native, self.parts, self.kernel
        fired_before = kernel.fired_counts()
        ranks, parent_fps, rows = self._state_rows(level, lo, hi)
        self.rounds += 1
        stamps = round_stamps(self.rounds, ranks - lo)
        # Successors come in key order: the first meeting of one is the one to send.
        succ, parent, ordinal, aids, fps, changed = native.successors(rows, self.sent, stamps)
        names = tuple(kernel.action_labels)
        owner = fps % np.uint64(parts)
        batches = []
        for j in range(parts):
            mine = np.flatnonzero(owner == j) if parts > 1 else slice(None)
            came_from = parent[mine]
            batches.append(
                Batch.fixed(
                    fps[mine], (ranks[came_from] << ORDINAL_BITS) | ordinal[mine],
                    parent_fps[came_from], aids[mine], native.to_blob(succ[mine]),
                    native.width, names,
                )
            )  # fmt: skip
        fired = _minus(kernel.fired_counts(), fired_before)
        self.own, batches[self.index] = batches[self.index], Batch.empty()
        return batches, _named(changed.tolist(), names), _named(fired, names), {}

    def _state_rows(self, level: int, lo: int, hi: int):
        """(ranks, fingerprints, rows) of this partition's states of ``level`` ranked in
        [lo, hi), in rank order: :meth:`_states` as arrays, for the native kernel."""
        parts = [
            (d["ranks"][a:b], d["fps"][a:b], d["blob"][d["offsets"][a] : d["offsets"][b]])
            for d, a, b in self._slices(level, lo, hi)
        ]
        if not parts:
            z = np.zeros(0, dtype=np.int64)
            return z, z.astype(np.uint64), np.zeros((0, self.native.words), dtype=np.uint64)
        ranks, fps, blobs = (np.concatenate(column) for column in zip(*parts, strict=True))
        return ranks, fps, self.native.to_rows(blobs.tobytes(), len(ranks))

    def ingest(self, level: int, round_no: int, batches: Sequence[Batch], every: bool) -> Ingested:
        """Take the records this partition owns for ``level``; keep the new ones pending
        until :meth:`commit`. ``every``: name every property's first violation, not only the
        first violation's."""
        if self.sent is not None:
            self.sent.plan()  # every expansion of the round is over: the counts stand still
        batch = Batch.concat([self._renumbered(b) for b in (self.own, *batches)])
        self.own = Batch.empty()
        winners = batch.first_discoveries()  # one a fingerprint, in key order
        fresh = winners[self.seen.add_new(batch.fps[winners])]
        new = batch.take(fresh)
        self.pending = (level, round_no, new)
        if self.projections is not None:
            rows = self.native.to_rows(new.blob, len(new))
            check = np.flatnonzero(self.projections.unchecked(rows)).tolist()
        else:
            rows, check = None, range(len(new))
        violation, violations = None, {}
        violates, unpack, recent = self.kernel.violates, self.codec.unpack, self.recent
        remember = self.native is None  # the native kernel sends every first meeting
        checked, states = [], []
        for i in check:
            state = unpack(new.state(i))
            if remember:
                recent.add(state)  # it is stored: met again as a successor here, not sent
            if violates(state):
                found = (int(new.keys[i]), int(new.fps[i]))
                if violation is None:
                    violation = found
                if not every:
                    break
                name = self.first_violated(state) if self.first_violated else None
                violations.setdefault(name or "?", found)
            elif rows is not None:
                checked.append(i)
                states.append(state)
        if checked:
            self.projections.learn(rows[checked], states)
        by_action = _named(np.bincount(new.aids, minlength=256).tolist(), self.labels)
        return Ingested(
            new.keys.copy(), violation, violations, by_action, set(self.kernel.witnessed),
            rss_bytes(), self.disk_bytes(),
        )  # fmt: skip

    def commit(self, level: int, round_no: int, ranks: np.ndarray) -> None:
        """Write the pending new states of (``level``, ``round_no``) with their ranks."""
        if self.sent is not None:
            self.sent.tidy()  # no partition is expanding: the shared table may be emptied
        pending_level, pending_round, new = self.pending
        assert (pending_level, pending_round) == (level, round_no), "commit of another round"
        self.pending = None
        if not len(new):
            return
        path = self.folder / f"L{level}-r{round_no}.npz"
        tmp = path.with_suffix(".tmp")
        columns = (
            new.fps, new.parents, np.asarray(ranks, dtype=np.int64), new.aids, new.keys,
            new.offsets, np.frombuffer(new.blob, dtype=np.uint8),
        )  # fmt: skip
        with open(tmp, "wb") as f:
            np.savez(f, **dict(zip(ROUND_COLUMNS, columns, strict=True)))
        os.replace(tmp, path)
        self.levels.setdefault(level, []).append(
            RoundFile(path, int(ranks[0]), int(ranks[-1]), len(new))
        )
        # The next level's rounds read it first: kept, as _load would read it back.
        self._keep(path, dict(zip(ROUND_COLUMNS, columns, strict=True)))

    # --- after a violation: counts as one process would have them -----------------------------
    def tally_until(self, level: int, lo: int, last_rank: int, last_ordinal: int):
        """Re-expand this partition's states of ``level`` ranked in [lo, last_rank]: the
        tallies one process makes before it stops at successor ``last_ordinal`` of the state
        ranked ``last_rank``."""
        kernel, changed = self.kernel, [0] * 256
        fired_before = kernel.fired_counts()
        for rank, _, packed in self._states(level, lo, last_rank + 1):
            for ordinal, (aid, _) in enumerate(kernel.expand(self.codec.unpack(packed))):
                if rank == last_rank and ordinal > last_ordinal:
                    break
                changed[aid] += 1
        names = tuple(kernel.action_labels)
        return _named(changed, names), _named(_minus(kernel.fired_counts(), fired_before), names)

    def new_until(self, level: int, round_no: int, key: int) -> tuple[int, dict[str, int]]:
        """How many of the round's new states come at or before ``key``, and by action."""
        name = f"L{level}-r{round_no}.npz"
        files = [f for f in self.levels.get(level, []) if f.path.name == name]
        if not files:
            return 0, {}
        data = self._load(files[0].path)
        upto = data["keys"] <= key
        by_action = np.bincount(data["aids"][upto], minlength=256).tolist()
        return int(upto.sum()), _named(by_action, self.labels)

    def lookup(self, level: int, fp: int) -> tuple[int, bytes] | None:
        """The parent's fingerprint and the packed state of the state ``fp`` of ``level``."""
        for f in self.levels.get(level, []):
            data = self._load(f.path)
            at = np.flatnonzero(data["fps"] == np.uint64(fp))
            if at.size:
                i = int(at[0])
                offsets = data["offsets"]
                return int(data["parents"][i]), data["blob"][offsets[i] : offsets[i + 1]].tobytes()
        return None

    # --- resuming ------------------------------------------------------------------------------
    def resume(self, last_level: int, rounds_done: int) -> int:
        """Reload what an earlier run committed: levels up to ``last_level``, whose first
        ``rounds_done`` rounds are complete; later files are dropped. Returns the states kept."""
        kept = []
        for path in sorted(self.folder.glob("L*-r*.npz"), key=_round_order):
            level, round_no = (int(x) for x in ROUND_FILE.fullmatch(path.name).groups())
            if level > last_level or (level == last_level and round_no >= rounds_done):
                path.unlink()
                continue
            kept.append((level, path))
        for stale in [*self.folder.glob("*.tmp"), *self.folder.glob("visited-run-*.npy")]:
            stale.unlink()
        for level, path in kept:
            data = self._load(path)
            self.seen.add_new(data["fps"])
            ranks = data["ranks"]
            self.levels.setdefault(level, []).append(
                RoundFile(path, int(ranks[0]), int(ranks[-1]), len(ranks))
            )
        return len(self.seen)

    # --- helpers -------------------------------------------------------------------------------
    def _renumbered(self, batch: Batch) -> Batch:
        """``batch`` with its action ids in this partition's numbering."""
        if not batch.labels or list(batch.labels) == self.labels[: len(batch.labels)]:
            return batch
        for label in batch.labels:
            if label not in self.label_ids:
                self.label_ids[label] = len(self.labels)
                self.labels.append(label)
        mapping = np.array([self.label_ids[label] for label in batch.labels], dtype=np.uint8)
        return replace(batch, aids=mapping[batch.aids], labels=tuple(self.labels))

    def disk_bytes(self) -> int:
        files = [f.path for files in self.levels.values() for f in files]
        return sum(p.stat().st_size for p in files if p.exists()) + self.seen.disk_bytes

    def peak_rss(self) -> int:
        return peak_rss_bytes()

    def _slices(self, level: int, lo: int, hi: int):
        """(file's arrays, first, last) of each round file of ``level`` holding states
        ranked in [lo, hi): those are its rows first:last, in rank order."""
        for f in self.levels.get(level, []):
            if f.last_rank < lo or f.first_rank >= hi:
                continue
            data = self._load(f.path)
            a, b = (int(x) for x in np.searchsorted(data["ranks"], [lo, hi]))
            if a < b:
                yield data, a, b

    def _states(self, level: int, lo: int, hi: int):
        """(rank, fingerprint, packed state) of this partition's states of ``level`` ranked
        in [lo, hi), in rank order."""
        for data, a, b in self._slices(level, lo, hi):
            ranks, offsets, blob, fps = data["ranks"], data["offsets"], data["blob"], data["fps"]
            start, blob_bytes = int(offsets[a]), blob[offsets[a] : offsets[b]].tobytes()
            local = (offsets[a : b + 1] - start).tolist()
            pairs = zip(ranks[a:b].tolist(), fps[a:b].tolist(), strict=True)
            for i, (rank, fp) in enumerate(pairs):
                yield rank, fp, blob_bytes[local[i] : local[i + 1]]

    def _load(self, path: Path) -> dict[str, np.ndarray]:
        if path not in self._cache:
            with np.load(path) as data:
                self._keep(path, {k: data[k] for k in data.files})
        return self._cache[path]

    def _keep(self, path: Path, arrays: dict[str, np.ndarray]) -> None:
        if len(self._cache) >= CACHED_ROUNDS:
            del self._cache[next(iter(self._cache))]  # the oldest
        self._cache[path] = arrays


def _round_order(path: Path) -> tuple[int, int]:
    level, round_no = ROUND_FILE.fullmatch(path.name).groups()
    return int(level), int(round_no)


def _named(counts: list[int], labels: Sequence[str]) -> dict[str, int]:
    """Tallies by action id as tallies by action name (ids with no name are dropped)."""
    return {label: counts[i] for i, label in enumerate(labels) if i < len(counts) and counts[i]}


def _minus(after: list[int], before: list[int]) -> list[int]:
    return [a - (before[i] if i < len(before) else 0) for i, a in enumerate(after)]
