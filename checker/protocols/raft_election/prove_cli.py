"""`electkit prove --spec raft_election`: ElectionSafety for every N and every T, with z3.

Exit 0: the invariant is inductive, the quorum axiom holds for every N and nothing is
vacuous; 1: a counterexample to induction (CTI), a broken quorum rule or a vacuous check;
2: bad usage. With ``--json`` the last line of stdout is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from checker.errors import EXIT_FAIL, EXIT_OK, ElectkitError
from checker.protocols.raft_election import proof as P
from spec import raft_logic as L


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--variant", help=f"a faulty variant: {', '.join(L.VARIANTS)}")
    parser.add_argument(
        "--drop",
        action="append",
        default=[],
        metavar="LEMMA",
        help="leave a lemma out of the invariant (repeatable)",
    )
    parser.add_argument(
        "--depth", type=int, default=8, metavar="K", help="BMC depth for a variant (default: 8)"
    )
    parser.add_argument("--trace-out", metavar="PATH", help="where to write the BMC trace")
    parser.add_argument("--no-shrink", action="store_true", help="print CTIs as z3 found them")


def _validate(args: argparse.Namespace) -> None:
    if args.variant is not None and args.variant not in L.VARIANTS:
        raise ElectkitError(
            f"--variant: unknown variant {args.variant!r}; valid: {', '.join(L.VARIANTS)}"
        )
    for name in args.drop:
        if name == "ElectionSafety":
            raise ElectkitError("--drop ElectionSafety: it is the property proved, not a lemma")
        if name not in L.LEMMAS:
            valid = ", ".join(n for n in L.LEMMAS if n != "ElectionSafety")
            raise ElectkitError(f"--drop: unknown lemma {name!r}; valid: {valid}")
    if args.depth < 1:
        raise ElectkitError(f"--depth must be at least 1, got {args.depth}")


def run(args: argparse.Namespace) -> int:
    _validate(args)
    started = time.perf_counter()
    say = print
    for name in args.drop:
        if name in L.EXTRAS:
            say(
                f"note: {name} is not a helper of the proof of ElectionSafety; dropping it "
                "only skips its own checks"
            )

    majority = P.majority_check(args.variant)
    if majority.holds:
        say(
            f"quorum axiom: any two quorums ({majority.rule}) intersect, for every N  "
            f"[{majority.seconds:.3f}s]"
        )
    else:
        a, b = majority.witness or ([], [])
        say(
            f"quorum axiom FAILS for {majority.rule}: smallest N = {majority.smallest_n}, "
            f"disjoint quorums {set(a)} and {set(b)}"
        )

    say(f"{'verdict':8} {'seconds':>8}  check")

    def show(check: P.Check) -> None:
        tag = "extra " if check.kind == "extra" else ""
        say(f"{check.verdict:8} {check.seconds:8.3f}  {tag}{check.label()}")

    checks = P.prove_invariant(args.variant, args.drop, shrink=not args.no_shrink, progress=show)
    failed = [c for c in checks if c.verdict != "ok"]
    sat_checks = P.nonvacuity(args.variant)
    for check in sat_checks:
        say(
            f"{'sat' if check.verdict == 'ok' else check.verdict:8} {check.seconds:8.3f}  "
            f"{check.lemma} (non-vacuity)"
        )
    vacuous = [c for c in sat_checks if c.verdict != "ok"]

    for check in failed[:1]:
        if check.cti is not None:
            say("")
            say(P.render_cti(check.cti))
    if len(failed) > 1:
        say(f"({len(failed) - 1} more failing checks; --json lists them all)")

    bmc = None
    trace_path = None
    if args.variant is not None:
        try:
            bmc = P.bmc(args.variant, args.depth)
        except P.ProofIncomplete as exc:
            raise ElectkitError(str(exc)) from None
        if bmc.found:
            say("")
            say(
                f"BMC: two leaders in one term after {bmc.depth} steps, N = {bmc.servers} "
                f"(every N checked; {bmc.queries} queries, {bmc.seconds:.2f}s)"
            )
            for i, (name, params) in enumerate(bmc.actions, 1):
                say(f"  {i:2}. {P.step_label(name, params)}")
            trace_path = _write_trace(args, bmc)
            say(f"trace written to {trace_path}")
        else:
            say(f"BMC: no two-leader run up to depth {bmc.depth} ({bmc.seconds:.2f}s)")

    proved = not failed and majority.holds and not vacuous
    seconds = time.perf_counter() - started
    say("")
    say(
        f"{'PROVED' if proved else 'NOT PROVED'}: ElectionSafety for every N and T "
        f"({len(checks)} checks, {seconds:.2f}s)"
    )
    if args.json:
        report = {
            "verdict": "proved" if proved else "cti",
            "checks": len(checks),
            "seconds": round(seconds, 3),
            "failed": [c.to_json() for c in failed],
            "variant": args.variant,
            "dropped": list(args.drop),
            "helpers": list(L.HELPERS[1:]),
            "majority": majority.to_json(),
            "nonvacuity": [c.to_json() for c in sat_checks],
            "bmc": bmc.to_json() if bmc is not None else None,
            "trace": trace_path,
            "check_times": [c.to_json() for c in checks if c.verdict == "ok"],
        }
        print(json.dumps(report, separators=(",", ":")))
    return EXIT_OK if proved else EXIT_FAIL


def _write_trace(args: argparse.Namespace, bmc: P.BmcResult) -> str:
    from checker.files import scratch_dir
    from checker.traces import write_trace

    trace = P.bmc_trace(bmc)
    p = trace.model.parameters
    name = (
        f"raft_election-{bmc.variant}-N{p['servers']}-T{p['max_term']}-ElectionSafety-bmc.itf.json"
    )
    path = Path(args.trace_out) if args.trace_out else scratch_dir() / name
    return str(write_trace(trace, path, "--trace-out"))


def gate() -> tuple[bool, str, dict]:
    """The gate's proof stage: quorum axiom, induction, non-vacuity; (passed, summary, details)."""
    majority = P.majority_check(None)
    checks = P.prove_invariant(None, ())
    failed = [c for c in checks if c.verdict != "ok"]
    vacuous = [c for c in P.nonvacuity(None) if c.verdict != "ok"]
    passed = majority.holds and not failed and not vacuous
    if passed:
        summary = f"proved: {len(checks)} checks, quorum axiom, non-vacuity"
    elif failed:
        summary = f"counterexample to induction: {failed[0].label()}"
    elif vacuous:
        summary = f"vacuous: {vacuous[0].lemma} is unsatisfiable"
    else:
        summary = f"the quorum axiom fails: {majority.rule}"
    return passed, summary, {"checks": len(checks)}
