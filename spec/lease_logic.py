"""FencedWrites of spec/lease_election.py in logic, for every number of clients and every
revision: an inductive invariant checked by z3.

Clients are an uninterpreted sort (any number of them); tokens and the resource's highest
token are unbounded integers (any revision). The resource keeps its accepted writes as an
array ``log[0..n)``. Every action of the model other than ``Act`` changes at most one client's
token and belief, arbitrarily (a havoc): that covers Session, Campaign, Elected, KeepAlive,
StepDown, Resign, Expire, Pause, Tick, and the variants that only change beliefs
(no_step_down, campaign_ignores_expiry), whatever the TTL and with or without pauses and late
replies. ``Act(c)`` appends c's token to the log; a fenced resource only if the token is at
least its highest.

The invariant: the log is sorted, every entry is at most ``high``, ``high`` is the last entry
(0 before any), tokens are 0 or revisions, and nothing stale was accepted. Three checks
(initiation, consecution under Act, under any other action); with ``fenced=False`` the
consecution under Act has a counterexample to induction (CTI), returned with its values.

>>> prove_fenced_writes().verdict
'proved'
>>> prove_fenced_writes(fenced=False).verdict
'cti'
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import z3

Client = z3.DeclareSort("Client")


@dataclass
class _State:
    token: z3.FuncDeclRef
    leader: z3.FuncDeclRef
    log: z3.ArrayRef
    n: z3.ArithRef
    high: z3.ArithRef
    stale: z3.BoolRef


def _state(suffix: str) -> _State:
    return _State(
        z3.Function(f"token{suffix}", Client, z3.IntSort()),
        z3.Function(f"leader{suffix}", Client, z3.BoolSort()),
        z3.Array(f"log{suffix}", z3.IntSort(), z3.IntSort()),
        z3.Int(f"n{suffix}"),
        z3.Int(f"high{suffix}"),
        z3.Bool(f"stale{suffix}"),
    )


def initial(s: _State) -> z3.BoolRef:
    """No write yet; no client holds a token or believes it leads."""
    x = z3.Const("x", Client)
    nobody = z3.ForAll([x], z3.And(s.token(x) == 0, z3.Not(s.leader(x))))
    return z3.And(s.n == 0, s.high == 0, z3.Not(s.stale), nobody)


def invariant(s: _State) -> z3.BoolRef:
    """FencedWrites and the two lemmas that make it inductive."""
    i, j = z3.Ints("i j")
    sorted_log = z3.ForAll([i, j], z3.Implies(z3.And(0 <= i, i < j, j < s.n), s.log[i] <= s.log[j]))
    bounded = z3.ForAll([i], z3.Implies(z3.And(0 <= i, i < s.n), s.log[i] <= s.high))
    x = z3.Const("x", Client)
    tokens = z3.ForAll([x], s.token(x) >= 0)  # 0 or a create revision
    last = z3.If(s.n == 0, s.high == 0, s.high == s.log[s.n - 1])
    return z3.And(z3.Not(s.stale), s.n >= 0, sorted_log, bounded, tokens, last)


def act(pre: _State, post: _State, c: z3.ExprRef, fenced: bool) -> z3.BoolRef:
    """Client c, believing it leads, writes its token; the fenced resource checks it."""
    token = pre.token(c)
    x = z3.Const("x", Client)
    return z3.And(
        pre.leader(c),
        token >= pre.high if fenced else z3.BoolVal(True),
        post.log == z3.Store(pre.log, pre.n, token),
        post.n == pre.n + 1,
        post.high == z3.If(token > pre.high, token, pre.high),
        post.stale == z3.Or(pre.stale, token < pre.high),
        z3.ForAll([x], z3.And(post.token(x) == pre.token(x), post.leader(x) == pre.leader(x))),
    )


def other(pre: _State, post: _State, c: z3.ExprRef) -> z3.BoolRef:
    """Any other action: client c's token and belief change arbitrarily; the resource not."""
    x = z3.Const("x", Client)
    return z3.And(
        post.log == pre.log,
        post.n == pre.n,
        post.high == pre.high,
        post.stale == pre.stale,
        post.token(c) >= 0,
        z3.ForAll(
            [x],
            z3.Implies(
                x != c, z3.And(post.token(x) == pre.token(x), post.leader(x) == pre.leader(x))
            ),
        ),
    )


@dataclass
class LeaseProof:
    """The verdict ("proved", "cti", or "unknown" when z3 gave up), each check's answer, a
    CTI's values, and whether a write is possible at all (so the proof is not vacuous)."""

    verdict: str
    checks: list[tuple[str, str]] = field(default_factory=list)
    counterexample: dict[str, Any] | None = None
    nonvacuous: bool = False
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        """As `electkit prove --json` reports: verdict, checks, seconds, failed."""
        failed = [self.counterexample] if self.counterexample else []
        return {
            "verdict": self.verdict,
            "property": "FencedWrites",
            "checks": len(self.checks),
            "seconds": round(self.seconds, 3),
            "failed": failed,
            "nonvacuous": self.nonvacuous,
        }


def prove_fenced_writes(fenced: bool = True, timeout_ms: int = 60_000) -> LeaseProof:
    """Prove FencedWrites for every C and revision, or return a counterexample to induction."""
    pre, post = _state(""), _state("'")
    c = z3.Const("c", Client)
    checks = [
        ("initiation", z3.And(initial(pre), z3.Not(invariant(pre)))),
        ("Act", z3.And(invariant(pre), act(pre, post, c, fenced), z3.Not(invariant(post)))),
        ("other actions", z3.And(invariant(pre), other(pre, post, c), z3.Not(invariant(post)))),
    ]
    start = time.perf_counter()
    proof = LeaseProof("proved")
    writable = z3.Solver()
    writable.add(invariant(pre), act(pre, post, c, fenced), post.n >= 2)
    proof.nonvacuous = writable.check() == z3.sat  # two accepted writes are reachable in logic
    for name, query in checks:
        solver = z3.Solver()
        solver.set("timeout", timeout_ms)
        solver.add(query)
        answer = solver.check()
        proof.checks.append((name, str(answer)))
        if answer == z3.sat:
            model = solver.model()
            proof.verdict = "cti"
            proof.counterexample = {
                "check": name,
                "token": model.eval(pre.token(c), model_completion=True).as_long(),
                "high": model.eval(pre.high, model_completion=True).as_long(),
                "writes_before": model.eval(pre.n, model_completion=True).as_long(),
            }
            break
        if answer != z3.unsat:
            proof.verdict = "unknown"
            break
    proof.seconds = time.perf_counter() - start
    return proof
