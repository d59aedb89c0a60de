"""spec/lease_logic: FencedWrites proved for every C and revision; the unfenced CTI."""

from __future__ import annotations

from spec.lease_logic import prove_fenced_writes


def test_fenced_writes_is_proved_by_three_unsat_checks():
    proof = prove_fenced_writes()
    assert proof.verdict == "proved" and proof.counterexample is None
    assert proof.checks == [("initiation", "unsat"), ("Act", "unsat"), ("other actions", "unsat")]
    assert proof.nonvacuous
    assert proof.to_json()["verdict"] == "proved" and proof.to_json()["failed"] == []


def test_the_unfenced_resource_has_a_counterexample_to_induction_at_act():
    proof = prove_fenced_writes(fenced=False)
    assert proof.verdict == "cti"
    cti = proof.counterexample
    assert cti["check"] == "Act" and 0 <= cti["token"] < cti["high"] and cti["writes_before"] >= 1
    assert proof.to_json()["failed"] == [cti]
