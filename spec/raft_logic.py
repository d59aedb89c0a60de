"""Raft leader election (docs/model.md) in first-order logic, for every N and every T.

The encoding follows Ivy and mypyvy: uninterpreted sorts ``Node``, ``Term`` and ``Quorum``;
the state is a set of relations (the current term too, so that no check leaves the decidable
EPR fragment); the network keeps every message forever, as docs/model.md's ``net`` does; quorums
are abstract, tied together only by the quorum-intersection axiom (justified by a separate
cardinality check in checker/prove.py); a ghost function remembers one quorum per elected
term. Each action of docs/model.md is a transition relation over a pre-state and a post-state with
full frame conditions: every relation of the post-state is defined, changed or not.

Quantifiers are built through a :class:`Domain`: :class:`Unbounded` makes real z3 quantifiers
(the proof, all N and T at once); :class:`Finite` expands them over N servers and terms
0..T (bounded model checking, and evaluating the lemmas on a concrete state), where quorums
are real majorities counted with pseudo-boolean constraints.

EPR check (sort dependencies of the Skolem functions and the ghost): ``Term -> Quorum``
(ghost quorum) and ``Quorum x Quorum -> Node`` (intersection) and nothing else, so the graph
is acyclic and z3 always answers. This is why the current term is a relation and why its
totality (every server has a term, a ``Node -> Term`` edge that would close a cycle) is not
stated: a server without a term cannot act in the logic, and every real state has one.

>>> sorted(ACTIONS)[:3]
['Heartbeat', 'ReceiveDenial', 'ReceiveGrant']
>>> HELPERS[0]
'ElectionSafety'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import z3

from spec.raft_election import VARIANTS as RAFT_VARIANTS
from spec.raft_election import smallest_quorum

Node = z3.DeclareSort("Node")
Term = z3.DeclareSort("Term")
Quorum = z3.DeclareSort("Quorum")
Role, (FOLLOWER, CANDIDATE, LEADER) = z3.EnumSort("Role", ["follower", "candidate", "leader"])

# Static symbols: the order on terms, the first term, quorum membership.
le = z3.Function("le", Term, Term, z3.BoolSort())
zero = z3.Const("zero", Term)
member = z3.Function("member", Node, Quorum, z3.BoolSort())

VARIANTS = tuple(RAFT_VARIANTS)  # the model's faulty variants, one table for both

# Message relations, in docs/model.md's words: RequestVote, Vote granted, Vote denied, Heartbeat.
MESSAGES = {
    "request_vote": "RequestVote",
    "grant": "Vote granted",
    "deny": "Vote denied",
    "heartbeat": "Heartbeat",
}


def lt(a: z3.ExprRef, b: z3.ExprRef) -> z3.BoolRef:
    """Strictly earlier term."""
    return z3.And(le(a, b), a != b)


@dataclass(frozen=True)
class State:
    """One copy of the state vocabulary (the pre-state, the post-state, step i of a BMC)."""

    current: z3.FuncDeclRef  # current(n, t): t is n's term (durable)
    role: z3.FuncDeclRef  # role(n) in {follower, candidate, leader} (volatile)
    voted_for: z3.FuncDeclRef  # voted_for(n, m): n voted for m in its term (durable)
    votes: z3.FuncDeclRef  # votes(n, m): m granted n a vote in n's term (volatile)
    request_vote: z3.FuncDeclRef  # (t, src, dst) in net
    grant: z3.FuncDeclRef
    deny: z3.FuncDeclRef
    heartbeat: z3.FuncDeclRef
    elected: z3.FuncDeclRef  # elected(t, s): history variable
    ghost_quorum: z3.FuncDeclRef  # term -> the quorum that elected its leader (ghost)


SIGNATURE: dict[str, tuple] = {
    "current": (Node, Term, z3.BoolSort()),
    "role": (Node, Role),
    "voted_for": (Node, Node, z3.BoolSort()),
    "votes": (Node, Node, z3.BoolSort()),
    "request_vote": (Term, Node, Node, z3.BoolSort()),
    "grant": (Term, Node, Node, z3.BoolSort()),
    "deny": (Term, Node, Node, z3.BoolSort()),
    "heartbeat": (Term, Node, Node, z3.BoolSort()),
    "elected": (Term, Node, z3.BoolSort()),
    "ghost_quorum": (Term, Quorum),
}


def make_state(suffix: str) -> State:
    """A fresh copy of the state symbols, named ``<relation><suffix>``.

    >>> make_state("_0").current.name()
    'current_0'
    """
    return State(**{name: z3.Function(name + suffix, *sig) for name, sig in SIGNATURE.items()})


# --- domains: how quantifiers and quorums are built -------------------------------------------
class Domain:
    """How a formula quantifies over a sort and decides that a set of servers is a quorum."""

    variant: str | None = None

    def forall(self, sorts: Sequence[z3.SortRef], body: Callable[..., z3.BoolRef]) -> z3.BoolRef:
        raise NotImplementedError

    def exists(self, sorts: Sequence[z3.SortRef], body: Callable[..., z3.BoolRef]) -> z3.BoolRef:
        return z3.Not(self.forall(sorts, lambda *xs: z3.Not(body(*xs))))

    def axioms(self) -> list[z3.BoolRef]:
        raise NotImplementedError

    def quorum(
        self, voters: Callable[[z3.ExprRef], z3.BoolRef], q: z3.ExprRef, win: z3.BoolRef
    ) -> z3.BoolRef:
        """Constrain the boolean ``win`` to "``voters`` is a quorum", witnessed by ``q``."""
        raise NotImplementedError

    def param(self, sort: z3.SortRef, const: z3.ExprRef) -> z3.BoolRef:
        """What an action parameter of ``sort`` must satisfy (Finite: be one of the values)."""
        return z3.BoolVal(True)

    def le(self, a: z3.ExprRef, b: z3.ExprRef) -> z3.BoolRef:
        """Term ``a`` is not later than ``b``."""
        return le(a, b)

    def lt(self, a: z3.ExprRef, b: z3.ExprRef) -> z3.BoolRef:
        return z3.And(self.le(a, b), a != b)

    def succ(self, a: z3.ExprRef, b: z3.ExprRef) -> z3.BoolRef:
        """``b`` is the term right after ``a``: later, and nothing in between."""
        lt_ = self.lt
        between = self.forall([Term], lambda x: z3.Not(z3.And(lt_(a, x), lt_(x, b))))
        return z3.And(lt_(a, b), between)

    def make_state(self, suffix: str) -> State:
        """A fresh copy of the state symbols for this domain."""
        return make_state(suffix)


_fresh = 0


def _bound(sort: z3.SortRef) -> z3.ExprRef:
    global _fresh
    _fresh += 1
    return z3.Const(f"{str(sort).lower()}{_fresh}", sort)


class Unbounded(Domain):
    """Every N and every T: real quantifiers, abstract quorums that pairwise intersect."""

    def __init__(self, variant: str | None = None) -> None:
        self.variant = variant

    def forall(self, sorts, body):
        xs = [_bound(s) for s in sorts]
        return z3.ForAll(xs, body(*xs))

    def axioms(self):
        return [
            self.forall([Term], lambda a: le(a, a)),
            self.forall([Term, Term], lambda a, b: z3.Implies(z3.And(le(a, b), le(b, a)), a == b)),
            self.forall(
                [Term, Term, Term],
                lambda a, b, c: z3.Implies(z3.And(le(a, b), le(b, c)), le(a, c)),
            ),
            self.forall([Term, Term], lambda a, b: z3.Or(le(a, b), le(b, a))),
            self.forall([Term], lambda a: le(zero, a)),
            quorum_intersection(self),
        ]

    def quorum(self, voters, q, win):
        def inside(r):
            return self.forall([Node], lambda n: z3.Implies(member(n, r), voters(n)))

        # win <=> q is a quorum inside voters, and q is one whenever any quorum is: the rule is
        # deterministic, as docs/model.md's "if votes is a quorum" is.
        return z3.And(
            win == inside(q),
            z3.Or(inside(q), self.forall([Quorum], lambda r: z3.Not(inside(r)))),
        )


def quorum_intersection(domain: Domain) -> z3.BoolRef:
    """Any two quorums share a server (checker/prove.py justifies it by cardinality)."""
    return domain.forall(
        [Quorum, Quorum],
        lambda a, b: domain.exists([Node], lambda n: z3.And(member(n, a), member(n, b))),
    )


class Finite(Domain):
    """N servers and terms 0..T: quantifiers expanded, quorums counted (majority per variant)."""

    def __init__(self, servers: int, max_term: int, variant: str | None = None) -> None:
        self.variant = variant
        self.servers = servers
        self.max_term = max_term
        self.nodes = [z3.Const(f"n{i}", Node) for i in range(1, servers + 1)]
        self.terms = [z3.Const(f"t{j}", Term) for j in range(max_term + 1)]
        self.values = {Node: self.nodes, Term: self.terms}
        self._index = {
            sort: {v.get_id(): i for i, v in enumerate(vs)} for sort, vs in self.values.items()
        }

    def forall(self, sorts, body):
        combos: list[list[z3.ExprRef]] = [[]]
        for sort in sorts:
            combos = [c + [v] for c in combos for v in self.values[sort]]
        return z3.And([body(*c) for c in combos])

    def axioms(self):
        order = [
            le(a, b) if i <= j else z3.Not(le(a, b))
            for i, a in enumerate(self.terms)
            for j, b in enumerate(self.terms)
        ]
        return [z3.Distinct(*self.nodes), z3.Distinct(*self.terms), zero == self.terms[0], *order]

    def threshold(self) -> int:
        """The least number of servers that is a quorum of N (per variant)."""
        return smallest_quorum(self.servers, self.variant)

    def quorum(self, voters, q, win):
        count = z3.Sum([z3.If(voters(n), 1, 0) for n in self.nodes])
        return win == (count >= self.threshold())

    def param(self, sort, const):
        values = self.values.get(sort)
        return z3.BoolVal(True) if values is None else z3.Or([const == v for v in values])

    def options(self, sort: z3.SortRef, value: z3.ExprRef) -> list[tuple[z3.BoolRef | None, int]]:
        """Which index ``value`` has: itself when it is a domain constant, else every index
        under the condition that it equals that constant."""
        values = self.values[sort]
        known = self._index.get(sort, {}).get(value.get_id())
        if known is not None:
            return [(None, known)]
        return [(value == v, i) for i, v in enumerate(values)]

    def le(self, a, b):
        pairs = [
            _conj(ca, cb)
            for ca, i in self.options(Term, a)
            for cb, j in self.options(Term, b)
            if i <= j
        ]
        return z3.Or(pairs) if pairs else z3.BoolVal(False)

    def make_state(self, suffix):
        # Propositional tables instead of uninterpreted functions: much faster for z3.
        return State(
            **{
                name: _Table(self, name + suffix, sig[:-1], sig[-1])
                for name, sig in SIGNATURE.items()
                if name != "ghost_quorum"
            },
            ghost_quorum=None,
        )


def _conj(*conds: z3.BoolRef | None) -> z3.BoolRef:
    real = [c for c in conds if c is not None]
    return z3.And(real) if real else z3.BoolVal(True)


class _Table:
    """A relation (or the role function) of a finite state: one z3 variable per argument
    tuple; applied to symbolic arguments it expands into a case split."""

    def __init__(self, d: Finite, name: str, sorts: Sequence[z3.SortRef], result) -> None:
        self.d, self.name, self.sorts, self.result = d, name, sorts, result
        self.cells: dict[tuple[int, ...], z3.ExprRef] = {}
        ranges: list[tuple[int, ...]] = [()]
        for sort in sorts:
            ranges = [r + (i,) for r in ranges for i in range(len(d.values[sort]))]
        for idx in ranges:
            label = f"{name}[{','.join(map(str, idx))}]"
            self.cells[idx] = z3.Const(label, result)

    def __call__(self, *args: z3.ExprRef) -> z3.ExprRef:
        combos: list[tuple[list, tuple[int, ...]]] = [([], ())]
        for sort, arg in zip(self.sorts, args, strict=True):
            combos = [
                (c + [cond], idx + (i,))
                for c, idx in combos
                for cond, i in self.d.options(sort, arg)
            ]
        if len(combos) == 1:
            return self.cells[combos[0][1]]
        if self.result == z3.BoolSort():
            return z3.Or([z3.And(_conj(*c), self.cells[idx]) for c, idx in combos])
        out = self.cells[combos[-1][1]]
        for c, idx in reversed(combos[:-1]):
            out = z3.If(_conj(*c), self.cells[idx], out)
        return out


# --- initial states -----------------------------------------------------------------------------
def initial(d: Domain, s: State) -> z3.BoolRef:
    """Every server a follower in term 0, no vote, no message, nobody elected."""
    return z3.And(
        d.forall([Node, Term], lambda n, t: s.current(n, t) == (t == zero)),
        d.forall([Node], lambda n: s.role(n) == FOLLOWER),
        d.forall([Node, Node], lambda n, m: z3.Not(s.voted_for(n, m))),
        d.forall([Node, Node], lambda n, m: z3.Not(s.votes(n, m))),
        *[
            d.forall([Term, Node, Node], lambda t, a, b, r=rel: z3.Not(getattr(s, r)(t, a, b)))
            for rel in MESSAGES
        ],
        d.forall([Term, Node], lambda t, n: z3.Not(s.elected(t, n))),
    )


# --- transitions ------------------------------------------------------------------------------
class Local(NamedTuple):
    """The new local state of the one server an action changes."""

    term: z3.ExprRef
    role: z3.ExprRef
    voted_for: Callable[[z3.ExprRef], z3.BoolRef]
    votes: Callable[[z3.ExprRef], z3.BoolRef]


class Send(NamedTuple):
    """Messages ``relation(term, src, b)`` for every ``b`` with ``to(b)``, added when ``when``."""

    relation: str
    when: z3.BoolRef
    term: z3.ExprRef
    src: z3.ExprRef
    to: Callable[[z3.ExprRef], z3.BoolRef]


class Elect(NamedTuple):
    """``become_leader``: when ``when``, add ``(term, s)`` to elected, ghost quorum := ``q``."""

    when: z3.BoolRef
    term: z3.ExprRef
    s: z3.ExprRef
    q: z3.ExprRef


def unchanged(pre: State, n: z3.ExprRef, term: z3.ExprRef) -> Local:
    """``n``'s local state as it is, given its current term."""
    return Local(term, pre.role(n), lambda x: pre.voted_for(n, x), lambda x: pre.votes(n, x))


def transition(
    d: Domain,
    pre: State,
    post: State,
    at: z3.ExprRef,
    local: Local,
    sends: Sequence[Send] = (),
    elect: Elect | None = None,
) -> z3.BoolRef:
    """The post-state, relation by relation: server ``at`` takes ``local``, the rest is framed."""
    out = [
        d.forall(
            [Node, Term],
            lambda n, t: post.current(n, t) == z3.If(n == at, t == local.term, pre.current(n, t)),
        ),
        d.forall([Node], lambda n: post.role(n) == z3.If(n == at, local.role, pre.role(n))),
        d.forall(
            [Node, Node],
            lambda n, m: (
                post.voted_for(n, m) == z3.If(n == at, local.voted_for(m), pre.voted_for(n, m))
            ),
        ),
        d.forall(
            [Node, Node],
            lambda n, m: post.votes(n, m) == z3.If(n == at, local.votes(m), pre.votes(n, m)),
        ),
    ]
    heartbeats = list(sends)
    if elect is not None:  # become_leader broadcasts Heartbeat
        e = elect
        heartbeats.append(Send("heartbeat", e.when, e.term, e.s, lambda b: b != e.s))
    for rel in MESSAGES:
        mine = [x for x in heartbeats if x.relation == rel]

        def body(t, a, b, rel=rel, mine=mine):
            added = [z3.And(x.when, t == x.term, a == x.src, x.to(b)) for x in mine]
            return getattr(post, rel)(t, a, b) == z3.Or(getattr(pre, rel)(t, a, b), *added)

        out.append(d.forall([Term, Node, Node], body))
    if elect is None:
        out.append(d.forall([Term, Node], lambda t, n: post.elected(t, n) == pre.elected(t, n)))
        if isinstance(d, Unbounded):
            out.append(d.forall([Term], lambda t: post.ghost_quorum(t) == pre.ghost_quorum(t)))
    else:
        out.append(
            d.forall(
                [Term, Node],
                lambda t, n: (
                    post.elected(t, n)
                    == z3.Or(pre.elected(t, n), z3.And(e.when, t == e.term, n == e.s))
                ),
            )
        )
        if isinstance(d, Unbounded):  # the ghost has no meaning in a finite, counted domain
            out.append(
                d.forall(
                    [Term],
                    lambda t: (
                        post.ghost_quorum(t)
                        == z3.If(z3.And(e.when, t == e.term), e.q, pre.ghost_quorum(t))
                    ),
                )
            )
    return z3.And(out)


def adopt(d: Domain, pre: State, n: z3.ExprRef, tn: z3.ExprRef, tm: z3.ExprRef) -> Local:
    """The term rule: on a message of a higher term ``tm``, ``n`` adopts it and steps down."""
    higher = d.lt(tn, tm)
    term = z3.If(higher, tm, tn)
    voted_for = lambda x: z3.And(z3.Not(higher), pre.voted_for(n, x))  # noqa: E731
    if d.variant == "no_step_down":  # the faulty variant keeps its role and its votes
        return Local(term, pre.role(n), voted_for, lambda x: pre.votes(n, x))
    return Local(
        term,
        z3.If(higher, FOLLOWER, pre.role(n)),
        voted_for,
        lambda x: z3.And(z3.Not(higher), pre.votes(n, x)),
    )


@dataclass(frozen=True)
class Action:
    """A named transition relation and its parameters (existential in every check)."""

    name: str
    params: tuple[tuple[str, z3.SortRef], ...]
    relation: Callable[[Domain, State, State, dict[str, z3.ExprRef]], z3.BoolRef]
    doc: str

    def instantiate(
        self, d: Domain, pre: State, post: State, tag: str = ""
    ) -> tuple[z3.BoolRef, dict[str, z3.ExprRef]]:
        """The relation with fresh parameter constants named ``<action>.<param><tag>``."""
        p = {name: z3.Const(f"{self.name}.{name}{tag}", sort) for name, sort in self.params}
        guard = [d.param(sort, p[name]) for name, sort in self.params]
        return z3.And(*guard, self.relation(d, pre, post, p)), p


B = z3.BoolSort()


def _timeout(d, pre, post, p):
    s, ts, t, q, win = p["s"], p["ts"], p["t"], p["q"], p["win"]
    local = Local(t, z3.If(win, LEADER, CANDIDATE), lambda x: x == s, lambda x: x == s)
    return z3.And(
        pre.role(s) != LEADER,
        pre.current(s, ts),
        d.succ(ts, t),
        d.quorum(lambda x: x == s, q, win),
        transition(
            d,
            pre,
            post,
            s,
            local,
            sends=[Send("request_vote", z3.BoolVal(True), t, s, lambda b: b != s)],
            elect=Elect(win, t, s, q),
        ),
    )


def _heartbeat(d, pre, post, p):
    s, ts = p["s"], p["ts"]
    return z3.And(
        pre.role(s) == LEADER,
        pre.current(s, ts),
        transition(
            d,
            pre,
            post,
            s,
            unchanged(pre, s, ts),
            sends=[Send("heartbeat", z3.BoolVal(True), ts, s, lambda b: b != s)],
        ),
    )


def _restart(d, pre, post, p):
    s, ts = p["s"], p["ts"]
    if d.variant == "volatile_vote":  # the faulty variant forgets its vote
        voted_for = lambda x: z3.BoolVal(False)  # noqa: E731
    else:
        voted_for = lambda x: pre.voted_for(s, x)  # noqa: E731
    local = Local(ts, FOLLOWER, voted_for, lambda x: z3.BoolVal(False))
    return z3.And(pre.current(s, ts), transition(d, pre, post, s, local))


def _receive_request_vote(d, pre, post, p):
    t, src, dst, td, grant = p["t"], p["src"], p["dst"], p["td"], p["granted"]
    a = adopt(d, pre, dst, td, t)
    if d.variant == "grant_without_check":  # the faulty variant ignores an earlier vote
        free = z3.BoolVal(True)
    else:
        free = d.forall([Node], lambda x: z3.Implies(a.voted_for(x), x == src))
    local = a._replace(voted_for=lambda x: z3.If(grant, x == src, a.voted_for(x)))
    return z3.And(
        pre.request_vote(t, src, dst),
        pre.current(dst, td),
        grant == z3.And(t == a.term, free),
        transition(
            d,
            pre,
            post,
            dst,
            local,
            sends=[
                Send("grant", grant, a.term, dst, lambda b: b == src),
                Send("deny", z3.Not(grant), a.term, dst, lambda b: b == src),
            ],
        ),
    )


def _receive_grant(d, pre, post, p):
    t, src, dst, td, q, win = p["t"], p["src"], p["dst"], p["td"], p["q"], p["win"]
    quorum = p["quorum"]
    a = adopt(d, pre, dst, td, t)
    same = d.le(t, a.term) if d.variant == "stale_votes" else t == a.term
    counted = z3.And(same, a.role == CANDIDATE)
    votes = lambda x: z3.Or(a.votes(x), z3.And(counted, x == src))  # noqa: E731
    local = a._replace(role=z3.If(win, LEADER, a.role), votes=votes)
    return z3.And(
        pre.grant(t, src, dst),
        pre.current(dst, td),
        d.quorum(votes, q, quorum),
        win == z3.And(counted, quorum),
        transition(d, pre, post, dst, local, elect=Elect(win, a.term, dst, q)),
    )


def _receive_deny(d, pre, post, p):
    t, src, dst, td = p["t"], p["src"], p["dst"], p["td"]
    return z3.And(
        pre.deny(t, src, dst),
        pre.current(dst, td),
        transition(d, pre, post, dst, adopt(d, pre, dst, td, t)),
    )


def _receive_heartbeat(d, pre, post, p):
    t, src, dst, td = p["t"], p["src"], p["dst"], p["td"]
    a = adopt(d, pre, dst, td, t)
    down = z3.And(t == a.term, a.role == CANDIDATE)
    local = a._replace(
        role=z3.If(down, FOLLOWER, a.role), votes=lambda x: z3.And(z3.Not(down), a.votes(x))
    )
    return z3.And(
        pre.heartbeat(t, src, dst),
        pre.current(dst, td),
        transition(d, pre, post, dst, local),
    )


_RECEIVE = (("t", Term), ("src", Node), ("dst", Node), ("td", Term))
ACTIONS: dict[str, Action] = {
    a.name: a
    for a in [
        Action(
            "Timeout",
            (("s", Node), ("ts", Term), ("t", Term), ("q", Quorum), ("win", B)),
            _timeout,
            "s's election timer fires: the next term, a vote for itself",
        ),
        Action(
            "Heartbeat",
            (("s", Node), ("ts", Term)),
            _heartbeat,
            "leader s broadcasts Heartbeat in its term",
        ),
        Action(
            "Restart",
            (("s", Node), ("ts", Term)),
            _restart,
            "s crashes and recovers its term and vote",
        ),
        Action(
            "ReceiveRequestVote",
            _RECEIVE + (("granted", B),),
            _receive_request_vote,
            "dst handles RequestVote(t, src): grants if t is its term and its vote is free",
        ),
        Action(
            "ReceiveGrant",
            _RECEIVE + (("q", Quorum), ("quorum", B), ("win", B)),
            _receive_grant,
            "dst counts a granted Vote(t, src); a quorum makes it leader",
        ),
        Action(
            "ReceiveDenial",
            _RECEIVE,
            _receive_deny,
            "dst handles a denied Vote(t, src): only the term rule",
        ),
        Action(
            "ReceiveHeartbeat",
            _RECEIVE,
            _receive_heartbeat,
            "dst handles Heartbeat(t, src): a candidate of that term steps down",
        ),
    ]
}


# --- the invariant ----------------------------------------------------------------------------
def _is_leader_at(s: State, n: z3.ExprRef, t: z3.ExprRef) -> z3.BoolRef:
    return z3.And(s.role(n) == LEADER, s.current(n, t))


def election_safety(d: Domain, s: State) -> z3.BoolRef:
    """No two servers leaders of one term, over elected and the current leaders."""

    def p(t, n):
        return z3.Or(s.elected(t, n), _is_leader_at(s, n, t))

    return d.forall(
        [Term, Node, Node], lambda t, a, b: z3.Implies(z3.And(p(t, a), p(t, b)), a == b)
    )


def leader_was_elected(d: Domain, s: State) -> z3.BoolRef:
    return d.forall([Node, Term], lambda n, t: z3.Implies(_is_leader_at(s, n, t), s.elected(t, n)))


def candidate_voted_for_self(d: Domain, s: State) -> z3.BoolRef:
    return d.forall([Node], lambda n: z3.Implies(s.role(n) != FOLLOWER, s.voted_for(n, n)))


def leader_has_quorum(d: Domain, s: State) -> z3.BoolRef:
    """The leader holds the votes of the ghost quorum of its term."""
    return d.forall(
        [Node, Term, Node],
        lambda n, t, m: z3.Implies(
            z3.And(_is_leader_at(s, n, t), member(m, s.ghost_quorum(t))), s.votes(n, m)
        ),
    )


def follower_holds_no_votes(d: Domain, s: State) -> z3.BoolRef:
    return d.forall(
        [Node, Node], lambda n, m: z3.Implies(s.role(n) == FOLLOWER, z3.Not(s.votes(n, m)))
    )


def votes_are_recorded(d: Domain, s: State) -> z3.BoolRef:
    return d.forall(
        [Node, Term, Node, Term],
        lambda c, tc, v, tv: z3.Implies(
            z3.And(s.role(c) != FOLLOWER, s.current(c, tc), s.votes(c, v), s.current(v, tv)),
            z3.Or(lt(tc, tv), z3.And(tv == tc, s.voted_for(v, c))),
        ),
    )


def grants_are_recorded(d: Domain, s: State) -> z3.BoolRef:
    return d.forall(
        [Term, Node, Node, Term],
        lambda t, v, c, tv: z3.Implies(
            z3.And(s.grant(t, v, c), s.current(v, tv)),
            z3.Or(lt(t, tv), z3.And(tv == t, s.voted_for(v, c))),
        ),
    )


def message_term_bound(d: Domain, s: State) -> z3.BoolRef:
    return z3.And(
        [
            d.forall(
                [Term, Node, Node, Term],
                lambda t, a, b, ta, r=rel: z3.Implies(
                    z3.And(getattr(s, r)(t, a, b), s.current(a, ta)), le(t, ta)
                ),
            )
            for rel in MESSAGES
        ]
    )


def elected_term_bound(d: Domain, s: State) -> z3.BoolRef:
    return d.forall(
        [Term, Node, Term],
        lambda t, n, tn: z3.Implies(
            z3.And(s.elected(t, n), s.current(n, tn)),
            z3.And(le(t, tn), z3.Implies(t == tn, s.voted_for(n, n))),
        ),
    )


def one_term_each(d: Domain, s: State) -> z3.BoolRef:
    """A server has at most one current term (the relation is a partial function)."""
    return d.forall(
        [Node, Term, Term],
        lambda n, a, b: z3.Implies(z3.And(s.current(n, a), s.current(n, b)), a == b),
    )


def one_vote_each(d: Domain, s: State) -> z3.BoolRef:
    """A server has voted for at most one server in its term."""
    return d.forall(
        [Node, Node, Node],
        lambda n, a, b: z3.Implies(z3.And(s.voted_for(n, a), s.voted_for(n, b)), a == b),
    )


def grants_are_unique(d: Domain, s: State) -> z3.BoolRef:
    """No server granted two different servers a vote in one term (the net is its history)."""
    return d.forall(
        [Term, Node, Node, Node],
        lambda t, v, a, b: z3.Implies(z3.And(s.grant(t, v, a), s.grant(t, v, b)), a == b),
    )


def votes_are_granted(d: Domain, s: State) -> z3.BoolRef:
    """Every vote a candidate or leader holds, other than its own, is a grant in the net."""
    return d.forall(
        [Node, Term, Node],
        lambda c, t, v: z3.Implies(
            z3.And(s.role(c) != FOLLOWER, s.current(c, t), s.votes(c, v), v != c),
            s.grant(t, v, c),
        ),
    )


def elected_by_ghost_quorum(d: Domain, s: State) -> z3.BoolRef:
    """Each member of the ghost quorum of an elected term is its leader or granted it a vote."""
    return d.forall(
        [Term, Node, Node],
        lambda t, n, m: z3.Implies(
            z3.And(s.elected(t, n), member(m, s.ghost_quorum(t))),
            z3.Or(m == n, s.grant(t, m, n)),
        ),
    )


def elected_granted_no_other(d: Domain, s: State) -> z3.BoolRef:
    """A server elected in a term granted no other server a vote in that term."""
    return d.forall(
        [Term, Node, Node],
        lambda t, n, m: z3.Implies(z3.And(s.elected(t, n), s.grant(t, n, m)), m == n),
    )


LEMMAS: dict[str, Callable[[Domain, State], z3.BoolRef]] = {
    "ElectionSafety": election_safety,
    "LeaderWasElected": leader_was_elected,
    "CandidateVotedForSelf": candidate_voted_for_self,
    "LeaderHasQuorum": leader_has_quorum,
    "FollowerHoldsNoVotes": follower_holds_no_votes,
    "VotesAreRecorded": votes_are_recorded,
    "GrantsAreRecorded": grants_are_recorded,
    "MessageTermBound": message_term_bound,
    "ElectedTermBound": elected_term_bound,
    "OneTermEach": one_term_each,
    "OneVoteEach": one_vote_each,
    "GrantsAreUnique": grants_are_unique,
    "VotesAreGranted": votes_are_granted,
    "ElectedByGhostQuorum": elected_by_ghost_quorum,
    "ElectedGrantedNoOther": elected_granted_no_other,
}

# The inductive invariant: ElectionSafety and the helpers it needs, each one necessary (a
# test drops each in turn and expects a CTI).
HELPERS: tuple[str, ...] = (
    "ElectionSafety",
    "LeaderWasElected",
    "CandidateVotedForSelf",
    "GrantsAreRecorded",
    "ElectedTermBound",
    "OneVoteEach",
    "GrantsAreUnique",
    "VotesAreGranted",
    "ElectedByGhostQuorum",
    "ElectedGrantedNoOther",
)
# The other lemmas of docs/model.md (and OneTermEach): true and inductive relative to the helpers,
# but ElectionSafety does not need them; proved in a second round with the helpers assumed.
EXTRAS: tuple[str, ...] = tuple(name for name in LEMMAS if name not in HELPERS)
