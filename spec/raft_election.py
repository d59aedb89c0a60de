"""Raft leader election, bounded: docs/model.md as an executable specification.

Each action is one event at one server, written guard first. The network keeps every message
ever sent, so delivery covers loss, duplication and reordering. ``elected`` is the history
variable of the pairs ``(t, s)`` such that ``s`` became leader in term ``t``.

>>> model = RaftElection(servers=1, max_term=1)
>>> step = next(model.steps(model.init_states()[0]))
>>> step.label(), step.state.locals[0].role
('Timeout(s=1)', 'leader')
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from spec.actor import ActorModel, ActorState, Locals, Outcome
from spec.liveness import AlwaysPossibly, Eventually, weak
from spec.model import ModelError, Permutation

FOLLOWER, CANDIDATE, LEADER = "follower", "candidate", "leader"
REQUEST_VOTE, VOTE, HEARTBEAT = "RequestVote", "Vote", "Heartbeat"
ROLES = (FOLLOWER, CANDIDATE, LEADER)
KINDS = (REQUEST_VOTE, VOTE, HEARTBEAT)

VARIANTS: dict[str, str] = {
    "grant_without_check": "grant whenever m.term = term[d], ignoring voted_for",
    "stale_votes": "a candidate counts granted votes whose m.term <= term[d]",
    "volatile_vote": "Restart also clears voted_for (the vote is not durable)",
    "no_step_down": "on a higher term, adopt it and clear voted_for, but keep role and votes",
    "quorum_off_by_one": "quorum iff 2*|Q| >= N",
}


def is_quorum(size, servers, variant: str | None = None):
    """Whether ``size`` servers out of ``servers`` are a quorum: ``2·|Q| > N`` (the
    ``quorum_off_by_one`` variant: ``>=``). The one quorum rule of the model and the proof:
    it takes Python ints or z3 integer terms alike.

    >>> is_quorum(2, 3), is_quorum(1, 2), is_quorum(1, 2, "quorum_off_by_one")
    (True, False, True)
    """
    return 2 * size >= servers if variant == "quorum_off_by_one" else 2 * size > servers


def smallest_quorum(servers: int, variant: str | None = None) -> int:
    """The least number of servers that is a quorum of ``servers`` (at least 1)."""
    return next(q for q in range(1, servers + 1) if is_quorum(q, servers, variant))


def quorum_rule(variant: str | None = None) -> str:
    """The quorum rule, as docs/model.md writes it."""
    return "2*|Q| >= N" if variant == "quorum_off_by_one" else "2*|Q| > N"


class Message(NamedTuple):
    """``RequestVote``, ``Vote`` (with ``granted``) or ``Heartbeat``, from ``src`` to ``dst``."""

    kind: str
    term: int
    src: int
    dst: int
    granted: bool | None = None

    def __str__(self) -> str:
        granted = "" if self.granted is None else f", {'granted' if self.granted else 'denied'}"
        return f"{self.kind}(t{self.term}, {self.src}->{self.dst}{granted})"


class Server(NamedTuple):
    """The local state of one server: ``term`` and ``voted_for`` are durable."""

    term: int = 0
    voted_for: int | None = None
    role: str = FOLLOWER
    votes: frozenset[int] = frozenset()


class RaftElection(ActorModel):
    """docs/model.md: N servers, terms up to T, optional crash-restart and faulty variant."""

    name = "raft_election"
    symmetric = True
    message_type = Message

    def __init__(
        self,
        servers: int = 3,
        max_term: int = 2,
        restart: bool = True,
        variant: str | None = None,
    ) -> None:
        if not isinstance(servers, int) or isinstance(servers, bool) or servers < 1:
            raise ModelError(f"servers must be a whole number >= 1, got {servers!r}")
        if not isinstance(max_term, int) or isinstance(max_term, bool) or max_term < 0:
            raise ModelError(f"max_term must be a whole number >= 0, got {max_term!r}")
        if variant is not None and variant not in VARIANTS:
            raise ModelError(
                f"unknown variant {variant!r} of raft_election; valid: {', '.join(VARIANTS)}"
            )
        self.servers = servers
        self.max_term = max_term
        self.restart_enabled = restart
        self.variant = variant

    @property
    def parameters(self) -> Mapping[str, Any]:
        return {
            "servers": self.servers,
            "max_term": self.max_term,
            "restart": self.restart_enabled,
            "variant": self.variant,
        }

    # --- helpers ------------------------------------------------------------------------
    def is_quorum(self, voters: frozenset[int]) -> bool:
        return is_quorum(len(voters), self.servers, self.variant)

    def broadcast(self, kind: str, term: int, s: int) -> frozenset[Message]:
        return frozenset(Message(kind, term, s, d) for d in self.server_ids() if d != s)

    def become_leader_if_quorum(self, s: int, out: Outcome) -> Outcome:
        srv = out.local
        if not self.is_quorum(srv.votes):
            return out
        return Outcome(
            srv._replace(role=LEADER),
            out.sends | self.broadcast(HEARTBEAT, srv.term, s),
            out.history | {(srv.term, s)},
        )

    # --- actions: guard first, then the change ------------------------------------------
    def init_local(self, s: int) -> Server:
        return Server()

    def local_actions(self):
        return (("Timeout", self.timeout), ("Heartbeat", self.heartbeat), ("Restart", self.restart))

    def timeout(self, s: int, srv: Server) -> Outcome | None:
        """The election timer of ``s`` fires: a new term, a vote for itself, RequestVotes."""
        if srv.role == LEADER or srv.term >= self.max_term:
            return None
        term = srv.term + 1
        srv = Server(term, voted_for=s, role=CANDIDATE, votes=frozenset({s}))
        return self.become_leader_if_quorum(s, Outcome(srv, self.broadcast(REQUEST_VOTE, term, s)))

    def heartbeat(self, s: int, srv: Server) -> Outcome | None:
        """The heartbeat timer of a leader fires."""
        if srv.role != LEADER:
            return None
        return Outcome(srv, self.broadcast(HEARTBEAT, srv.term, s))

    def restart(self, s: int, srv: Server) -> Outcome | None:
        """``s`` crashes and recovers from its durable state: term and voted_for."""
        if not self.restart_enabled:
            return None
        voted_for = None if self.variant == "volatile_vote" else srv.voted_for
        return Outcome(Server(srv.term, voted_for, FOLLOWER, frozenset()))

    def receive(self, srv: Server, m: Message) -> Outcome:
        """Deliver ``m`` to ``m.dst``: the term rule first, then the message's own handler."""
        if m.term > srv.term:
            if self.variant == "no_step_down":
                srv = srv._replace(term=m.term, voted_for=None)
            else:
                srv = Server(term=m.term)
        if m.kind == REQUEST_VOTE:
            return self.on_request_vote(srv, m)
        if m.kind == VOTE:
            return self.on_vote(srv, m)
        return self.on_heartbeat(srv, m)

    def on_request_vote(self, srv: Server, m: Message) -> Outcome:
        unvoted = srv.voted_for in (None, m.src) or self.variant == "grant_without_check"
        grant = m.term == srv.term and unvoted
        if grant:
            srv = srv._replace(voted_for=m.src)
        return Outcome(srv, frozenset({Message(VOTE, srv.term, m.dst, m.src, grant)}))

    def on_vote(self, srv: Server, m: Message) -> Outcome:
        current = m.term <= srv.term if self.variant == "stale_votes" else m.term == srv.term
        if not (current and srv.role == CANDIDATE and m.granted):
            return Outcome(srv)
        srv = srv._replace(votes=srv.votes | {m.src})
        return self.become_leader_if_quorum(m.dst, Outcome(srv))

    def on_heartbeat(self, srv: Server, m: Message) -> Outcome:
        if m.term == srv.term and srv.role == CANDIDATE:
            srv = srv._replace(role=FOLLOWER, votes=frozenset())
        return Outcome(srv)

    # --- properties -----------------------------------------------------------------------
    def state_properties(self):
        return (
            ("ElectionSafety", "always", election_safety),
            ("LeaderWasElected", "always", leader_was_elected),
            ("CandidateVotedForSelf", "always", candidate_voted_for_self),
            ("LeaderHasQuorum", "always", self.leader_has_quorum),
            ("FollowerHoldsNoVotes", "always", follower_holds_no_votes),
            ("VotesAreRecorded", "always", votes_are_recorded),
            ("ElectedTermBound", "always", elected_term_bound),
            ("LeaderElected", "sometimes", leader_elected),
        )

    def message_properties(self):
        return (
            ("GrantsAreRecorded", grants_are_recorded),
            ("MessageTermBound", message_term_bound),
        )

    def leader_has_quorum(self, servers: Locals, elected: frozenset) -> bool:
        return all(self.is_quorum(srv.votes) for srv in servers if srv.role == LEADER)

    # --- liveness, checked on the state graph (docs/graph.md) ----------------------------
    def liveness_properties(self):
        def has_leader(state: ActorState) -> bool:
            return leader_elected(state.locals, state.history)

        def fresh_term_left(state: ActorState) -> bool:
            return max(srv.term for srv in state.locals) < self.max_term

        def terms_exhausted(state: ActorState) -> bool:
            return all(srv.term >= self.max_term for srv in state.locals)

        return (
            # From any state where some term <= T is still unused, a leader can be elected.
            AlwaysPossibly("LeaderPossibleWhileTermsRemain", has_leader, fresh_term_left),
            # Fails under every fairness at a bound: the last term's split vote (or a lost
            # vote, or a crashed candidate) is final once terms run out.
            Eventually("EventuallyLeader", has_leader),
            Eventually("EventuallyLeaderFair", has_leader, (weak("Timeout"), weak("Receive"))),
            # Holds with fair timeouts: elections go on until a leader or the last term.
            Eventually(
                "EventuallyLeaderOrTermsExhausted",
                lambda state: has_leader(state) or terms_exhausted(state),
                (weak("Timeout"),),
            ),
        )

    # --- symmetry and the JSON view ---------------------------------------------------------
    def permute_local(self, srv: Server, perm: Permutation) -> Server:
        voted_for = None if srv.voted_for is None else perm[srv.voted_for]
        return Server(srv.term, voted_for, srv.role, frozenset(perm[v] for v in srv.votes))

    def permute_message(self, m: Message, perm: Permutation) -> Message:
        return m._replace(src=perm[m.src], dst=perm[m.dst])

    def permute_history(self, item: tuple[int, int], perm: Permutation) -> tuple[int, int]:
        return (item[0], perm[item[1]])

    def message_key(self, m: Message) -> tuple:
        return (KINDS.index(m.kind), m.term, m.src, m.dst, bool(m.granted))

    def to_json(self, state: ActorState) -> dict[str, Any]:
        def per_server(value) -> dict:
            return {"#map": [[s, value(srv)] for s, srv in enumerate(state.locals, start=1)]}

        return {
            "term": per_server(lambda srv: srv.term),
            "voted_for": per_server(lambda srv: option_to_json(srv.voted_for)),
            "role": per_server(lambda srv: srv.role),
            "votes": per_server(lambda srv: {"#set": sorted(srv.votes)}),
            "net": {"#set": [message_to_json(m) for m in sorted(state.net, key=self.message_key)]},
            "elected": {"#set": [{"#tup": list(pair)} for pair in sorted(state.history)]},
        }

    def from_json(self, value: Mapping[str, Any]) -> ActorState:
        def per_server(name: str) -> list:
            entries = dict((int(k), v) for k, v in value[name]["#map"])
            if sorted(entries) != list(self.server_ids()):
                raise ValueError(f"{name} must map exactly the servers 1..{self.servers}")
            return [entries[s] for s in self.server_ids()]

        locals_ = tuple(
            Server(int(t), option_from_json(v), r, frozenset(int(x) for x in vs["#set"]))
            for t, v, r, vs in zip(
                per_server("term"),
                per_server("voted_for"),
                per_server("role"),
                per_server("votes"),
                strict=True,
            )
        )
        for srv in locals_:
            if srv.role not in ROLES:
                raise ValueError(f"role {srv.role!r} is not one of {', '.join(ROLES)}")
        net = frozenset(message_from_json(m) for m in value["net"]["#set"])
        elected = frozenset(
            (int(t), int(s)) for t, s in (p["#tup"] for p in value["elected"]["#set"])
        )
        return ActorState(locals_, net, elected)

    def message_to_json(self, m: Message) -> dict[str, Any]:
        return message_to_json(m)

    def message_from_json(self, value: Mapping[str, Any]) -> Message:
        return message_from_json(value)


# --- the properties, as plain functions of the servers and `elected` ----------------------
def election_safety(servers: Locals, elected: frozenset) -> bool:
    """No two distinct servers are leaders in the same term, now or ever."""
    leaders = set(elected) | {(srv.term, s) for s, srv in _numbered(servers) if srv.role == LEADER}
    return len({t for t, _ in leaders}) == len(leaders)


def leader_was_elected(servers: Locals, elected: frozenset) -> bool:
    return all((srv.term, s) in elected for s, srv in _numbered(servers) if srv.role == LEADER)


def candidate_voted_for_self(servers: Locals, elected: frozenset) -> bool:
    return all(srv.voted_for == s for s, srv in _numbered(servers) if srv.role != FOLLOWER)


def follower_holds_no_votes(servers: Locals, elected: frozenset) -> bool:
    return all(not srv.votes for srv in servers if srv.role == FOLLOWER)


def votes_are_recorded(servers: Locals, elected: frozenset) -> bool:
    for c, cand in _numbered(servers):
        if cand.role == FOLLOWER:
            continue
        for v in cand.votes:
            voter = servers[v - 1]
            if not (voter.term > cand.term or (voter.term == cand.term and voter.voted_for == c)):
                return False
    return True


def elected_term_bound(servers: Locals, elected: frozenset) -> bool:
    for t, s in elected:
        srv = servers[s - 1]
        if t > srv.term or (t == srv.term and srv.voted_for != s):
            return False
    return True


def leader_elected(servers: Locals, elected: frozenset) -> bool:
    return any(srv.role == LEADER for srv in servers)


def grants_are_recorded(servers: Locals, elected: frozenset, m: Message) -> bool:
    if m.kind != VOTE or not m.granted:
        return True
    voter = servers[m.src - 1]
    return voter.term > m.term or (voter.term == m.term and voter.voted_for == m.dst)


def message_term_bound(servers: Locals, elected: frozenset, m: Message) -> bool:
    return m.term <= servers[m.src - 1].term


def _numbered(servers: Sequence[Server]):
    return enumerate(servers, start=1)


# --- ITF JSON helpers ------------------------------------------------------------------------
def option_to_json(value: int | None) -> dict[str, Any]:
    """None / s as ITF (Quint's Option): ``{"tag": "None", ...}`` / ``{"tag": "Some", ...}``."""
    if value is None:
        return {"tag": "None", "value": {"#tup": []}}
    return {"tag": "Some", "value": value}


def option_from_json(value: Mapping[str, Any]) -> int | None:
    if value["tag"] == "None":
        return None
    if value["tag"] == "Some":
        return int(value["value"])
    raise ValueError(f"an option's tag must be None or Some, got {value['tag']!r}")


def message_to_json(m: Message) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": m.kind, "term": m.term, "src": m.src, "dst": m.dst}
    if m.kind == VOTE:
        out["granted"] = m.granted
    return out


def message_from_json(value: Mapping[str, Any]) -> Message:
    kind = value["kind"]
    if kind not in KINDS:
        raise ValueError(f"message kind {kind!r} is not one of {', '.join(KINDS)}")
    granted = value["granted"] if kind == VOTE else None
    if kind == VOTE and not isinstance(granted, bool):
        raise ValueError("a Vote message needs a boolean 'granted'")
    return Message(kind, int(value["term"]), int(value["src"]), int(value["dst"]), granted)
