"""Wall time of `make verify` (every protocol's gate, every stage), and of each stage.

Runs `electkit verify --spec NAME --json` for each protocol `make verify` gates, as make does,
one after the other, and prints each stage's seconds and the total wall time.
Usage: .venv/bin/python benchmarks/verify_time.py
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ELECTKIT = Path(sys.executable).with_name("electkit")


def main() -> None:
    specs = [line.split("--spec", 1)[1].split()[0]
             for line in (ROOT / "Makefile").read_text().splitlines()
             if "electkit verify --spec" in line]
    start = time.perf_counter()
    for spec in specs:
        began = time.perf_counter()
        proc = subprocess.run([str(ELECTKIT), "verify", "--spec", spec, "--json"], cwd=ROOT,
                              capture_output=True, text=True)
        report = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{spec}: {report['verdict']} (exit {proc.returncode}) in "
              f"{time.perf_counter() - began:.1f} s wall")
        for stage in report["stages"]:
            print(f"  {stage['name']:<40} {stage['seconds']:6.1f} s  "
                  f"{'pass' if stage['passed'] else 'FAIL'}")
    print(f"make verify: {time.perf_counter() - start:.1f} s wall")


if __name__ == "__main__":
    main()
