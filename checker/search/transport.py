"""How the coordinator reaches the partitions: in this process, in forked worker processes, or
on Dask workers (each partition an actor pinned to one worker, its state kept there).

Every transport has one verb, :meth:`call`: run a method of every partition with its own
arguments, all at once, and return the results in partition order.
"""

from __future__ import annotations

import contextlib
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from checker.search.batch import codec_for
from checker.search.native import native_kernel
from checker.search.native_shared import MAX_ROUND, SharedRecent
from checker.search.outbox import Mailboxes
from checker.search.partition import RECENT_LIMIT, Partition
from spec.model import Model, ModelError


class WorkerFailed(Exception):
    """A partition raised; the caller reruns in one process, which reports the failure well."""


class WorkerDied(ModelError):
    """A worker process ended abruptly: no rerun (it could end this process too)."""


class InProcess:
    """The partitions live in this process (one partition: no copying, no pickling)."""

    def __init__(self, make: Callable[[int], Partition], parts: int) -> None:
        self.partitions = [make(i) for i in range(parts)]

    def call(self, method: str, args: Sequence[tuple]) -> list[Any]:
        return [getattr(p, method)(*a) for p, a in zip(self.partitions, args, strict=True)]

    def close(self) -> None:
        pass


def _serve(
    make: Callable[[int], Partition], index: int, conn, theirs: list, mail: Mailboxes
) -> None:
    """A worker process: build partition ``index``, then run what the coordinator asks."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    for end in theirs:  # the coordinator's ends, inherited: closed, so its death reads as EOF
        end.close()
    try:
        partition = make(index)
    except BaseException as exc:  # noqa: BLE001 - reported, then this process ends
        conn.send(("error", f"{type(exc).__name__}: {exc}"))
        return
    conn.send(("ok", None))
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        method, args = request
        try:
            result = getattr(partition, method)(*mail.fetch(args))
            conn.send(("ok", mail.post(index, result)))
        except BaseException as exc:  # noqa: BLE001 - even SystemExit: the coordinator decides
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class Forked:
    """Each partition in a worker process of its own, forked from this one (so it inherits
    the compiled kernel), reached through a pipe."""

    def __init__(self, make: Callable[[int], Partition], parts: int) -> None:
        ctx = multiprocessing.get_context("fork")
        self.conns, self.procs = [], []
        self.mail = Mailboxes(parts)
        for i in range(parts):
            ours, theirs = ctx.Pipe()
            proc = ctx.Process(
                target=_serve, args=(make, i, theirs, [*self.conns, ours], self.mail),
                daemon=True,
            )  # fmt: skip
            proc.start()
            theirs.close()
            self.conns.append(ours)
            self.procs.append(proc)
        self._gather()

    def call(self, method: str, args: Sequence[tuple]) -> list[Any]:
        for conn, a in zip(self.conns, args, strict=True):
            try:
                conn.send((method, a))
            except (BrokenPipeError, OSError):
                raise self._died() from None
        return self._gather()

    def _gather(self) -> list[Any]:
        results, failure = [], None
        for conn in self.conns:
            try:
                status, value = conn.recv()
            except (EOFError, OSError):
                raise self._died() from None
            if status == "error" and failure is None:
                failure = value
            results.append(value)
        if failure is not None:
            raise WorkerFailed(failure)
        return results

    def _died(self) -> WorkerDied:
        return WorkerDied(
            "a worker process died while searching (the model crashed it, it called "
            "os._exit, or it was killed); the search has no verdict"
        )

    def close(self) -> None:
        for conn in self.conns:
            with contextlib.suppress(OSError):
                conn.send(None)
        for proc in self.procs:
            proc.join(timeout=2)
            if proc.is_alive():
                proc.terminate()
                proc.join()
        self.mail.close()


class PartitionActor:
    """A partition as a Dask actor: built on its worker from the job's description, so the
    model, its kernel and its states never cross the network whole."""

    def __init__(self, job: tuple, index: int, parts: int, folder: str, memory_limit) -> None:
        from checker.protocols.registry import resolve
        from checker.search.kernels import make_kernel

        spec, params, symmetric, only, generic, every = job
        model = resolve(spec).build(**dict(params))
        kernel = make_kernel(model, symmetric, generic, only)
        make = partition_factory(model, kernel, symmetric, parts, Path(folder), memory_limit, only)
        self.partition = make(index)

    def call(self, method: str, args: tuple) -> Any:
        return getattr(self.partition, method)(*args)


class OnDask:
    """Each partition an actor on a Dask worker, partition i pinned to worker i % workers."""

    def __init__(self, client, job: tuple, parts: int, folder: Path, memory_limit) -> None:
        self.client = client
        workers = sorted(client.scheduler_info()["workers"])
        if not workers:
            raise ConnectionError("the Dask cluster has no workers")
        futures = [
            client.submit(
                PartitionActor,
                job,
                i,
                parts,
                str(folder),
                memory_limit,
                workers=[workers[i % len(workers)]],
                actor=True,
                pure=False,
            )  # fmt: skip
            for i in range(parts)
        ]
        try:
            self.actors = [f.result() for f in futures]
        except Exception as exc:  # noqa: BLE001 - the actor's constructor failed on its worker
            raise WorkerFailed(f"{type(exc).__name__}: {exc}") from None

    def call(self, method: str, args: Sequence[tuple]) -> list[Any]:
        futures = [actor.call(method, a) for actor, a in zip(self.actors, args, strict=True)]
        try:
            return [f.result() for f in futures]
        except Exception as exc:  # noqa: BLE001 - any failure on a worker
            raise WorkerFailed(f"{type(exc).__name__}: {exc}") from None

    def close(self) -> None:
        self.actors = []


@contextlib.contextmanager
def dask_client(scheduler: str, workers: int) -> Iterator[Any]:
    """A Dask client: of a new local cluster (``"local"``, ``workers`` processes) or of the
    cluster at ``scheduler``."""
    from distributed import Client

    with contextlib.ExitStack() as stack:
        local = scheduler == "local"
        address = stack.enter_context(local_dask(workers)) if local else scheduler
        try:
            client = stack.enter_context(Client(address, timeout="30s"))
            client.wait_for_workers(workers if local else 1, timeout=60)
        except (OSError, TimeoutError, ValueError) as exc:
            raise ConnectionError(f"cannot reach the Dask scheduler at {address}: {exc}") from None
        yield client


@contextlib.contextmanager
def local_dask(workers: int) -> Iterator[str]:
    """A Dask scheduler and ``workers`` worker processes on 127.0.0.1, as `dask scheduler` and
    `dask worker` processes in a session of their own: Ctrl-C at the terminal reaches this
    process alone, which stops them all (and, if this process is killed outright, they stop by
    themselves within 60 s of losing it). Yields the scheduler's address."""
    with tempfile.TemporaryDirectory(prefix="electkit-dask-") as where:
        info = Path(where) / "scheduler.json"
        dask = [sys.executable, "-m", "dask"]
        quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
        procs = [
            subprocess.Popen(
                [
                    *dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                    "--idle-timeout", "60s", "--scheduler-file", str(info),
                ],
                start_new_session=True, **quiet,
            )
        ]  # fmt: skip
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
                        *dask, "worker", address, "--nworkers", str(workers), "--nthreads", "1",
                        "--host", "127.0.0.1", "--no-dashboard", "--death-timeout", "60",
                    ],
                    start_new_session=True, **quiet,
                )
            )  # fmt: skip
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


@dataclass
class Options:
    """How to run a partitioned search (the options of `electkit check` that choose it)."""

    workers: int = 1
    scheduler: str | None = None  # "local", or a Dask scheduler's address
    checkpoint: Path | None = None  # keep the run here (else a temporary folder)
    resume: bool = False
    memory_limit: int | None = None  # bytes of visited set in memory, over all partitions
    max_depth: int | None = None
    keep_going: bool = False  # `--continue`: every property's first violation
    round_size: int = 50_000  # parents expanded per round (a checkpoint a round)
    stats: Path | None = None  # JSON lines of progress
    spec: str | None = None  # how a Dask worker rebuilds the model


def partition_factory(
    model: Model,
    kernel,
    symmetric: bool,
    parts: int,
    folder: Path,
    memory_limit: int | None,
    only: frozenset[str] | None,
    forked: bool = False,
    round_size: int = 0,
) -> Callable[[int], Partition]:
    """``make(i)``: partition ``i`` of ``parts``, keeping its files under ``folder``/part-i.
    ``forked``: each will run in a process forked from this one after this call, so they
    share one sent-once table (native_shared.py) where the native kernel runs."""
    from checker.search.explore import first_violated  # explore imports this module

    def named(state) -> str | None:
        return first_violated(model, kernel.decode(state), only)

    shared = None
    if forked and parts > 1 and round_size <= MAX_ROUND:
        native = native_kernel(kernel, codec_for(kernel).width, symmetric)
        if native is not None:
            shared = SharedRecent(native.words, parts, limit=RECENT_LIMIT)

    def make(i: int) -> Partition:
        limit = None if memory_limit is None else max(1, memory_limit // parts)
        canon = kernel.canonical if symmetric else None
        return Partition(kernel, canon, i, parts, folder / f"part-{i}", limit, named, shared)

    return make


@contextlib.contextmanager
def open_transport(
    model: Model, kernel, symmetric: bool, properties, opts: Options, folder: Path, job: tuple
) -> Iterator[InProcess | Forked | OnDask]:
    """The transport the options ask for, its partitions built; closed on the way out."""
    with contextlib.ExitStack() as stack:
        if opts.scheduler is not None:
            client = stack.enter_context(dask_client(opts.scheduler, opts.workers))
            transport = OnDask(client, job, opts.workers, folder, opts.memory_limit)
        else:
            forked = opts.workers > 1
            make = partition_factory(
                model, kernel, symmetric, opts.workers, folder, opts.memory_limit, properties,
                forked, opts.round_size,
            )  # fmt: skip
            transport = (InProcess if opts.workers == 1 else Forked)(make, opts.workers)
        stack.callback(transport.close)
        yield transport
