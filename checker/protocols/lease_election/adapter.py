"""The conformance adapter of lease_election: the model's actions carried out by impl/lease
on a live etcd, and the implementation read back in the model's terms.

Time is the adapter's: one ``Tick`` moves the electors' shared clock by one second, and
leases are granted long in etcd and revoked at the model's ``Expire`` step, so that expiry
happens exactly where the trace says. A paused client is one the adapter does not call.
Revisions and tokens are read relative to etcd's revision when the adapter started.

Not replayable: ``late_replies`` traces (the elector counts its deadline from the send of a
keep-alive, so a late answer is not a step it has).
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Hashable, Mapping
from pathlib import Path
from typing import Any

from checker.errors import ElectkitError
from impl.lease.elector import LEADER, NONE, LeaderElector
from impl.lease.etcd_client import EtcdClient, LeaseNotFound
from impl.lease.resource import FencedResource, audit
from spec.lease_election import LeaseElection, LeaseState

_RUNS = itertools.count()
GRANT_TTL = 600  # seconds etcd gives each lease; the adapter revokes it at Expire


class ManualClock:
    """The electors' clock: it moves only when the trace says Tick."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def model_view(model: LeaseElection, state: LeaseState) -> dict[str, Any]:
    """What of a model state the implementation can show, field by field."""
    return {
        "rev": state.rev,
        "keys": list(state.keys),
        "leases": [ticks >= 0 for ticks in state.leases],
        "phase": [me.phase for me in state.clients],
        "token": [me.token for me in state.clients],
        "deadline": [me.deadline for me in state.clients],
        "seen": [me.seen for me in state.clients],
        "resource": [state.high, state.stale],
        "hollow": state.hollow,
    }


class LeaseAdapter:
    """``apply(action, params) -> sends`` and ``observe()`` for impl/lease on a live etcd.

    ``fenced`` chooses the resource's mode; ``workdir`` holds its SQLite file.
    """

    def __init__(
        self, model: LeaseElection, etcd_url: str, workdir: str | os.PathLike, fenced: bool = True
    ) -> None:
        if model.late_replies:
            raise ElectkitError(
                "lease_election traces with late_replies cannot be replayed: the elector "
                "counts its deadline from the keep-alive it sent"
            )
        self.model = model
        self.clock = ManualClock()
        self.etcd = EtcdClient(etcd_url)
        self.prefix = f"electkit-replay-{os.getpid()}-{next(_RUNS)}"
        self.base = self._revision()
        path = Path(workdir) / f"{self.prefix}.db"
        self.resource = FencedResource(path, fenced=fenced)
        self.electors = {
            c: LeaderElector(
                self.etcd,
                self.prefix,
                f"client-{c}",
                ttl=model.ttl,
                renew_deadline=model.ttl - 1,
                grant_ttl=GRANT_TTL,
                clock=self.clock,
            )
            for c in model.server_ids()
        }
        self.lease_of = dict.fromkeys(model.server_ids(), 0)
        self.seen = dict.fromkeys(model.server_ids(), 0)
        self.paused: set[int] = set()

    # --- the two calls of a conformance adapter ---------------------------------------------
    def apply(self, action: str, params: Mapping[str, Any]) -> frozenset[Hashable]:
        """Carry out one model action on the implementation; the store sends no messages."""
        if action == "Tick":
            self.clock.now += 1
            return frozenset()
        c = params["c"]
        elector = self.electors[c]
        if action == "Pause":
            self.paused.add(c)
        elif action == "Resume":
            self.paused.discard(c)
        elif action == "Expire":
            try:
                self.etcd.revoke(self.lease_of[c])
            except LeaseNotFound:
                pass
        elif c in self.paused:
            raise ElectkitError(f"{action}(c={c}): client {c} is paused and takes no step")
        elif action == "Session":
            self.lease_of[c] = elector.open_session()
        elif action == "Campaign":
            try:
                elector.campaign_put()
            except LeaseNotFound:
                pass  # the elector has lost its session: observe() shows it
        elif action in ("Elected", "CampaignFails"):
            elector.poll_elected()  # one read decides: leader, still waiting, or key gone
        elif action == "KeepAlive":
            elector.keep_alive_once()
        elif action == "StepDown":
            elector.check_deadline()
        elif action == "Resign":
            elector.resign()
        elif action == "Act":
            if elector.phase == LEADER:  # the write it prepared while it believed it led
                self.resource.write(elector.token, f"client-{c}", f"write by {c}")
        elif action == "Observe":
            leader = elector.leader()
            self.seen[c] = leader.token - self.base if leader else 0
        else:
            raise ElectkitError(f"the lease adapter has no action {action!r}")
        return frozenset()

    def observe(self) -> dict[str, Any]:
        """The implementation in the model's terms (see :func:`model_view`)."""
        ids = list(self.model.server_ids())
        keys = []
        for c in ids:
            key = self.electors[c].key
            kvs = self.etcd.range(key)["kvs"] if key else []
            keys.append(self._relative(int(kvs[0]["create_revision"])) if kvs else 0)
        log = audit(self.resource)
        return {
            "rev": self._revision() - self.base,
            "keys": keys,
            "leases": [
                bool(self.lease_of[c]) and self.etcd.time_to_live(self.lease_of[c]) >= 0
                for c in ids
            ],
            "phase": [self.electors[c].phase for c in ids],
            "token": [self._relative(self.electors[c].token) for c in ids],
            "deadline": [self._deadline(self.electors[c]) for c in ids],
            "seen": [self.seen[c] for c in ids],
            "resource": [self._relative(self.resource.high()), bool(log.stale)],
            "hollow": False,  # the elector decides leadership in one read of its own key
        }

    def close(self) -> None:
        """Revoke every lease the replay made and close the resource."""
        for lease in self.lease_of.values():
            if lease:
                try:
                    self.etcd.revoke(lease)
                except LeaseNotFound:
                    pass
        self.resource.close()
        self.etcd.close()

    # --- helpers ------------------------------------------------------------------------------
    def _revision(self) -> int:
        return int(self.etcd.range("electkit-revision-probe")["header"]["revision"])

    def _relative(self, revision: int) -> int:
        return revision - self.base if revision else 0

    def _deadline(self, elector: LeaderElector) -> int:
        if elector.phase == NONE:
            return 0
        return max(0, math.ceil(elector.deadline - self.clock.now))
