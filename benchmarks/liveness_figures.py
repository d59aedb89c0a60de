"""The chaos stage's liveness figures over many runs: healthy, and with planted timing bugs.

Each run is the gate's chaos stage (5 nodes, 10 s, the default fault rates, seed = run number)
in a subprocess; a planted bug runs against a changed copy of impl/ (checker/conformance/
overlay.py), nothing in the project changes. Prints one JSON line per run and a table of the
distribution. Usage: .venv/bin/python benchmarks/liveness_figures.py [--runs K] [--bugs]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from checker.conformance.overlay import Overlay, package_dir

ROOT = Path(__file__).resolve().parents[1]
# Planted timing bugs: (file, text, replacement), each applied once.
BUGS = {
    "no jitter": ("server.py", "delay = self._rng.uniform(*self.config.election_timeout)",
                  "delay = self.config.election_timeout[0]"),
    "timer not reset by heartbeat": ("node.py", "        self._leader = msg.src\n"
                                     "        return (), False, True",
                                     "        self._leader = msg.src\n"
                                     "        return (), False, False"),
    "timer not reset by a granted vote": ("node.py", "return (Vote(self._term, self._id, "
                                          "msg.src, grant),), False, grant",
                                          "return (Vote(self._term, self._id, msg.src, "
                                          "grant),), False, False"),
    "leader stops beating": ("server.py", "            if self._heartbeat.handle is None:\n",
                             "            if False:\n"),
}
RUN = """
import json, sys, tempfile
from checker.protocols.raft_election import validate
with tempfile.TemporaryDirectory() as d:
    run = validate.run_chaos(d, nodes=5, duration=10.0, seed=int(sys.argv[1]))
    ok, line, figures = validate.judge_liveness(run)
print(json.dumps(figures))
"""


def one_run(seed: int, bug: str | None) -> dict:
    changes = {}
    if bug is not None:
        name, old, new = BUGS[bug]
        text = (package_dir("impl") / name).read_text()
        assert text.count(old) == 1, (bug, old)
        changes[name] = text.replace(old, new)
    with Overlay("impl", changes) as overlay:
        proc = subprocess.run([sys.executable, "-c", RUN, str(seed)], env=overlay.env(),
                              cwd=overlay.root, capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--bugs", action="store_true", help="also 2 runs of each planted bug")
    args = parser.parse_args()
    cases = [(None, s) for s in range(args.runs)]
    if args.bugs:
        cases += [(bug, s) for bug in BUGS for s in range(2)]
    rows = []
    for bug, seed in cases:
        f = one_run(seed, bug)
        rows.append((bug or "healthy", seed, f))
        print(json.dumps({"case": bug or "healthy", "seed": seed, **f}), flush=True)
    print(f"{'case':<34} {'seed':>4} {'changes':>7} {'el/chg':>6} {'low-end gaps':>12} "
          f"{'unprov':>6} {'leaderless s':>12} {'terms/s':>7} verdict")
    for case, seed, f in rows:
        gaps = f"{f['low_end_gaps']}/{f['back_to_back_gaps']}"
        print(f"{case:<34} {seed:>4} {f['leader_changes']:>7} {f['elections_per_change']:>6} "
              f"{gaps:>12} {f['unprovoked_leader_changes']:>6} "
              f"{f['longest_leaderless_seconds']:>12} {f['terms_per_second']:>7} "
              f"{'FAIL' if f['problems'] else 'pass'}")


if __name__ == "__main__":
    main()
