"""Parallel breadth-first search: each level's expansion is split across worker processes.

The parent keeps the visited set, the parent links and the property checks; workers
(forked, so each inherits the compiled kernel) expand contiguous chunks of the level and
canonicalize the successors. The parent merges the chunks in queue order, so the states are
stored in exactly the order a single process stores them: the counts, the depth and the
counterexample are the same whatever the number of workers.

Each worker remembers every successor it has already handed back; the parent has seen those,
so they are dropped before they cross a process boundary.

Known limitation: the visited set lives in the parent, so parallelism spreads the work of
expansion and canonicalization, not the memory.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable

_KERNEL = None  # the kernel, set before the fork; each worker inherits it
_SYMMETRIC = False
_RETURNED: set = set()  # per worker: every successor already sent to the parent


class WorkerFailed(Exception):
    """A worker raised; the caller reruns in one process, which reports the failure well."""


def _expand_chunk(chunk: list) -> tuple[list, list[int], list[int]] | str:
    """Expand ``chunk``; returns ([(index in chunk, action id, successor)], changed, fired),
    or the text of an error (an exception that does not pickle would hang the pool)."""
    try:
        return _expand(chunk)
    except Exception as exc:  # noqa: BLE001 - reported by the parent, rerun in one process
        return f"{type(exc).__name__}: {exc}"


def _expand(chunk: list) -> tuple[list, list[int], list[int]]:
    kernel, returned = _KERNEL, _RETURNED
    expand = kernel.expand
    canon = kernel.canonical if _SYMMETRIC else None
    fired_before = kernel.fired_counts()
    changed = [0] * 64
    out = []
    for index, st in enumerate(chunk):
        for aid, nxt in expand(st):
            changed[aid] += 1
            if canon is not None:
                nxt = canon(nxt)
            if nxt in returned:
                continue
            returned.add(nxt)
            out.append((index, aid, nxt))
    fired_after = kernel.fired_counts()
    fired = [b - a for a, b in zip(fired_before, fired_after, strict=False)]
    fired += fired_after[len(fired_before) :]
    return out, changed, fired


def search_levels(search, workers: int, on_progress: Callable | None, every: float) -> None:
    """Run the search level by level with ``workers`` processes (fills in ``search``)."""
    global _KERNEL, _SYMMETRIC
    _KERNEL, _SYMMETRIC = search.kernel, search.canon is not None
    context = multiprocessing.get_context("fork")
    fired_total: list[int] = []
    states, parents, seen = search.states, search.parents, search.seen
    fingerprint, violates = search.fingerprint, search.kernel.violates
    next_report = search.start + every
    with context.Pool(workers) as pool:
        level_start = 0
        while level_start < len(states) and search.bad_index < 0:
            level_end = len(states)
            size = max(500, (level_end - level_start) // (workers * 4) + 1)
            starts = list(range(level_start, level_end, size))
            chunks = [states[a : min(a + size, level_end)] for a in starts]
            search.depth += 1 if level_start > 0 or level_end > 0 else 0
            changed_before, fired_before = list(search.changed), list(fired_total)
            try:
                results = pool.imap(_expand_chunk, chunks)
                for base, result in zip(starts, results, strict=True):
                    if isinstance(result, str):
                        raise WorkerFailed(result)
                    successors, changed, fired = result
                    _add(search.changed, changed)
                    _add(fired_total, fired)
                    for index, aid, nxt in successors:
                        key = fingerprint(nxt) if fingerprint else nxt
                        if key in seen:
                            continue
                        seen.add(key)
                        states.append(nxt)
                        parents.append(base + index)
                        search.new_states[aid] += 1
                        if violates(nxt):
                            search.bad_index = len(states) - 1
                            break
                    if search.bad_index >= 0:
                        break
            except WorkerFailed:
                raise
            except Exception as exc:  # noqa: BLE001 - any worker failure: rerun in one process
                raise WorkerFailed(str(exc)) from exc
            if search.bad_index >= 0:
                # One process stops in the middle of this level: count as it would.
                search.changed[:] = changed_before
                fired_total[:] = fired_before
                _recount_partial_level(search, level_start, fired_total)
            search.expanded = level_end
            level_start = level_end
            if on_progress is not None and time.perf_counter() >= next_report:
                next_report = time.perf_counter() + every
                on_progress(_snapshot(search, fired_total, len(states) - level_start))
        pool.terminate()
    if search.bad_index < 0 and search.depth > 0:
        search.depth -= 1  # the last level expanded found nothing new
    search.kernel.fired_counts = lambda: list(fired_total)


def _recount_partial_level(search, level_start: int, fired_total: list[int]) -> None:
    """Expand, in this process, the part of the level a single process would have expanded
    before it met the violation, and add what it tallies (so the counts do not depend on the
    number of workers)."""
    kernel, states = search.kernel, search.states
    bad = states[search.bad_index]
    last_parent = search.parents[search.bad_index]
    before = kernel.fired_counts()
    for i in range(level_start, last_parent + 1):
        for aid, nxt in kernel.expand(states[i]):
            search.changed[aid] += 1
            if i == last_parent and (search.canon(nxt) if search.canon else nxt) == bad:
                break
    after = kernel.fired_counts()
    _add(fired_total, [b - a for a, b in zip(before, after, strict=True)])


def _add(total: list[int], delta: list[int]) -> None:
    if len(total) < len(delta):
        total.extend([0] * (len(delta) - len(total)))
    for i, value in enumerate(delta):
        total[i] += value


def _snapshot(search, fired_total: list[int], queue: int):
    from checker.explore import Progress

    now = time.perf_counter()
    generated = len(search.kernel.init) + sum(fired_total)
    return Progress(len(search.states), generated, queue, search.depth, now - search.start)
