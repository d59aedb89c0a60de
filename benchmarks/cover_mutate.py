"""Transition-cover suites: how big, how fast to make and replay, and how many mutants they kill.

For each bound: build the state graph, make the cover suite (checker/graph/cover.py), write it
as ITF, replay it against the implementation. Then run the mutants of impl/node.py
(checker/conformance/mutate.py) through three gates, timing each mutant:

- ``today``: the corpus under traces/, then 100 seeded random walks (what `electkit mutate`
  runs);
- ``today+cover``: the corpus, then the cover suites, then the walks;
- ``cover only``: the cover suites alone, no corpus, no walks.

    .venv/bin/python benchmarks/cover_mutate.py [--bounds 2x2 3x1] [--walks 100] [--no-mutants]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from checker.conformance.mutate import (  # noqa: E402
    MUTANT_MODULE,
    load_mutant_class,
    mutants,
    run_gate,
)
from checker.conformance.replay import collect_traces, replay_file  # noqa: E402
from checker.protocols.registry import bundle_named  # noqa: E402

BUNDLE = bundle_named("raft_election")

import impl.node  # noqa: E402
from checker.graph.cover import cover_suite_with_report  # noqa: E402
from checker.graph.statespace import state_graph  # noqa: E402
from checker.traces import write_trace  # noqa: E402
from spec.raft_election import RaftElection  # noqa: E402


def make_suites(bounds: list[tuple[int, int]], out: Path) -> tuple[list[Path], list[dict]]:
    files, rows = [], []
    for servers, max_term in bounds:
        model = RaftElection(servers, max_term)
        start = time.perf_counter()
        graph = state_graph(model)
        suite, report = cover_suite_with_report(model, graph=graph)
        made = time.perf_counter() - start
        paths = []
        for index, trace in enumerate(suite, start=1):
            trace.meta["expect"] = "conforms"
            paths.append(write_trace(trace, out / f"cover-N{servers}-T{max_term}-{index:05d}.json"))
        start = time.perf_counter()
        results = [replay_file(p) for p in paths]
        replayed = time.perf_counter() - start
        assert all(r.verdict == "conforms" for r in results), "the cover suite diverges"
        rows.append(
            {
                "bound": f"N={servers} T={max_term}",
                "states": graph.number_of_nodes(),
                "transitions": report.transitions,
                "traces": report.traces,
                "steps": report.steps,
                "make_seconds": round(made, 2),
                "replay_seconds": round(replayed, 2),
            }
        )
        files += paths
    return files, rows


def run_mutants(traces: list[Path], walks: int) -> dict:
    source = Path(impl.node.__file__).read_text()
    outcomes, seconds = [], []
    mutation = BUNDLE.mutation
    for mutant in mutants(source, mutation.class_name, mutation.methods):
        start = time.perf_counter()
        try:
            by, detail = run_gate(BUNDLE, load_mutant_class(mutation, mutant), traces, walks)
        finally:
            sys.modules.pop(MUTANT_MODULE, None)
        seconds.append(time.perf_counter() - start)
        outcomes.append({"mutant": mutant.name, "killed": bool(by), "by": by, "detail": detail})
    return {
        "total": len(outcomes),
        "killed": sum(o["killed"] for o in outcomes),
        "seconds": round(sum(seconds), 2),
        "mean_seconds_per_mutant": round(sum(seconds) / len(seconds), 3),
        "max_seconds_per_mutant": round(max(seconds), 3),
        "survivors": [o["mutant"] for o in outcomes if not o["killed"]],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bounds", nargs="+", default=["2x2", "3x1"], metavar="NxT")
    parser.add_argument("--walks", type=int, default=100)
    parser.add_argument("--no-mutants", action="store_true", help="only make and replay suites")
    args = parser.parse_args()
    bounds = [tuple(int(x) for x in b.split("x")) for b in args.bounds]
    corpus = collect_traces([str(ROOT / "traces" / "raft_election")])
    with tempfile.TemporaryDirectory() as tmp:
        cover, rows = make_suites(bounds, Path(tmp))
        for row in rows:
            print(
                f"cover suite {row['bound']}: {row['states']} states, {row['transitions']} "
                f"transitions -> {row['traces']} traces, {row['steps']} steps; made in "
                f"{row['make_seconds']} s, replayed in {row['replay_seconds']} s"
            )
        gates = {
            "today": (corpus, args.walks),
            "today+cover": (corpus + cover, args.walks),
            "cover only": (cover, 0),
        }
        report = {"suites": rows, "gates": {}}
        for name, (traces, walks) in [] if args.no_mutants else gates.items():
            result = run_mutants(traces, walks)
            report["gates"][name] = result
            print(
                f"{name:12} {result['killed']}/{result['total']} killed in {result['seconds']} s "
                f"({result['mean_seconds_per_mutant']} s per mutant, max "
                f"{result['max_seconds_per_mutant']} s); survivors: {result['survivors']}"
            )
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
