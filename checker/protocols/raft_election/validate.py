"""How impl/server.py's event logs map to raft_election (spec/raft_election.py).

=====================  ==========================================================
log event              model action
=====================  ==========================================================
``start``              ``Restart(s)``: the process (re)started from its vote file
``timeout``            ``Timeout(s)``
``heartbeat``          ``Heartbeat(s)``
``deliver`` of ``m``   ``Receive(m)`` (built into every actor model)
``persist``, ``send``  no action: checked by the engine (persist before send)
=====================  ==========================================================

A logged ``state`` ``{"term", "voted_for", "role", "votes", ...}`` is the model's ``Server``
(the ``leader`` hint is not in the model); a logged message ``{"type", "term", "src", "dst"
[, "granted"]}`` is the model's ``Message``. The durable part is ``(term, voted_for)``.
Terms are unbounded in a real run: the model is built with ``max_term`` one above the
largest term the logs show, which lets every logged timeout happen.

>>> mapping = RaftLogMapping()
>>> mapping.local({"term": 2, "voted_for": 1, "role": "leader", "votes": [1, 3], "leader": 1})
Server(term=2, voted_for=1, role='leader', votes=frozenset({1, 3}))
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from checker.errors import ElectkitError
from impl.chaos import ChaosConfig, ChaosRun
from impl.chaos import run_chaos as _run_chaos
from impl.errors import ImplError
from impl.eventlog import read_event_log
from spec.raft_election import KINDS, ROLES, VOTE, Message, RaftElection, Server

Durable = tuple[int, int | None]
"""What a server must have on disk before a message leaves it: ``(term, voted_for)``."""


def _int(value: Any, what: str, minimum: int) -> int:
    if type(value) is not int or value < minimum:
        raise ValueError(f"{what} must be an int >= {minimum}, got {value!r}")
    return value


def _vote(value: Any) -> int | None:
    return None if value is None else _int(value, "voted_for", 1)


class RaftLogMapping:
    """The :class:`checker.conformance.validate.LogMapping` of raft_election."""

    def __init__(self) -> None:
        self._messages: dict[tuple, Message] = {}

    events: Mapping[str, str] = {"start": "Restart", "timeout": "Timeout", "heartbeat": "Heartbeat"}

    def model(self, servers: int, records: Sequence[Mapping[str, Any]]) -> RaftElection:
        """RaftElection over ``servers``, max_term one above the largest term in ``records``
        (so that a report of what the model allowed never leaves out a Timeout for the
        bound's sake)."""
        top = 0
        for record in records:
            term = record["state"]["term"]
            if type(term) is int and term > top:
                top = term
        return RaftElection(servers=servers, max_term=top + 1)

    def local(self, state: Any) -> Server:
        """A logged state as the model's Server."""
        role = state["role"]
        if role not in ROLES:
            raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
        return Server(
            _int(state["term"], "term", 0),
            _vote(state["voted_for"]),
            role,
            frozenset(_int(v, "votes", 1) for v in state["votes"]),
        )

    def fits(self, state: Any, srv: Server) -> bool:
        """Whether a logged state is ``srv`` (no Server is built: this runs per event)."""
        votes = state["votes"]
        return (
            state["term"] == srv.term
            and state["voted_for"] == srv.voted_for
            and state["role"] == srv.role
            and len(votes) == len(srv.votes)
            and srv.votes.issuperset(votes)
        )

    def message(self, msg: Any) -> Message:
        """A logged message as the model's Message (each distinct one built once)."""
        kind, term, src, dst = msg["type"], msg["term"], msg["src"], msg["dst"]
        granted = msg["granted"] if kind == VOTE else None
        key = (kind, term, src, dst, granted)
        known = self._messages.get(key)
        if known is not None and type(term) is int:
            return known
        # Checked inline: this runs for every send and delivery.
        if (
            kind not in KINDS
            or type(term) is not int
            or type(src) is not int
            or type(dst) is not int
            or term < 0
            or src < 1
            or dst < 1
            or (kind == VOTE and type(granted) is not bool)
        ):
            raise ValueError(f"not a message: {dict(msg)}")
        m = self._messages[key] = Message(kind, term, src, dst, granted)
        return m

    def durable(self, local: Server) -> Durable:
        """The durable part of a Server."""
        return (local.term, local.voted_for)

    def durable_from_log(self, durable: Any) -> Durable:
        """A logged ``durable`` field."""
        return (_int(durable["term"], "term", 0), _vote(durable["voted_for"]))


def log_mapping() -> RaftLogMapping:
    """A fresh mapping (it caches the messages it has built)."""
    return RaftLogMapping()


def run_chaos(directory: str | Path, **options: Any) -> ChaosRun:
    """A chaos run of impl/'s cluster (impl/chaos.py) in ``directory``; bad options or a
    directory that cannot be used raise ElectkitError (one line, exit 2)."""
    try:
        config = ChaosConfig(**options)
        return _run_chaos(config, directory)
    except ImplError as exc:
        raise ElectkitError(str(exc)) from None
    except OSError as exc:
        raise ElectkitError(
            f"{directory}: cannot run a cluster there ({exc.strerror or exc})"
        ) from None


def judge_liveness(run: ChaosRun) -> tuple[bool, str, dict[str, Any]]:
    """The run's liveness figures against the bounds of its timeouts (liveness.py):
    (ok, one line of figures and problems, JSON figures)."""
    from checker.protocols.raft_election.liveness import measure

    logs = {}
    for node, path in run.event_logs().items():
        try:
            logs[node] = read_event_log(path) if path.exists() else []
        except ImplError as exc:
            raise ElectkitError(str(exc)) from None
    config = run.config or ChaosConfig()
    low, high = config.election_timeout_ms
    figures = measure(logs, run.timeline, run.nodes, (low / 1000, high / 1000))
    problems = figures.judge()
    if run.undelivered:
        problems.append(
            f"fault injection failed: nodes {sorted(run.undelivered)} never took their side of "
            "a partition (POST /admin/partition unanswered for 5 s while they ran)")
    text = figures.line() + "".join(f"\nliveness FAILED: {p}" for p in problems)
    return not problems, text, figures.to_json()


def run_validation_stage(
    seconds: float = 10.0, seed: int = 0, nodes: int = 5, directory: str | Path | None = None
) -> tuple[bool, str]:
    """A short chaos run, then validation: the `electkit verify` stage. (ok, summary)."""
    from checker.cli.chaos import chaos_and_validate

    with tempfile.TemporaryDirectory(prefix="electkit-chaos-") as tmp:
        where = Path(directory) if directory is not None else Path(tmp)
        ok, text, _ = chaos_and_validate(sys.modules[__name__], where, nodes, seconds, seed)
    return ok, text
