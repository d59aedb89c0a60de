"""spec/lease_logic: FencedWrites proved for every C and revision; the unfenced CTI."""

from __future__ import annotations

import json
import subprocess

from spec.lease_logic import prove_fenced_writes
from tests.conftest import ELECTKIT


def test_fenced_writes_is_proved_by_three_unsat_checks():
    proof = prove_fenced_writes()
    assert proof.verdict == "proved" and proof.counterexample is None
    assert proof.checks == [("initiation", "unsat"), ("Act", "unsat"), ("other actions", "unsat")]
    assert proof.nonvacuous
    assert proof.to_json()["verdict"] == "proved" and proof.to_json()["failed"] == []


def test_the_unfenced_resource_has_a_counterexample_to_induction_at_act():
    # In a process of its own, as `electkit prove` runs: in a z3 context that earlier queries
    # of this test session have filled, this satisfiable query can outlast its 60 s timeout.
    proc = subprocess.run(
        [ELECTKIT, "prove", "--spec", "lease_election", "--unfenced", "--json"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["verdict"] == "cti"
    cti = report["failed"][0]
    assert cti["check"] == "Act" and 0 <= cti["token"] < cti["high"] and cti["writes_before"] >= 1
    assert "CTI after Act" in proc.stdout
