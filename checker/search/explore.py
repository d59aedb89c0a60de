"""Exhaustive breadth-first search: every reachable state, or the shortest counterexample.

The loop is TLC's: take a state off the queue, generate its successors, canonicalize (under
symmetry), skip what was seen, check the properties before a state is queued, keep a parent
link. Because the search goes level by level and checks each state when it is first seen, the
first violation found is at the least depth: its path is a shortest counterexample. The path
is rebuilt by re-running the readable model along the parent links, so a counterexample found
under symmetry is still a concrete trace of real steps.

>>> from spec.model import Model, Property, Step
>>> class Counter(Model):
...     name = "counter"
...     def init_states(self): return [0]
...     def steps(self, n): return iter([Step("Inc", {}, n + 1)] if n < 3 else [])
...     def properties(self): return [Property("Small", "always", lambda n: n < 3)]
...     def to_json(self, n): return {"n": n}
...     def from_json(self, value): return value["n"]
>>> result = explore(Counter())
>>> result.verdict, result.property, [step.label() for step in result.path]
('violation', 'Small', ['Inc()', 'Inc()', 'Inc()'])
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from checker.search.kernels import check_symmetry, make_kernel, symmetry_applies
from checker.search.state import Coverage, Progress, Result, Search, SearchError, progress_of
from checker.search.visited import visited_for
from spec.model import ActionError, Model, Step

__all__ = ["Progress", "Result", "SearchError", "explore", "first_violated", "concrete_path"]


def explore(
    model: Model,
    symmetry: bool = True,
    *,
    properties: frozenset[str] | None = None,
    generic: bool = False,
    workers: int | None = None,
    scheduler: str | None = None,
    spec: str | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    progress_every: float = 0.5,
    max_depth: int | None = None,
    checkpoint: Path | None = None,
    resume: bool = False,
    memory_limit: int | None = None,
    keep_going: bool = False,
    stats: Path | None = None,
    round_size: int | None = None,
) -> Result:
    """Explore every reachable state of ``model`` breadth first.

    Parameters: ``symmetry`` stores one state per orbit under renaming of server ids, when
    the model declares symmetry (``symmetric = True``; checked on a sample of states first);
    ``properties`` limits the ``always`` properties checked to those names (None: all);
    ``generic`` forces the generic kernel; ``scheduler`` runs the partitions on a Dask cluster
    ("local", or a scheduler address), whose workers rebuild the model from ``spec``
    (default: the model's name) and its parameters; ``on_progress`` is called about every
    ``progress_every`` seconds; ``max_depth`` stops after the states at that depth. Returns a
    :class:`Result`; on the first violated ``always`` property, its shortest counterexample is
    in ``result.path``. Ctrl-C stops the search and returns what was
    explored with verdict ``"interrupted"``.

    Any of ``workers``, ``scheduler``, ``checkpoint``, ``memory_limit``, ``keep_going`` or
    ``stats`` runs the partitioned search instead (levels.py): fingerprints in a compact
    visited set, states on disk, ``workers`` partitions in as many processes (or on Dask), a
    checkpoint every round under ``checkpoint`` (``resume``: carry one on), every property's
    first violation with ``keep_going``, progress as JSON lines in ``stats``. Its counts, depth
    and counterexample are the in-memory search's, whatever the number of workers.
    """
    partitioned = (
        workers is not None
        or scheduler is not None
        or checkpoint is not None
        or memory_limit is not None
        or keep_going
        or stats is not None
        or round_size is not None
    )
    symmetry = symmetry_applies(model, symmetry)
    if symmetry:
        check_symmetry(model)
    kernel = make_kernel(model, symmetry, generic, properties)
    if partitioned:
        from checker.search.levels import search_partitioned
        from checker.search.transport import Options, WorkerFailed

        opts = Options(
            workers=workers or 1,
            scheduler=scheduler,
            checkpoint=None if checkpoint is None else Path(checkpoint),
            resume=resume,
            memory_limit=memory_limit,
            max_depth=max_depth,
            keep_going=keep_going,
            stats=None if stats is None else Path(stats),
            spec=spec,
        )
        if round_size is not None:
            opts.round_size = round_size
        if scheduler is None:
            # Built and compiled here, with the kernel, before the search and its workers
            # (forked: they inherit it): the search's seconds are the search's.
            from checker.search.batch import codec_for
            from checker.search.native import native_kernel

            native_kernel(kernel, codec_for(kernel).width, symmetry)
        try:
            return search_partitioned(
                model, kernel, symmetry, properties, opts, on_progress, progress_every
            )
        except WorkerFailed:
            # One process reports a model failure best: with the action, state and path.
            return explore(model, symmetry, properties=properties, generic=generic)
    search = Search(
        model,
        kernel,
        kernel.canonical if symmetry else None,
        None if kernel.exact else kernel.fingerprint,
        time.perf_counter(),
        seen=visited_for(kernel),
    )
    search.add_initial_states()
    interrupted = False
    try:
        _search_sequential(search, on_progress, progress_every, max_depth)
    except KeyboardInterrupt:
        interrupted = True
    except ActionError as exc:
        if search.canon is not None:
            # Report it on concrete states: the search without symmetry meets the same
            # failure at the same depth, and its path and state agree with each other.
            return explore(model, False, properties=properties, generic=generic)
        raise _search_error(search, exc) from None
    return _result(search, symmetry, properties, interrupted)


def _search_sequential(
    search: Search, on_progress, progress_every: float, max_depth: int | None = None
) -> None:
    """The hot loop, in one process."""
    kernel, states, parents, seen = search.kernel, search.states, search.parents, search.seen.keys
    changed, new_states = search.changed, search.new_states
    canon, fingerprint = search.canon, search.fingerprint
    expand, violates = kernel.expand, kernel.violates
    i, level_end = 0, len(states)
    next_report = search.start + progress_every
    bad_index = search.bad_index
    try:
        while i < len(states) and bad_index < 0:
            if i == level_end:
                search.depth += 1
                level_end = len(states)
            if search.depth == max_depth:  # its states are kept, not expanded
                search.bounded = True
                break
            st = states[i]
            for aid, nxt in expand(st):
                changed[aid] += 1
                if canon is not None:
                    nxt = canon(nxt)
                key = fingerprint(nxt) if fingerprint else nxt
                if key in seen:
                    continue
                seen.add(key)
                states.append(nxt)
                parents.append(i)
                new_states[aid] += 1
                if violates(nxt):
                    bad_index = len(states) - 1
                    search.depth += 1
                    break
            i += 1
            if on_progress is not None and not i & 1023:
                now = time.perf_counter()
                if now >= next_report:
                    next_report = now + progress_every
                    on_progress(progress_of(search, len(states) - i, now))
    finally:
        search.bad_index = bad_index
        search.expanded = i


def _result(
    search: Search, symmetry: bool, properties: frozenset[str] | None, interrupted: bool
) -> Result:
    model, kernel = search.model, search.kernel
    fired = search.fired_counts()
    fired += [0] * (len(kernel.action_labels) - len(fired))
    coverage = [
        Coverage(label, fired[aid], search.changed[aid], search.new_states[aid])
        for aid, label in enumerate(kernel.action_labels)
    ]
    sometimes = [p.name for p in model.properties() if p.kind == "sometimes"]
    checked = [
        p.name
        for p in model.properties()
        if p.kind == "sometimes" or properties is None or p.name in properties
    ]
    n = len(search.seen)
    bad_index = search.bad_index
    result = Result(
        bounded=search.bounded,
        verdict="interrupted" if interrupted else ("violation" if bad_index >= 0 else "ok"),
        property=None,
        distinct_states=n,
        generated_states=len(kernel.init) + sum(fired),
        depth=search.depth,
        seconds=time.perf_counter() - search.start,
        symmetry=symmetry,
        exact=search.seen.exact,
        collision_probability=search.seen.collision_probability(),
        coverage=coverage,
        witnessed=[name for name in sometimes if name in kernel.witnessed],
        unwitnessed=[name for name in sometimes if name not in kernel.witnessed],
        checked=checked,
    )
    if bad_index >= 0:
        chain = _chain(search, bad_index)
        result.init_state, result.path = concrete_path(
            model, kernel, chain, search.canon, search.fingerprint
        )
        last = result.path[-1].state if result.path else result.init_state
        result.property = first_violated(model, last, properties)
    elif result.verdict == "ok" and result.unwitnessed and not result.bounded:
        # Every invariant held, but a `sometimes` never did: the pass would be vacuous (the
        # bound is too small for the behaviour the invariants are about). No trace to show.
        result.verdict, result.property, result.vacuous = "violation", result.unwitnessed[0], True
    return result


def _chain(search: Search, index: int) -> list:
    chain = []
    while index >= 0:
        chain.append(search.states[index])
        index = search.parents[index]
    chain.reverse()
    return chain


def concrete_path(model: Model, kernel, chain: list, canon, fingerprint) -> tuple[Any, list[Step]]:
    """Rebuild the steps of a chain of stored states by re-running the readable model."""

    def key(state) -> Any:
        packed = kernel.encode(state)
        if canon is not None:
            packed = canon(packed)
        return fingerprint(packed) if fingerprint else packed

    def stored(entry) -> Any:
        return fingerprint(entry) if fingerprint else entry

    current = next(s for s in model.init_states() if key(s) == stored(chain[0]))
    init, path = current, []
    for target in chain[1:]:
        wanted = stored(target)
        step = next((st for st in model.steps(current) if key(st.state) == wanted), None)
        if step is None:  # pragma: no cover - would mean the kernel disagrees with the model
            raise AssertionError("the compiled kernel and the model disagree on a successor")
        path.append(step)
        current = step.state
    return init, path


def _search_error(search: Search, exc: ActionError) -> SearchError:
    chain = _chain(search, search.expanded)
    try:
        init, path = concrete_path(
            search.model, search.kernel, chain, search.canon, search.fingerprint
        )
        steps = " ; ".join(step.label() for step in path) or "(the initial state)"
        state = path[-1].state if path else init
        where = (
            f"at depth {len(path)}, reached by: {steps}; "
            f"the state: {_one_line(search.model, state)}"
        )
    except Exception:  # noqa: BLE001 - the path is a courtesy; the error itself must get out
        where = f"at depth {len(chain) - 1}"
    return SearchError(f"model action {exc} {where}")


def _one_line(model: Model, state: Any) -> str:
    import json

    try:
        text = json.dumps(model.to_json(state), sort_keys=True)
    except Exception:  # noqa: BLE001
        text = repr(state)
    return text if len(text) <= 400 else text[:397] + "..."


def first_violated(model: Model, state: Any, only: frozenset[str] | None = None) -> str | None:
    """The name of the first ``always`` property that ``state`` violates, or None."""
    for prop in model.properties():
        if prop.kind != "always" or (only is not None and prop.name not in only):
            continue
        if not prop.holds(state):
            return prop.name
    return None
