"""The partitioned search: level by level, in rounds, over partitions that own their states.

For runs past one process's memory, on several processes, on a Dask cluster, and runs that
must survive being stopped. The coordinator (this module) holds no state whole: each round it
asks every partition (partition.py) to expand its share of the frontier ranked in [lo, hi),
hands each batch of successor records to the partition that owns them, has each keep the new
ones, merges their keys into ranks and has them write the round. Because ranks follow the order of
first discovery of one breadth-first process, the counts, the depth and the counterexample
are the same for any number of partitions, and the same as :func:`explore`'s in memory.

Every finished round is a checkpoint: a manifest (``manifest.json``, replaced atomically) says
which levels and rounds are complete, with the tallies so far; the partitions' round files
hold the states. ``resume`` reloads it and carries on; a round that was cut off (SIGKILL, a
power cut of the process) is done again.
"""

from __future__ import annotations

import gc
import math
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checker.errors import ElectkitError, interrupt_pending
from checker.search.batch import Batch, codec_for, merge_ranks, route
from checker.search.checkpoint import open_manifest, save_manifest
from checker.search.partition import ORDINAL_BITS
from checker.search.state import Coverage, Progress, Result
from checker.search.stats import STATS_EVERY, StatsFile, levels_left, peak_rss_bytes, rss_bytes
from checker.search.transport import Options, open_transport
from spec.model import Model

INIT_ACTION = 255  # the "action" of an initial state: tallied nowhere


@dataclass
class Tallies:
    """What the search has counted so far; saved in the manifest."""

    level_sizes: list[int]
    level: int = 0  # the level being expanded
    rounds_done: int = 0  # of that level
    next_size: int = 0  # new states of the next level so far
    changed: dict[str, int] | None = None  # by action name
    fired: dict[str, int] | None = None
    new_states: dict[str, int] | None = None
    first_seen: dict[str, list[int]] | None = None  # action -> [level, rank, position]
    witnessed: list[str] | None = None
    violations: dict[str, list[int]] | None = None  # property -> [level, key, fingerprint]
    seconds: float = 0.0  # searching, over every run of it (a resumed run adds its own)

    def __post_init__(self) -> None:
        self.changed = self.changed or {}
        self.fired = self.fired or {}
        self.new_states = self.new_states or {}
        self.first_seen = self.first_seen or {}
        self.witnessed = self.witnessed or []
        self.violations = self.violations or {}

    @property
    def distinct(self) -> int:
        return sum(self.level_sizes) + self.next_size


def search_partitioned(
    model: Model,
    kernel,
    symmetric: bool,
    properties: frozenset[str] | None,
    opts: Options,
    on_progress: Callable[[Progress], None] | None = None,
    every: float = 0.5,
) -> Result:
    """Search ``model`` breadth first over ``opts.workers`` partitions; see the module doc."""
    start = time.perf_counter()
    # What exists now (the model, its kernel, numba's code) lives as long as the search: kept
    # out of the collector's full passes, each of which would otherwise walk all of it
    # (~50 ms) in this process and again in every forked worker.
    gc.freeze()
    temporary = opts.checkpoint is None
    folder = Path(tempfile.mkdtemp(prefix="electkit-run-")) if temporary else opts.checkpoint
    job = (  # what a checkpoint must match to be resumed, and what a Dask worker rebuilds
        opts.spec or model.name,
        tuple(sorted(model.parameters.items())),
        symmetric,
        tuple(sorted(properties)) if properties is not None else None,
        not kernel.exact,
        opts.keep_going,
    )
    try:
        manifest = open_manifest(folder, job, opts.resume, opts.workers)
        if manifest is not None:
            opts.round_size = manifest["round_size"]
        with open_transport(model, kernel, symmetric, properties, opts, folder, job) as transport:
            run = _Run(model, kernel, symmetric, properties, opts, folder, transport, start, job)
            return run.go(manifest, on_progress, every)
    finally:
        gc.unfreeze()
        if temporary:
            shutil.rmtree(folder, ignore_errors=True)


class _Run:
    """One partitioned search, from its first level (or its checkpoint) to its verdict."""

    def __init__(self, model, kernel, symmetric, properties, opts, folder, transport, start, job):
        self.model, self.kernel, self.symmetric = model, kernel, symmetric
        self.properties, self.opts, self.folder = properties, opts, folder
        self.transport, self.start, self.job = transport, start, job
        self.codec = codec_for(kernel)
        self.parts = opts.workers
        self.stats = StatsFile(opts.stats, start) if opts.stats else None
        self.rss = 0
        self.disk = 0

    def call(self, method: str, *args) -> list[Any]:
        return self.transport.call(method, [args] * self.parts)

    # --- the search ----------------------------------------------------------------------------
    def go(self, manifest: dict | None, on_progress, every: float) -> Result:
        if manifest is None:
            t = Tallies(level_sizes=[])
            bad = self._initial_level(t)
            if bad is None:
                self._save(t)
        else:
            t = Tallies(**manifest["tallies"])
            self.start -= t.seconds  # the clock goes on from where the checkpoint left it
            if self.stats:
                self.stats.start = self.stats.last[0] = self.start
            stored = sum(self.call("resume", t.level + 1, t.rounds_done))
            if stored != t.distinct:
                raise ElectkitError(
                    f"--resume {self.folder}: the checkpoint's files hold {stored:,} states, "
                    f"its manifest says {t.distinct:,} (files were lost or changed)"
                )
            bad = None
        next_report = time.perf_counter() + every
        last_count, last_time = t.distinct, time.perf_counter()
        interrupted, bounded = False, False
        try:
            while bad is None:
                size = t.level_sizes[t.level]
                if size == 0:
                    break
                if self.opts.max_depth is not None and t.level >= self.opts.max_depth:
                    bounded = True
                    break
                rounds = math.ceil(size / self.opts.round_size)
                while t.rounds_done < rounds and bad is None:
                    if interrupt_pending():
                        raise KeyboardInterrupt
                    bad = self._round(t)
                    if bad is None:
                        self._save(t)
                    now = time.perf_counter()
                    if now >= next_report:
                        queue = size - min(size, t.rounds_done * self.opts.round_size)
                        rate = (t.distinct - last_count) / (now - last_time)
                        last_count, last_time = t.distinct, now
                        next_report = now + every
                        progress = Progress(
                            t.distinct, self._generated(t), queue + t.next_size, t.level + 1,
                            now - self.start, rate, self.rss, self.disk,
                            levels_left(t.level_sizes),
                        )  # fmt: skip
                        if on_progress is not None:
                            on_progress(progress)
                        if self.stats and now >= self.stats.last[0] + STATS_EVERY:
                            self.stats.write("tick", progress, self.rss, self.disk)
                if bad is None:
                    t.level_sizes.append(t.next_size)
                    t.level, t.rounds_done, t.next_size = t.level + 1, 0, 0
                    self._save(t)
                    if self.stats:
                        generated = self._generated(t)
                        self.stats.level(t.level_sizes, t.distinct, generated, self.rss, self.disk)
        except KeyboardInterrupt:
            interrupted = True
        result = self._result(t, bad, interrupted, bounded)
        if self.stats:
            p = Progress(t.distinct, self._generated(t), 0, result.depth, result.seconds)
            self.stats.write("done", p, self.rss, self.disk, verdict=result.verdict)
            self.stats.file.close()
        return result

    def _initial_level(self, t: Tallies) -> tuple | None:
        rows = []
        for ordinal, st in enumerate(self.kernel.init):
            b = self.codec.pack(st)
            rows.append((self.codec.fingerprint(st, b), ordinal, 0, INIT_ACTION, b))
        return self._ingest_and_commit(t, 0, 0, route(rows, self.parts), initial=True)

    def _round(self, t: Tallies) -> tuple | None:
        size = t.level_sizes[t.level]
        lo = t.rounds_done * self.opts.round_size
        hi = min(size, lo + self.opts.round_size)
        outs = self.call("expand", t.level, lo, hi)
        before = (dict(t.changed), dict(t.fired), dict(t.new_states), t.next_size)
        for _, changed, fired, firsts in outs:
            _add(t.changed, changed)
            _add(t.fired, fired)
            for label, (rank, position) in firsts.items():
                seen = [t.level, rank, position]
                if label not in t.first_seen or seen < t.first_seen[label]:
                    t.first_seen[label] = seen
        routed = [[out[0][j] for out in outs] for j in range(self.parts)]
        bad = self._ingest_and_commit(t, t.level + 1, t.rounds_done, routed)
        if bad is not None:
            t.changed, t.fired, t.new_states, t.next_size = before
            self._recount(t, lo, bad)
        else:
            t.rounds_done += 1
        return bad

    def _ingest_and_commit(
        self, t: Tallies, level: int, round_no: int, routed: list[list[Batch]], initial=False
    ) -> tuple | None:
        keep_going = self.opts.keep_going
        got = self.transport.call("ingest", [(level, round_no, b, keep_going) for b in routed])
        keys = [g.keys for g in got]
        base = t.next_size if not initial else 0
        ranks = merge_ranks(keys, base)
        self.transport.call("commit", [(level, round_no, r) for r in ranks])
        self.rss = sum(g.rss for g in got) + (0 if self.parts == 1 else rss_bytes())
        self.disk = sum(g.disk for g in got)
        for g in got:
            t.witnessed = sorted(set(t.witnessed) | g.witnessed)
            _add(t.new_states, g.new_by_action)
        new = sum(len(k) for k in keys)
        if initial:
            t.level_sizes.append(new)
        else:
            t.next_size += new
        found = [g.violation for g in got if g.violation is not None]
        if keep_going:
            for g in got:
                for name, (key, fp) in sorted(g.violations.items()):
                    old = t.violations.get(name)
                    if old is None or (old[0], old[1]) > (level, key):
                        t.violations[name] = [level, key, fp]
            return None
        if not found:
            return None
        key, fp = min(found)
        return (level, round_no, key, fp)

    def _recount(self, t: Tallies, lo: int, bad: tuple) -> None:
        """Counts as one process has them when it meets the violation: the round's parents
        up to the violating successor, and the new states up to the violating one."""
        level, round_no, key, _ = bad
        last_rank, last_ordinal = key >> ORDINAL_BITS, key & ((1 << ORDINAL_BITS) - 1)
        for changed, fired in self.call("tally_until", level - 1, lo, last_rank, last_ordinal):
            _add(t.changed, changed)
            _add(t.fired, fired)
        for count, by_action in self.call("new_until", level, round_no, key):
            t.next_size += count
            _add(t.new_states, by_action)

    def _save(self, t: Tallies) -> None:
        t.seconds = time.perf_counter() - self.start
        if self.opts.checkpoint is None:
            return  # a temporary folder: nobody will resume it
        save_manifest(self.folder, self.job, self.parts, self.opts.round_size, t.__dict__)

    def _generated(self, t: Tallies) -> int:
        return len(self.kernel.init) + sum(t.fired.values())

    # --- the result ----------------------------------------------------------------------------
    def _result(self, t: Tallies, bad, interrupted: bool, bounded: bool) -> Result:
        from checker.search.explore import concrete_path, first_violated

        if self.kernel.exact:  # a compiled kernel: every action, in its order
            labels = list(self.kernel.action_labels)
        else:  # the actions met, in the order one process meets them
            labels = sorted(t.first_seen, key=t.first_seen.__getitem__)
        coverage = [
            Coverage(
                label, t.fired.get(label, 0), t.changed.get(label, 0), t.new_states.get(label, 0)
            )
            for label in labels
        ]
        props = self.model.properties()
        sometimes = [p.name for p in props if p.kind == "sometimes"]
        checked = [
            p.name
            for p in props
            if p.kind == "sometimes" or self.properties is None or p.name in self.properties
        ]
        distinct = t.distinct
        nonempty = [n for n in t.level_sizes if n]
        depth = len(nonempty) - 1 if bad is None else bad[0]
        # After Ctrl-C a worker may still be answering the cut-off request: ask it nothing.
        peaks = [] if interrupted else self.call("peak_rss")
        peak = sum(peaks) + (0 if self.parts == 1 and peaks else peak_rss_bytes())
        result = Result(
            verdict="interrupted" if interrupted else ("violation" if bad else "ok"),
            property=None,
            distinct_states=distinct,
            generated_states=self._generated(t),
            depth=max(depth, 0),
            seconds=time.perf_counter() - self.start,
            symmetry=self.symmetric,
            exact=False,
            collision_probability=distinct * distinct / 2.0**65,
            coverage=coverage,
            witnessed=[n for n in sometimes if n in t.witnessed],
            unwitnessed=[n for n in sometimes if n not in t.witnessed],
            checked=checked,
        )
        result.bounded = bounded
        result.peak_memory = peak
        result.disk_bytes = self.disk
        result.workers = self.parts
        if bad is not None:
            chain = self._chain(bad[0], bad[3])
            result.init_state, result.path = concrete_path(
                self.model, self.kernel, chain, self.kernel.canonical if self.symmetric else None,
                None,
            )  # fmt: skip
            last = result.path[-1].state if result.path else result.init_state
            result.property = first_violated(self.model, last, self.properties)
        elif t.violations and not interrupted:
            found = sorted(t.violations.items(), key=lambda kv: (kv[1][0], kv[1][1]))
            result.violations = []
            for name, (level, _, fp) in found:
                chain = self._chain(level, fp)
                init, path = concrete_path(
                    self.model, self.kernel, chain,
                    self.kernel.canonical if self.symmetric else None, None,
                )  # fmt: skip
                result.violations.append((name, init, path))
            result.verdict = "violation"
            result.property, result.init_state, result.path = result.violations[0]
        elif result.verdict == "ok" and result.unwitnessed and not bounded:
            result.verdict, result.property = "violation", result.unwitnessed[0]
            result.vacuous = True
        return result

    def _chain(self, level: int, fp: int) -> list:
        """The stored states from an initial state to the state ``fp`` of ``level``."""
        unpack = self.codec.unpack
        chain = []
        for lv in range(level, -1, -1):
            found = [r for r in self.call("lookup", lv, fp) if r is not None]
            parent, packed = found[0]
            chain.append(unpack(packed))
            fp = parent
        chain.reverse()
        return chain


def _add(total: dict[str, int], delta: dict[str, int]) -> None:
    for label, value in delta.items():
        total[label] = total.get(label, 0) + value
