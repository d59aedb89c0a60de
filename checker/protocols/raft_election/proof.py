"""The unbounded proof of ElectionSafety with z3, over the logic of spec/raft_logic.py.

Four engines share one encoding:

- :func:`prove_invariant` checks ``initial => lemma`` for each lemma and
  ``invariant and action => lemma'`` one (lemma, action) pair at a time, so that a failure
  names both; a failure becomes a counterexample to induction (CTI), read off the z3 model
  and shrunk to the smallest universe (fewest servers, then terms, then quorums).
- :func:`majority_check` justifies the quorum-intersection axiom by cardinality arithmetic
  for every N, and names the smallest N where a variant's quorum rule breaks it.
- :func:`nonvacuity` shows the invariant is not trivially true: a leader is reachable in the
  logic, and every action is enabled in some state that satisfies the invariant.
- :func:`bmc` searches executions symbolically to depth k for two leaders in one term, over
  every cluster size that such a run can involve (see its docstring), and returns the
  shortest one with concrete server ids, ready to be written as a trace.

Over 400 lines: the four engines share one encoding, its solver helpers and its readers of
z3 models; split, they would pass those back and forth.

Known limitation: the logic abstracts the bound ``max_term`` away (it proves all T) and keeps
Restart always enabled; a proof with restart covers the model without it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import z3

from checker.errors import interrupt_pending
from spec import raft_logic as L
from spec.raft_election import is_quorum, quorum_rule, smallest_quorum

# Every check is decidable (EPR), so this only guards against a pathological slowdown.
CHECK_TIMEOUT_MS = 60_000


@dataclass
class Check:
    """One z3 query of the proof and what it answered."""

    kind: str  # "init" | "step" (a helper) | "extra" (a lemma the proof does not need)
    lemma: str
    action: str | None
    verdict: str  # "ok" | "cti" | "unknown"
    seconds: float
    cti: dict[str, Any] | None = None

    def label(self) -> str:
        if self.kind == "init":
            return f"init => {self.lemma}"
        return f"{self.lemma} after {self.action}"

    def to_json(self) -> dict[str, Any]:
        out = {
            "kind": self.kind,
            "lemma": self.lemma,
            "action": self.action,
            "verdict": self.verdict,
            "seconds": round(self.seconds, 4),
        }
        if self.cti is not None:
            out["cti"] = self.cti
        return out


def invariant_names(drop: Iterable[str] = ()) -> tuple[list[str], list[str]]:
    """The helpers (the inductive invariant) and the extra lemmas, minus the dropped ones."""
    dropped = set(drop)
    return (
        [name for name in L.HELPERS if name not in dropped],
        [name for name in L.EXTRAS if name not in dropped],
    )


def _solver() -> z3.Solver:
    solver = z3.Solver()
    # z3 would take the first Ctrl-C for itself (and lose it when the check ends before it
    # looks): left to Python, it becomes KeyboardInterrupt as soon as the check returns.
    solver.set("ctrl_c", False)
    solver.set("timeout", CHECK_TIMEOUT_MS)
    return solver


class ProofIncomplete(Exception):
    """z3 answered unknown (a timeout): nothing may be concluded from that query."""


def solve(solver) -> z3.CheckSatResult:
    """``solver.check()``, with Ctrl-C at once: the check runs in a thread (z3 releases the
    GIL), so this thread takes the signal, interrupts z3 and raises KeyboardInterrupt. (Left
    to z3, its own handler can swallow a Ctrl-C; an interrupted check's ``unknown`` must never
    be read as "no model", or a shorter BMC run would be missed.)"""
    if interrupt_pending():  # a Ctrl-C that a z3 finalizer swallowed
        raise KeyboardInterrupt
    outcome: list = []

    def check() -> None:
        try:
            outcome.append(solver.check())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread
            outcome.append(exc)

    worker = threading.Thread(target=check, daemon=True)
    worker.start()
    try:
        while worker.is_alive():
            worker.join(0.05)
    except KeyboardInterrupt:
        solver.ctx.interrupt()
        worker.join()
        raise
    answer = outcome[0]
    if isinstance(answer, BaseException):
        raise answer
    if answer == z3.unknown and any(
        word in solver.reason_unknown() for word in ("interrupt", "cancel")
    ):
        raise KeyboardInterrupt
    return answer


def _verdict(answer: z3.CheckSatResult) -> str:
    if answer == z3.unsat:
        return "ok"
    return "cti" if answer == z3.sat else "unknown"


def prove_invariant(
    variant: str | None = None,
    drop: Iterable[str] = (),
    shrink: bool = True,
    progress=None,
) -> list[Check]:
    """Initiation and consecution of the invariant, one (lemma, action) pair per query.

    Returns every check with its time; each failed check carries a CTI (shrunk when
    ``shrink``). ``progress``, when given, is called with each check as it completes.
    """
    d = L.Unbounded(variant)
    helpers, extras = invariant_names(drop)
    checks: list[Check] = []
    pre, post = L.make_state(""), L.make_state("'")

    def record(check: Check) -> None:
        checks.append(check)
        if progress is not None:
            progress(check)

    def first_failure() -> bool:
        # only the first failure gets a CTI: shrinking costs more than the checks themselves
        return all(c.verdict == "ok" for c in checks)

    def round_(kind: str, assumed: list[str], goals: list[str]) -> None:
        # initiation: one query per lemma
        solver = _solver()
        solver.add(*d.axioms(), L.initial(d, pre))
        for name in goals:
            goal = L.LEMMAS[name](d, pre)
            record(_query(solver, goal, "init", name, None, pre, None, {}, shrink, first_failure()))
        # consecution: one solver per action (invariant and transition), one query per lemma
        for action in L.ACTIONS.values():
            solver = _solver()
            relation, params = action.instantiate(d, pre, post)
            solver.add(*d.axioms(), *[L.LEMMAS[n](d, pre) for n in assumed], relation)
            for name in goals:
                goal = L.LEMMAS[name](d, post)
                record(
                    _query(
                        solver,
                        goal,
                        kind,
                        name,
                        action.name,
                        pre,
                        post,
                        params,
                        shrink,
                        first_failure(),
                    )
                )

    round_("step", helpers, helpers)
    # the extra lemmas only once the invariant stands, assuming it (and themselves)
    if extras and all(c.verdict == "ok" for c in checks):
        round_("extra", helpers + extras, extras)
    return checks


def _query(
    solver: z3.Solver,
    goal: z3.BoolRef,
    kind: str,
    lemma: str,
    action: str | None,
    pre: L.State,
    post: L.State | None,
    params: dict[str, z3.ExprRef],
    shrink: bool,
    want_cti: bool = True,
) -> Check:
    started = time.perf_counter()
    solver.push()
    solver.add(z3.Not(goal))
    answer = solve(solver)
    seconds = time.perf_counter() - started
    check = Check(kind, lemma, action, _verdict(answer), seconds)
    if answer == z3.sat and want_cti:
        model, universe = shrink_model(solver, pre) if shrink else (solver.model(), None)
        check.cti = read_cti(model, lemma, action, pre, post, params, universe)
    solver.pop()
    return check


# --- CTIs ---------------------------------------------------------------------------------------
def _bound_sort(sort: z3.SortRef, size: int, tag: str) -> tuple[z3.BoolRef, list[z3.ExprRef]]:
    elems = [z3.Const(f"_{tag}{i}", sort) for i in range(size)]
    x = z3.Const(f"_{tag}x", sort)
    return z3.ForAll([x], z3.Or([x == e for e in elems])), elems


def shrink_model(
    solver: z3.Solver, pre: L.State | None = None
) -> tuple[z3.ModelRef, dict[z3.SortRef, list[z3.ExprRef]]]:
    """The model of the smallest universe: fewest servers, then terms, then quorums.

    With ``pre``, the pre-state is then made quiet: every server gets a term when it can,
    and each message, vote and election that the failure does not need is removed, one at
    a time. The bounds stay in the solver: call it inside a push/pop (and read the model
    before the pop: z3 models do not outlive it reliably). Returns the model and, per sort,
    constants naming its elements.
    """
    elems: dict[str, list[z3.ExprRef]] = {}
    for sort, tag in ((L.Node, "n"), (L.Term, "t"), (L.Quorum, "q")):
        universe = solver.model().get_universe(sort)
        upper = len(universe) if universe is not None else 1
        for size in range(1, upper + 1):
            bound, elems[tag] = _bound_sort(sort, size, tag)
            if size == upper or _try(solver, bound):
                solver.add(bound)
                break
        if sort == L.Node and pre is not None:
            # prefer a CTI where every server has a term (the logic does not require it)
            t = z3.Const("_some_term", L.Term)
            total = z3.And(
                *[z3.Exists([t], pre.current(n, t)) for n in elems["n"]],
                L.one_term_each(L.Unbounded(), pre),
            )
            if _try(solver, total):
                solver.add(total)
        solve(solver)
    if pre is not None:
        _quiet(solver, pre, elems["n"], elems["t"])
    solve(solver)
    return solver.model(), {L.Node: elems["n"], L.Term: elems["t"], L.Quorum: elems["q"]}


def _try(solver: z3.Solver, extra: z3.BoolRef) -> bool:
    solver.push()
    solver.add(extra)
    ok = solve(solver) == z3.sat
    solver.pop()
    return ok


def _quiet(solver: z3.Solver, pre: L.State, nodes: list, terms: list) -> None:
    """Remove from the pre-state what the failure does not need (greedy, one atom a time)."""
    atoms = [pre.elected(u, a) for u in terms for a in nodes]
    for rel in ("grant", "request_vote", "deny", "heartbeat"):
        atoms += [getattr(pre, rel)(u, a, b) for u in terms for a in nodes for b in nodes]
    atoms += [pre.votes(a, b) for a in nodes for b in nodes]
    atoms += [pre.voted_for(a, b) for a in nodes for b in nodes]
    solve(solver)
    model = solver.model()
    for atom in atoms:
        # false now: pin it (the current model still fits); true: keep it only if needed
        if not z3.is_true(model.eval(atom, True)):
            solver.add(z3.Not(atom))
        elif _try(solver, z3.Not(atom)):
            solver.add(z3.Not(atom))
            solve(solver)
            model = solver.model()


class Namer:
    """Readable names for the elements of a z3 model: s1.., t<rank>, q1.."""

    def __init__(
        self, model: z3.ModelRef, universe: dict[z3.SortRef, list[z3.ExprRef]] | None = None
    ) -> None:
        self.model = model
        if universe is None:
            universe = {s: list(model.get_universe(s) or []) for s in (L.Node, L.Term, L.Quorum)}
        self.nodes, self.terms = universe[L.Node], universe[L.Term]
        self.quorums = universe[L.Quorum]
        self.by_sort = {L.Node: self.nodes, L.Term: self.terms, L.Quorum: self.quorums}

        def rank(t):
            return sum(z3.is_true(model.eval(L.le(u, t), True)) for u in self.terms) - 1

        self.term_rank = {str(t): rank(t) for t in self.terms}
        self.names: dict[str, str] = {}
        for i, n in enumerate(self.nodes, 1):
            self.names[str(n)] = f"s{i}"
        for t in self.terms:
            self.names[str(t)] = f"t{self.term_rank[str(t)]}"
        for i, q in enumerate(self.quorums, 1):
            self.names[str(q)] = f"q{i}"

    def name(self, value: z3.ExprRef) -> Any:
        if z3.is_bool(value):
            return self.true(value)
        for element in self.by_sort.get(value.sort(), []):
            if self.true(value == element):
                return self.names[str(element)]
        return str(self.model.eval(value, True))

    def true(self, expr: z3.ExprRef) -> bool:
        return z3.is_true(self.model.eval(expr, True))


def read_state(namer: Namer, s: L.State) -> dict[str, Any]:
    """A state of the model as plain data: per server, the net, elected, ghost quorums."""
    nodes, terms = namer.nodes, sorted(namer.terms, key=lambda t: namer.term_rank[str(t)])
    servers = {}
    for n in nodes:
        servers[namer.name(n)] = {
            "term": [namer.name(t) for t in terms if namer.true(s.current(n, t))],
            "role": namer.name(s.role(n)),
            "voted_for": [namer.name(m) for m in nodes if namer.true(s.voted_for(n, m))],
            "votes": [namer.name(m) for m in nodes if namer.true(s.votes(n, m))],
        }
    net = []
    for rel, label in L.MESSAGES.items():
        for t in terms:
            for a in nodes:
                for b in nodes:
                    if namer.true(getattr(s, rel)(t, a, b)):
                        net.append(f"{label}({namer.name(t)}, {namer.name(a)}->{namer.name(b)})")
    elected = [
        [namer.name(t), namer.name(n)] for t in terms for n in nodes if namer.true(s.elected(t, n))
    ]
    ghost = {namer.name(t): namer.name(s.ghost_quorum(t)) for t, _ in elected_terms(namer, s)}
    return {"servers": servers, "net": net, "elected": elected, "ghost_quorum": ghost}


def elected_terms(namer: Namer, s: L.State) -> list[tuple[z3.ExprRef, z3.ExprRef]]:
    return [(t, n) for t in namer.terms for n in namer.nodes if namer.true(s.elected(t, n))]


def read_cti(
    model: z3.ModelRef,
    lemma: str,
    action: str | None,
    pre: L.State,
    post: L.State | None,
    params: dict[str, z3.ExprRef],
    universe: dict[z3.SortRef, list[z3.ExprRef]] | None = None,
) -> dict[str, Any]:
    """The CTI as plain data: universe, quorums, action and arguments, states before/after."""
    namer = Namer(model, universe)
    terms = sorted(namer.terms, key=lambda t: namer.term_rank[str(t)])
    quorums = {
        namer.name(q): [namer.name(n) for n in namer.nodes if namer.true(L.member(n, q))]
        for q in namer.quorums
    }
    out: dict[str, Any] = {
        "lemma": lemma,
        "action": action,
        "servers": [namer.name(n) for n in namer.nodes],
        "terms": [namer.name(t) for t in terms],
        "quorums": quorums,
        "arguments": {k: namer.name(v) for k, v in params.items()},
        "before": read_state(namer, pre),
    }
    if post is not None:
        out["after"] = read_state(namer, post)
    return out


def _server_line(name: str, srv: dict[str, Any]) -> str:
    term = ",".join(srv["term"]) or "-"
    voted = ",".join(srv["voted_for"]) or "none"
    votes = "{" + ",".join(srv["votes"]) + "}"
    return f"{name}: term {term}, {srv['role']}, voted_for {voted}, votes {votes}"


def render_cti(cti: dict[str, Any]) -> str:
    """A CTI as text a person can read: the universe, the action, what changed."""
    lines = []
    where = f"after {cti['action']}" if cti["action"] else "in an initial state"
    lines.append(f"CTI: {cti['lemma']} fails {where}")
    quorums = "  ".join(f"{q}={{{','.join(m)}}}" for q, m in cti["quorums"].items())
    lines.append(f"  servers {', '.join(cti['servers'])}; terms {' < '.join(cti['terms'])}")
    lines.append(f"  quorums {quorums or '(none)'}")
    if cti["action"]:
        args = ", ".join(f"{k}={v}" for k, v in cti["arguments"].items())
        lines.append(f"  action  {cti['action']}({args})")
    before = cti["before"]
    lines.append("  before:")
    for name, srv in before["servers"].items():
        lines.append(f"    {_server_line(name, srv)}")
    lines.append(f"    net: {', '.join(before['net']) or '(empty)'}")
    elected = ", ".join(f"({t},{s})" for t, s in before["elected"])
    lines.append(f"    elected: {elected or '(none)'}")
    ghosts = ", ".join(f"{t}->{q}" for t, q in before["ghost_quorum"].items())
    if ghosts:
        lines.append(f"    ghost quorum: {ghosts}")
    after = cti.get("after")
    if after is not None:
        lines.append("  after (what changed):")
        for name, srv in after["servers"].items():
            if srv != before["servers"].get(name):
                lines.append(f"    {_server_line(name, srv)}")
        sent = [m for m in after["net"] if m not in before["net"]]
        if sent:
            lines.append(f"    net +: {', '.join(sent)}")
        new_elected = [p for p in after["elected"] if p not in before["elected"]]
        if new_elected:
            lines.append(f"    elected +: {', '.join(f'({t},{s})' for t, s in new_elected)}")
    return "\n".join(lines)


# --- the quorum axiom, justified by cardinality -----------------------------------------------
@dataclass
class Majority:
    """Whether any two quorums of 1..N intersect for every N, and the smallest N where not."""

    holds: bool
    rule: str
    seconds: float
    smallest_n: int | None = None
    witness: tuple[list[int], list[int]] | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "holds": self.holds,
            "rule": self.rule,
            "seconds": round(self.seconds, 4),
            "smallest_n": self.smallest_n,
            "witness": self.witness,
        }


def majority_check(variant: str | None = None) -> Majority:
    """Two quorums of the same N always share a server, for every N >= 1 (z3, integers).

    Two subsets A, B of 1..N cut it into four regions (in both, only A, only B, neither); any
    four non-negative sizes that sum to N are realized by some A and B, so the query below is
    exact: a model is a pair of disjoint quorums. For a broken rule, the smallest such N is
    found by minimization and the pair is rebuilt as concrete sets and checked in Python.

    >>> majority_check().holds, majority_check("quorum_off_by_one").smallest_n
    (True, 2)
    """
    started = time.perf_counter()
    n, both, only_a, only_b, neither = z3.Ints("N both only_a only_b neither")
    size_a, size_b = both + only_a, both + only_b

    def quorum(size):
        return is_quorum(size, n, variant)

    opt = z3.Optimize()
    opt.set("ctrl_c", False)
    opt.add(n >= 1, both >= 0, only_a >= 0, only_b >= 0, neither >= 0)
    opt.add(both + only_a + only_b + neither == n)
    opt.add(quorum(size_a), quorum(size_b), both == 0)
    opt.minimize(n)
    rule = quorum_rule(variant)
    if solve(opt) != z3.sat:
        return Majority(True, rule, time.perf_counter() - started)
    m = opt.model()
    value = {v: m.eval(v, True).as_long() for v in (n, only_a, only_b)}
    a = list(range(1, value[only_a] + 1))
    b = list(range(value[only_a] + 1, value[only_a] + value[only_b] + 1))
    size = value[n]
    ok = is_quorum(len(a), size, variant) and is_quorum(len(b), size, variant)
    assert ok and not set(a) & set(b), "z3 witness does not check"
    return Majority(False, rule, time.perf_counter() - started, size, (a, b))


# --- symbolic runs: unrolling the transition relation -------------------------------------------
@dataclass
class Unrolled:
    """k steps of the logic from an initial state, each step one of the actions."""

    domain: L.Domain
    states: list[L.State]
    choices: list[dict[str, tuple[z3.BoolRef, dict[str, z3.ExprRef]]]]
    formula: list[z3.BoolRef]


def unroll(d: L.Domain, depth: int, last: str | None = None) -> Unrolled:
    """Initial state then ``depth`` steps; ``last`` pins the action of the final step."""
    states = [d.make_state(f"@{i}") for i in range(depth + 1)]
    formula = [*d.axioms(), L.initial(d, states[0])]
    choices = []
    for i in range(depth):
        step = {}
        names = [last] if (last is not None and i == depth - 1) else list(L.ACTIONS)
        for name in names:
            pick = z3.Bool(f"{name}@{i}")
            relation, params = L.ACTIONS[name].instantiate(d, states[i], states[i + 1], f"@{i}")
            formula.append(z3.Implies(pick, relation))
            step[name] = (pick, params)
        formula.append(z3.Or([pick for pick, _ in step.values()]))
        choices.append(step)
    return Unrolled(d, states, choices, formula)


def nonvacuity(variant: str | None = None, depth: int = 3) -> list[Check]:
    """Satisfiability checks that make a pass meaningful.

    - ``LeaderReachable``: from an initial state, ``depth`` steps of the logic reach a leader
      elected by a quorum of more than itself (all N at once, unbounded logic);
    - ``Enabled(A)``: each action A is enabled in some state that satisfies the invariant.
    """
    d = L.Unbounded(variant)
    out = []
    started = time.perf_counter()
    run = unroll(d, depth)
    last = run.states[-1]
    s, other = z3.Consts("leader other", L.Node)
    t = z3.Const("term", L.Term)
    goal = z3.And(
        last.role(s) == L.LEADER,
        last.current(s, t),
        L.member(other, last.ghost_quorum(t)),
        other != s,
    )
    solver = _solver()
    solver.add(*run.formula, goal)
    answer = solve(solver)
    out.append(
        Check("sat", "LeaderReachable", None, _sat_verdict(answer), time.perf_counter() - started)
    )
    helpers, _ = invariant_names()
    pre, post = L.make_state(""), L.make_state("'")
    for action in L.ACTIONS.values():
        started = time.perf_counter()
        solver = _solver()
        relation, _params = action.instantiate(d, pre, post)
        solver.add(*d.axioms(), *[L.LEMMAS[n](d, pre) for n in helpers], relation)
        out.append(
            Check(
                "sat",
                f"Enabled({action.name})",
                action.name,
                _sat_verdict(solve(solver)),
                time.perf_counter() - started,
            )
        )
    return out


def _sat_verdict(answer: z3.CheckSatResult) -> str:
    if answer == z3.sat:
        return "ok"
    return "vacuous" if answer == z3.unsat else "unknown"


# --- bounded model checking ---------------------------------------------------------------------
@dataclass
class BmcResult:
    """The shortest two-leader run found, or None up to ``depth``."""

    variant: str | None
    depth: int
    seconds: float
    queries: int
    servers: int | None = None
    actions: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return self.servers is not None

    def to_json(self) -> dict[str, Any]:
        return {
            "found": self.found,
            "depth": self.depth,
            "servers": self.servers,
            "seconds": round(self.seconds, 4),
            "queries": self.queries,
            "steps": [step_label(name, params) for name, params in self.actions],
        }


def step_label(name: str, params: dict[str, Any]) -> str:
    """``Timeout(s=1)``, ``ReceiveGrant(t1, 2->1)``: one BMC step, readable."""
    if "s" in params:
        return f"{name}(s={params['s']})"
    return f"{name}(t{params['term']}, {params['src']}->{params['dst']})"


def bmc(variant: str | None, max_depth: int = 8) -> BmcResult:
    """The shortest run, for any cluster size, in which two servers lead one term.

    For each depth k = 1.. ``max_depth`` it asks z3 for a run of k steps of the logic that
    violates ElectionSafety, for every cluster size N such a run can have, quorums counted
    with the variant's rule. Two leaders are two distinct servers, each made candidate by a
    Timeout and each holding q-1 votes besides its own (q the quorum size of N): every such
    vote is one Receive of a granted Vote by the candidate, and every grant one Receive of a
    RequestVote by the voter, all distinct steps. So k >= 2(1 + 2(q-1)) = 4q-2, which bounds
    N; and only Timeouts create terms, so the terms reached are at most k - 4(q-1). The
    queries cover every N (N=1 has no two servers); the first answer is a shortest run.

    Returns the run as the explicit model's actions (servers 1..N, integer terms).
    """
    started = time.perf_counter()
    queries = 0
    for k in range(1, max_depth + 1):
        for n, max_term in bmc_sizes(variant, k):
            d = L.Finite(n, max_term, variant)
            run = unroll(d, k)
            solver = _solver()
            solver.add(*run.formula, z3.Not(L.election_safety(d, run.states[-1])))
            queries += 1
            answer = solve(solver)
            if answer == z3.unknown:
                raise ProofIncomplete(
                    f"BMC at depth {k}, N={n}: z3 answered unknown "
                    f"({solver.reason_unknown()}); no shortest run can be claimed"
                )
            if answer == z3.sat:
                actions = _concrete_actions(run, solver.model())
                return BmcResult(variant, k, time.perf_counter() - started, queries, n, actions)
    return BmcResult(variant, max_depth, time.perf_counter() - started, queries)


def bmc_sizes(variant: str | None, k: int) -> list[tuple[int, int]]:
    """The (N, T) a run of k steps with two leaders can have (see :func:`bmc`).

    >>> bmc_sizes(None, 6), bmc_sizes("quorum_off_by_one", 2)
    ([(2, 2), (3, 2)], [(2, 2)])
    """
    out = []
    for n in range(2, k + 1):
        q = smallest_quorum(n, variant)
        if 4 * q - 2 <= k:
            out.append((n, k - 4 * (q - 1)))
    return out


_MESSAGE_OF = {
    "ReceiveRequestVote": ("RequestVote", None),
    "ReceiveGrant": ("Vote", True),
    "ReceiveDenial": ("Vote", False),
    "ReceiveHeartbeat": ("Heartbeat", None),
}


def _concrete_actions(run: Unrolled, model: z3.ModelRef) -> list[tuple[str, dict[str, Any]]]:
    """Read the chosen actions off a model of a finite unrolling, as the explicit model's."""
    d = run.domain
    assert isinstance(d, L.Finite)

    def index(value: z3.ExprRef, values: list[z3.ExprRef], base: int) -> int:
        for i, v in enumerate(values):
            if z3.is_true(model.eval(value == v, True)):
                return i + base
        raise AssertionError(f"{value} is none of {values}")

    out: list[tuple[str, dict[str, Any]]] = []
    for step in run.choices:
        name, params = next(
            (name, params)
            for name, (pick, params) in step.items()
            if z3.is_true(model.eval(pick, True))
        )
        if name in _MESSAGE_OF:
            kind, granted = _MESSAGE_OF[name]
            out.append(
                (
                    name,
                    {
                        "kind": kind,
                        "term": index(params["t"], d.terms, 0),
                        "src": index(params["src"], d.nodes, 1),
                        "dst": index(params["dst"], d.nodes, 1),
                        "granted": granted,
                    },
                )
            )
        else:
            out.append((name, {"s": index(params["s"], d.nodes, 1)}))
    return out


def bmc_trace(result: BmcResult):
    """Replay a BMC run in the explicit model (spec/raft_election.py) as a trace.

    The replay is a second opinion: each step must be enabled in the explicit model, and the
    last state must violate its ElectionSafety, or this raises AssertionError.
    """
    from checker.traces import trace_from_actions
    from spec.raft_election import Message, RaftElection

    assert result.found and result.servers is not None
    actions: list[tuple[str, dict[str, Any]]] = []
    top = 1
    for name, params in result.actions:
        if name in _MESSAGE_OF:
            m = Message(
                params["kind"], params["term"], params["src"], params["dst"], params["granted"]
            )
            actions.append(("Receive", {"m": m}))
            top = max(top, m.term)
        else:
            actions.append((name, {"s": params["s"]}))
    # only Timeouts create terms: their number bounds every term of the run
    top = max(top, sum(name == "Timeout" for name, _ in result.actions))
    model = RaftElection(servers=result.servers, max_term=top, restart=True, variant=result.variant)
    meta = {
        "property": "ElectionSafety",
        "verdict": "violation",
        "expect": "diverges",
        "description": (
            f"shortest two-leader run of variant {result.variant} over every cluster size, "
            f"found by electkit prove (BMC, depth {result.depth})"
        ),
    }
    trace = trace_from_actions(model, actions, meta)
    last = trace.states[-1]
    safety = next(p for p in model.properties() if p.name == "ElectionSafety")
    assert not safety.holds(last), "the BMC run does not violate ElectionSafety when replayed"
    return trace
