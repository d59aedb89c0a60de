"""The partitioned search with 1 and 2 workers (and the default in-memory search), in one run.

    .venv/bin/python benchmarks/workers_speedup.py [--servers 3 --max-term 2] [--repeat 5]
        [--max-depth D] [--python]

Each repeat runs, one after the other (never side by side), `electkit check --json --quiet`
as a whole process: the default search, `--workers 1` and `--workers 2`, at the same bound
(and, with ``--python``, both again with the Python kernel instead of the native one:
``ELECTKIT_NATIVE=0``; ``--max-depth D`` bounds every run).
Reports each one's median wall time (process start to exit), median search time (the JSON
line's ``seconds``: the search alone, without starting Python and importing) and median CPU
time (user + system, the process and its workers), and the ratios; checks that the three
agree on the counts, and does the same on a faulty variant to check that they agree on
the counterexample. Ends with one JSON line.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ELECTKIT = str(Path(sys.executable).with_name("electkit"))
ENGINES = {"default": [], "workers 1": ["--workers", "1"], "workers 2": ["--workers", "2"]}
PYTHON_KERNEL = "ELECTKIT_NATIVE=0 "  # an engine named so runs with the Python kernel


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run(bound: list[str], extra: list[str], python: bool = False) -> tuple[float, float, dict]:
    env = {**os.environ, "ELECTKIT_NATIVE": "0"} if python else None
    start, cpu = time.perf_counter(), cpu_seconds()
    proc = subprocess.run(
        [ELECTKIT, "check", *bound, *extra, "--json", "--quiet"],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    seconds, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    if proc.returncode not in (0, 1):
        raise SystemExit(f"electkit check failed: {proc.stderr.strip()[-400:]}")
    return seconds, cpu, json.loads(proc.stdout.strip().splitlines()[-1])


def figures(d: dict) -> tuple:
    return (
        d["verdict"], d["distinct_states"], d["generated_states"], d["depth"], d["coverage"],
        d["trace_length"],
    )  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--servers", type=int, default=3)
    parser.add_argument("--max-term", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--max-depth", type=int, default=None)
    parser.add_argument("--python", action="store_true", help="also with the Python kernel")
    args = parser.parse_args()
    bound = ["--servers", str(args.servers), "--max-term", str(args.max_term)]
    if args.max_depth is not None:
        bound += ["--max-depth", str(args.max_depth)]
    engines = dict(ENGINES)
    if args.python:
        engines |= {PYTHON_KERNEL + n: e for n, e in ENGINES.items() if n != "default"}
    times: dict[str, list[float]] = {name: [] for name in engines}
    search: dict[str, list[float]] = {name: [] for name in engines}
    cpu: dict[str, list[float]] = {name: [] for name in engines}
    seen: dict[str, tuple] = {}
    for _ in range(args.repeat):
        for name, extra in engines.items():
            seconds, used, result = run(bound, extra, name.startswith(PYTHON_KERNEL))
            times[name].append(seconds)
            search[name].append(result["seconds"])
            cpu[name].append(used)
            seen.setdefault(name, figures(result))
    same_counts = len(set(map(repr, seen.values()))) == 1
    traces = {}
    for name, extra in engines.items():
        python = name.startswith(PYTHON_KERNEL)
        _, _, result = run(bound, [*extra, "--variant", "stale_votes"], python)
        trace = result["trace"]  # none within a --max-depth that stops before the violation
        traces[name] = json.loads(Path(trace).read_text())["states"] if trace else None
    same_trace = all(t == traces["default"] for t in traces.values())
    median = {name: statistics.median(v) for name, v in times.items()}
    median_search = {name: statistics.median(v) for name, v in search.items()}
    median_cpu = {name: statistics.median(v) for name, v in cpu.items()}
    print(f"{'search':<30} {'wall s':>7} {'search s':>9} {'cpu s':>6}  wall of each run")
    for name, value in median.items():
        print(
            f"{name:<30} {value:7.2f} {median_search[name]:9.2f} {median_cpu[name]:6.2f}  "
            f"{', '.join(f'{t:.2f}' for t in times[name])}"
        )
    speedup = median["workers 1"] / median["workers 2"]
    search_speedup = median_search["workers 1"] / median_search["workers 2"]
    print(
        f"workers 2 vs workers 1: {speedup:.2f}x wall, {search_speedup:.2f}x search; "
        f"vs default: {median['default'] / median['workers 2']:.2f}x wall"
    )
    print(f"same counts: {same_counts}; same counterexample (stale_votes): {same_trace}")
    print(json.dumps({
        "bound": bound, "repeat": args.repeat, "median_seconds": median,
        "median_search_seconds": median_search, "median_cpu_seconds": median_cpu,
        "speedup_2_over_1": round(speedup, 3),
        "search_speedup_2_over_1": round(search_speedup, 3), "same_counts": same_counts,
        "same_counterexample": same_trace, "distinct_states": seen["default"][1],
    }))  # fmt: skip
    return 0 if same_counts and same_trace else 1


if __name__ == "__main__":
    sys.exit(main())
