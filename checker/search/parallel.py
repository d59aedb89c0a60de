"""Parallel breadth-first search: each level's expansion is split across worker processes.

The parent keeps the visited set, the parent links and the property checks; workers
(forked, so each inherits the compiled kernel) expand contiguous chunks of the level and
canonicalize the successors. The parent merges the chunks in queue order, so the states are
stored in exactly the order a single process stores them: the counts, the depth and the
counterexample are the same whatever the number of workers.

Each worker remembers every successor it has already handed back; the parent has seen those,
so they are dropped before they cross a process boundary.

The same level loop runs on Dask (``scheduler``): the chunks become tasks of a Dask cluster,
local (``"local"``, a LocalCluster of ``workers`` processes) or remote (a scheduler address,
for runs that outgrow one machine); each Dask worker compiles the kernel itself, once, from
the spec's name and parameters (a user spec file must exist at the same path on the workers).

Known limitation: the visited set lives in the parent, so parallelism spreads the work of
expansion and canonicalization, not the memory.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import time
from collections.abc import Callable, Hashable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

from checker.search.state import progress_of
from spec.model import ModelError

_KERNEL = None  # the kernel, set before the fork; each worker inherits it
_SYMMETRIC = False
_RETURNED: set = set()  # per worker: every successor already sent to the parent
_REMOTE: dict = {}  # per Dask worker: job -> (kernel, successors already returned)


class WorkerFailed(Exception):
    """A worker raised; the caller reruns in one process, which reports the failure well."""


class WorkerDied(ModelError):
    """A worker process ended abruptly: no rerun (it could end this process too)."""


def _stop(pool: ProcessPoolExecutor) -> None:
    """End the workers now (they ignore Ctrl-C) and drop what is queued."""
    for process in list(getattr(pool, "_processes", {}).values()):
        process.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def _expand_chunk(chunk: list) -> tuple[list, list[int], list[int]] | str:
    """Expand ``chunk``; returns ([(index in chunk, action id, successor)], changed, fired),
    or the text of an error (an exception that does not pickle would hang the pool)."""
    try:
        return _expand(chunk)
    except BaseException as exc:  # noqa: BLE001 - even SystemExit: the parent reruns it
        return f"{type(exc).__name__}: {exc}"


def _expand(chunk: list) -> tuple[list, list[int], list[int]]:
    return _expand_with(_KERNEL, _SYMMETRIC, _RETURNED, chunk)


def _expand_remote(chunk: list, job: Hashable) -> tuple[list, list[int], list[int]] | str:
    """A Dask task: the kernel is compiled on the worker, once per job, from its description."""
    try:
        entry = _REMOTE.get(job)
        if entry is None:
            from checker.protocols.registry import resolve
            from checker.search.kernels import make_kernel

            spec, params, symmetric, only, generic = job
            model = resolve(spec).build(**dict(params))
            kernel = make_kernel(model, symmetric, generic, only)
            entry = _REMOTE[job] = (kernel, symmetric, set())
        return _expand_with(*entry, chunk)
    except Exception as exc:  # noqa: BLE001 - reported by the parent, rerun in one process
        return f"{type(exc).__name__}: {exc}"


def _expand_with(kernel, symmetric: bool, returned: set, chunk: list):
    expand = kernel.expand
    canon = kernel.canonical if symmetric else None
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


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # the pool ends its workers with SIGTERM


@contextlib.contextmanager
def _executor(workers: int, scheduler: str | None, job: Hashable | None):
    """``map_chunks(chunks)``: the results in chunk order, from a pool or a Dask cluster."""
    with contextlib.ExitStack() as stack:
        if scheduler is None:
            # Workers ignore Ctrl-C: the terminal sends it to the whole process group, and the
            # parent alone stops the search (and the pool) cleanly.
            pool = ProcessPoolExecutor(
                workers, mp_context=multiprocessing.get_context("fork"), initializer=_ignore_sigint
            )
            stack.callback(_stop, pool)

            def map_local(chunks: list) -> Iterator:
                try:
                    yield from pool.map(_expand_chunk, chunks)
                except BrokenProcessPool:
                    raise WorkerDied(
                        "a worker process died while expanding states (the model crashed it "
                        "or called os._exit); the search has no verdict"
                    ) from None

            yield map_local
            return
        from distributed import Client

        if scheduler == "local":
            scheduler = stack.enter_context(_local_dask(workers))
        try:
            client = stack.enter_context(Client(scheduler, timeout="30s"))
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConnectionError(
                f"cannot reach the Dask scheduler at {scheduler}: {exc}"
            ) from None

        def map_chunks(chunks: list) -> Iterator:
            futures = client.map(_expand_remote, chunks, job=job, pure=False)
            for future in futures:
                yield future.result()

        yield map_chunks


@contextlib.contextmanager
def _local_dask(workers: int) -> Iterator[str]:
    """A Dask scheduler and ``workers`` worker processes on 127.0.0.1, as `dask scheduler` and
    `dask worker` processes in a session of their own: Ctrl-C at the terminal reaches this
    process alone, which stops them all (and, if this process is killed outright, they stop by
    themselves within 60 s of losing it). Yields the scheduler's address."""
    import subprocess
    import sys
    import tempfile

    with tempfile.TemporaryDirectory(prefix="electkit-dask-") as where:
        info = Path(where) / "scheduler.json"
        dask = [sys.executable, "-m", "dask"]
        quiet = {
            "stdout": subprocess.DEVNULL,
            "stderr": subprocess.DEVNULL,
            "start_new_session": True,
        }
        procs = [
            subprocess.Popen(
                [
                    *dask,
                    "scheduler",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    "0",
                    "--no-dashboard",
                    "--idle-timeout",
                    "60s",
                    "--scheduler-file",
                    str(info),
                ],
                **quiet,
            )
        ]
        try:
            deadline = time.monotonic() + 60
            while not info.exists():
                if procs[0].poll() is not None or time.monotonic() > deadline:
                    raise ConnectionError("the local Dask scheduler did not start")
                time.sleep(0.05)
            address = json.loads(info.read_text())["address"]
            procs.append(
                subprocess.Popen(
                    [
                        *dask,
                        "worker",
                        address,
                        "--nworkers",
                        str(workers),
                        "--nthreads",
                        "1",
                        "--host",
                        "127.0.0.1",
                        "--no-dashboard",
                        "--death-timeout",
                        "60",
                    ],
                    **quiet,
                )
            )
            yield address
        finally:
            for proc in procs:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGTERM)
            for proc in procs:
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()


def search_levels(
    search,
    workers: int,
    on_progress: Callable | None,
    every: float,
    scheduler: str | None = None,
    job: Hashable | None = None,
) -> None:
    """Run the search level by level with ``workers`` processes, or on the Dask cluster
    ``scheduler`` (``"local"`` or an address; ``job`` describes the model for its workers)."""
    global _KERNEL, _SYMMETRIC
    _KERNEL, _SYMMETRIC = search.kernel, search.canon is not None
    # The tallies are the workers' (the parent's kernel expands nothing); kept on the search,
    # so they hold what was counted even when Ctrl-C stops it.
    search.fired = fired_total = []
    _levels(search, workers, on_progress, every, scheduler, job, fired_total)


def _levels(search, workers, on_progress, every, scheduler, job, fired_total) -> None:
    states, parents, seen = search.states, search.parents, search.seen.keys
    fingerprint, violates = search.fingerprint, search.kernel.violates
    next_report = search.start + every
    with _executor(workers, scheduler, job) as map_chunks:
        level_start = 0
        while level_start < len(states) and search.bad_index < 0:
            level_end = len(states)
            size = max(500, (level_end - level_start) // (workers * 4) + 1)
            starts = list(range(level_start, level_end, size))
            chunks = [states[a : min(a + size, level_end)] for a in starts]
            search.depth += 1
            changed_before, fired_before = list(search.changed), list(fired_total)
            try:
                results = map_chunks(chunks)
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
            except (WorkerFailed, WorkerDied):
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
                on_progress(progress_of(search, len(states) - level_start, time.perf_counter()))
    if search.bad_index < 0 and search.depth > 0:
        search.depth -= 1  # the last level expanded found nothing new


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
