"""The lease_election bundle: a leader key with a lease in etcd, with fencing tokens
(docs/lease.md), its implementation on a real etcd (impl/lease/), corpus, proof and view."""

from __future__ import annotations

import atexit
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from checker.protocols.bundle import (
    Bundle,
    Corpus,
    Gate,
    Lazy,
    Param,
    VariantCase,
    ViewHints,
    variant_param,
)
from spec.lease_election import VARIANTS, LeaseElection

PROJECT = Path(__file__).resolve().parents[3]
_etcd: Any = None  # one etcd for every replay of a run, stopped when the run ends


def shared_etcd() -> Any:
    """The project's etcd on loopback, started on first use and stopped at exit."""
    global _etcd
    if _etcd is None:
        from checker.errors import ElectkitError
        from impl.lease.etcd_server import EtcdServer, EtcdUnavailable

        server = EtcdServer()
        try:
            server.start()
        except EtcdUnavailable as exc:
            raise ElectkitError(str(exc)) from None
        atexit.register(server.stop)
        _etcd = server
    return _etcd


def _per_client(view: Mapping[str, Any]) -> dict[str, Any]:
    """A view with per-client lists as ITF maps (client -> value), as the replay compares."""
    return {
        name: {"#map": [[c, v] for c, v in enumerate(value, start=1)]}
        if isinstance(value, list) and name != "resource"
        else value
        for name, value in view.items()
    }


class _Adapter:
    """impl/lease on the shared etcd, in the replay's terms (see adapter.py)."""

    def __init__(self, parameters: Mapping[str, Any], fenced: bool = True) -> None:
        from checker.protocols.lease_election.adapter import LeaseAdapter

        self.model = LeaseElection(**parameters)
        self._dir = tempfile.TemporaryDirectory(prefix="electkit-lease-")
        self._inner = LeaseAdapter(self.model, shared_etcd().url, self._dir.name, fenced=fenced)

    def apply(self, action: str, params: Mapping[str, Any]) -> frozenset:
        return self._inner.apply(action, params)

    def observe(self) -> dict[str, Any]:
        return _per_client(self._inner.observe())

    def view(self, state: Any) -> dict[str, Any]:
        from checker.protocols.lease_election.adapter import model_view

        return _per_client(model_view(self.model, state))

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._dir.cleanup()


def _adapter(parameters, data_root=None, **options) -> _Adapter:
    return _Adapter(parameters, **options)


def _build_corpus(out: Path) -> list[Path]:
    from checker.protocols.lease_election.corpus import COUNTEREXAMPLES, counterexample
    from checker.traces import write_trace

    return [write_trace(counterexample(name), out / f"{name}.itf.json") for name in COUNTEREXAMPLES]


SMALL = {"clients": 2, "ttl": 2, "max_revision": 3}  # the gate's bound: seconds, not minutes

BUNDLE = Bundle(
    name="lease_election",
    summary="a leader key with a lease in etcd, with fencing tokens (etcd's concurrency.Election)",
    model=LeaseElection,
    params=(
        Param("clients", int, 3, "clients 1..C", low=1, high=16, search_high=4),
        Param("ttl", int, 2, "lease time to live, in ticks", low=1, high=10, search_high=4),
        Param(
            "max_revision", int, 4, "the store's largest revision", low=1, high=64, search_high=6
        ),
        Param("fencing", bool, True, "the resource checks the token"),
        Param("pauses", bool, True, "clients may pause (a GC pause) while time passes"),
        Param("late_replies", bool, False, "a keep-alive's reply may arrive late"),
        Param("observe", bool, False, "clients observe the leader key"),
        variant_param(VARIANTS),
    ),
    variants=VARIANTS,
    gate=Gate(
        parameters={**SMALL, "pauses": False},
        headline=None,
        variants=(
            VariantCase("unfenced_resource", SMALL, "violation", "FencedWrites"),
            VariantCase("campaign_ignores_expiry", SMALL, "violation", "CampaignSound"),
            VariantCase(
                "no_step_down",
                {**SMALL, "pauses": False, "fencing": False},
                "violation",
                "FencedWrites",
            ),
        ),
        corpus=PROJECT / "traces" / "lease_election",
    ),
    adapter=_adapter,
    corpus=Corpus(build=_build_corpus),
    proof=Lazy("checker.protocols.lease_election.prove_cli"),
    view=ViewHints(
        status="phase",
        colours={"none": "#d0d4d9", "idle": "#9aa5b1", "waiting": "#e8a33d", "leader": "#2f9e44"},
        note="token",
    ),
    commands={
        "etcd": (
            "checker.protocols.lease_election.etcd_cli",
            "run the project's etcd on loopback until Ctrl-C",
        ),
        "lease-chaos": (
            "checker.protocols.lease_election.chaos_cli",
            "lease clients on a real etcd under pauses and kills; the resource audited",
        ),
    },
)
