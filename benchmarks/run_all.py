"""`make bench`: every benchmark, one after the other, each printing its own table.

    .venv/bin/python benchmarks/run_all.py [--quick]

--quick uses small bounds and few trials (a smoke run); the figures in docs/benchmarks.md
come from the full runs, each quoted there with its own command.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    quick = "--quick" in sys.argv[1:]
    runs = [
        ["check_vs_tlc.py"] + (["--servers", "2", "--max-term", "2"] if quick else []),
        ["replay_speed.py"] + (["--traces", "5"] if quick else []),
        ["prove_speed.py"] + (["--repeat", "1"] if quick else ["--repeat", "5"]),
        ["failover.py"] + (["--trials", "5"] if quick else ["--trials", "100"]),
        ["impl_flood.py"] + (["--count", "1000"] if quick else []),
        ["validate_speed.py"] + (["--events", "20000", "--repeat", "1"] if quick else []),
        ["durability_gate.py"] + (["--repeat", "1"] if quick else ["--whole"]),
    ]
    failed = []
    for script, *args in runs:
        print(f"\n=== benchmarks/{script} {' '.join(args)}", flush=True)
        code = subprocess.call([sys.executable, str(HERE / script), *args])
        if code != 0:
            failed.append(script)
    if failed:
        print(f"\nfailed: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
