"""A leader elector on a real etcd v3, as etcd's ``concurrency.Election`` does it, made sound.

The protocol is etcd's: a session is a lease kept alive; ``campaign`` writes the key
``<prefix>/<lease in hex>`` with the lease in a transaction "if create_revision(key) = 0",
and the client leads once its key has the lowest create revision under the prefix (it waits
for the key just below its own to be deleted, as ``waitDeletes`` does). The fencing token is
the key's create revision. ``resign`` deletes the key only if its create revision is still
the token. Three departures from etcd's client, each closing a reported failure:

- leadership is decided by one read that sees the caller's own key as the lowest, so a
  campaign never returns after its lease expired (etcd-io/etcd#19597): when that read finds
  neither a key below ours nor ours, the campaign fails and the session is lost;
- a step-down deadline counts from when a keep-alive was *sent*, not when its answer came
  (a late answer cannot stretch it past the lease), and it is one margin short of the TTL;
- ``on_stopped_leading`` fires on every way leadership ends (deadline, lost lease, resign)
  (kubernetes/kubernetes#23731), and a failed ``resign`` keeps the leadership and raises
  rather than forgetting it (etcd-io/etcd#22123).

Each step is a method that does one etcd call and changes the elector's state; ``start()``
runs them on threads for an application, and a replay calls them one by one with its own
clock. Known limitation: a pause between a leadership check and a write is not prevented by
any deadline; only a fenced resource refuses the write that results (see resource.py).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from impl.errors import ImplError
from impl.lease.etcd_client import EtcdClient, EtcdError, LeaseNotFound, b64, prefix_end, unb64

NONE, IDLE, WAITING, LEADER = "none", "idle", "waiting", "leader"


class NotLeader(ImplError):
    """An action that needs leadership was asked of a client that does not lead."""


@dataclass(frozen=True, slots=True)
class Leader:
    """The current leader as the store says: its key, its token (create revision), its value."""

    key: str
    token: int
    value: str


class LeaderElector:
    """One client of an election on ``prefix``; see the module docstring.

    ``ttl`` is the lease in seconds (of ``clock``); ``renew_deadline`` the step-down deadline
    after a keep-alive is sent (default two thirds of the TTL); ``grant_ttl`` the TTL asked of
    etcd (default ``ttl``; a replay asks for a long one and revokes the lease itself).
    ``on_elected(token)`` and ``on_stopped_leading(reason)`` are called on this thread.
    """

    def __init__(
        self,
        client: EtcdClient,
        prefix: str,
        value: str,
        ttl: int = 5,
        renew_deadline: float | None = None,
        grant_ttl: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_elected: Callable[[int], None] | None = None,
        on_stopped_leading: Callable[[str], None] | None = None,
    ) -> None:
        if ttl < 1:
            raise ImplError(f"ttl must be at least 1 second, got {ttl}")
        self.client = client
        self.prefix = prefix.rstrip("/") + "/"
        self.value = value
        self.ttl = ttl
        self.renew_deadline = ttl * 2 / 3 if renew_deadline is None else renew_deadline
        self.grant_ttl = grant_ttl or ttl
        self.clock = clock
        self.on_elected = on_elected
        self.on_stopped_leading = on_stopped_leading
        self.phase = NONE
        self.lease = 0
        self.key = ""
        self.token = 0
        self.deadline = 0.0
        self._lock = threading.RLock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # --- the steps --------------------------------------------------------------------------
    def open_session(self) -> int:
        """Grant a lease (NewSession); returns its id."""
        with self._lock:
            sent = self.clock()
            self.lease, _ = self.client.grant(self.grant_ttl)
            self.key = f"{self.prefix}{self.lease:x}"
            self.phase, self.token = IDLE, 0
            self.deadline = sent + self.renew_deadline
            return self.lease

    def campaign_put(self) -> int:
        """Campaign's transaction: put the key with the lease if it does not exist; the token."""
        with self._lock:
            if self.phase != IDLE:
                raise ImplError(f"campaign needs an open session and no campaign, in {self.phase}")
            key = b64(self.key)
            try:
                answer = self.client.txn(
                    [{"key": key, "target": "CREATE", "result": "EQUAL", "create_revision": "0"}],
                    [
                        {
                            "request_put": {
                                "key": key,
                                "value": b64(self.value),
                                "lease": str(self.lease),
                            }
                        }
                    ],
                    [{"request_range": {"key": key}}],
                )
            except LeaseNotFound:
                self._lose("lease lost")
                raise
            if answer["succeeded"]:
                self.token = int(answer["header"]["revision"])
            else:  # our key is there already (a resumed campaign): its create revision
                kvs = answer["responses"][0]["response_range"].get("kvs", [])
                self.token = int(kvs[0]["create_revision"]) if kvs else 0
            self.phase = WAITING
            return self.token

    def poll_elected(self) -> bool:
        """Lead iff the lowest key under the prefix is our own key with our token (one read)."""
        with self._lock:
            if self.phase == LEADER:
                return True
            if self.phase != WAITING:
                return False
            lowest = self.leader()
            if lowest is None or lowest.token > self.token:  # no key below ours, nor ours
                self._lose("own key gone while campaigning")
                return False
            if lowest.key != self.key or lowest.token != self.token:
                return False
            self.phase = LEADER
        if self.on_elected is not None:
            self.on_elected(self.token)
        return True

    def wait_elected(self, timeout: float) -> bool:
        """Campaign's wait: block until we lead (True) or ``timeout`` passes or we lose (False)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end and not self._stop.is_set():
            if self.poll_elected():
                return True
            if self.phase != WAITING:
                return False
            below = self.client.range(
                self.prefix,
                prefix_end(self.prefix),
                sort_order="DESCEND",
                sort_target="CREATE",
                limit="1",
                max_create_revision=str(self.token - 1),
            )
            if below["kvs"]:
                key = below["kvs"][0]["key"]
                from_rev = int(below["header"]["revision"])
                wait = min(end - time.monotonic(), self.renew_deadline / 3)
                if wait > 0:
                    self.client.wait_delete(unb64(key), from_rev, wait)
            elif not self.poll_elected():  # our own key is gone: poll_elected lost the session
                return False
        return self.phase == LEADER

    def keep_alive_once(self) -> bool:
        """One keep-alive; the deadline counts from its sending. False: the lease is lost."""
        with self._lock:
            if self.phase == NONE:
                return False
            sent = self.clock()
            lease = self.lease
        try:
            self.client.keep_alive(lease)
        except LeaseNotFound:
            with self._lock:
                if self.lease == lease and self.phase != NONE:
                    self._lose("lease lost")
            return False
        with self._lock:
            if self.lease == lease and self.phase != NONE:
                self.deadline = sent + self.renew_deadline
        return True

    def check_deadline(self) -> bool:
        """Step down if the deadline passed; True if it did."""
        with self._lock:
            if self.phase == NONE or self.clock() < self.deadline:
                return False
            self._lose("deadline passed")
            return True

    def resign(self) -> None:
        """Give up leadership: delete our key if its create revision is still our token.

        A failed request raises and leaves us leader, so that the caller can retry
        (etcd's own Resign forgets leadership first: etcd-io/etcd#22123).
        """
        with self._lock:
            if self.phase != LEADER:
                return
            key = b64(self.key)
            self.client.txn(
                [
                    {
                        "key": key,
                        "target": "CREATE",
                        "result": "EQUAL",
                        "create_revision": str(self.token),
                    }
                ],
                [{"request_delete_range": {"key": key}}],
            )
            self.phase, self.token = IDLE, 0
        if self.on_stopped_leading is not None:
            self.on_stopped_leading("resigned")

    def leader(self) -> Leader | None:
        """Observe: the key with the lowest create revision under the prefix, or None."""
        answer = self.client.range(
            self.prefix,
            prefix_end(self.prefix),
            sort_order="ASCEND",
            sort_target="CREATE",
            limit="1",
        )
        if not answer["kvs"]:
            return None
        kv = answer["kvs"][0]
        return Leader(unb64(kv["key"]), int(kv["create_revision"]), unb64(kv.get("value", "")))

    def close(self) -> None:
        """Stop the threads, resign if leading, and revoke the lease (best effort)."""
        self._stop.set()
        for thread in self._threads:
            thread.join()
        try:
            self.resign()
            if self.lease and self.phase != NONE:
                self.client.revoke(self.lease)
        except EtcdError:
            pass
        with self._lock:
            self.phase = NONE

    # --- what an application reads -----------------------------------------------------------
    @property
    def is_leader(self) -> bool:
        """True while we lead and our deadline has not passed (checked now)."""
        self.check_deadline()
        return self.phase == LEADER

    def _lose(self, reason: str) -> None:
        was_leader = self.phase == LEADER
        self.phase, self.token, self.deadline = NONE, 0, 0.0
        if was_leader and self.on_stopped_leading is not None:
            self.on_stopped_leading(reason)

    # --- the threads an application runs -------------------------------------------------------
    def start(self) -> LeaderElector:
        """Run the elector: keep the session alive, campaign, step down at the deadline.

        Raises :class:`EtcdError` at once, in one line, if there is no etcd to talk to.
        """
        try:
            self.client.call("maintenance/status", {})
        except EtcdError as exc:
            raise EtcdError(f"no etcd at {self.client.url}: {exc}") from None
        self._threads = [
            threading.Thread(target=self._keep_alive_loop, daemon=True, name="keepalive"),
            threading.Thread(target=self._campaign_loop, daemon=True, name="campaign"),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def _keep_alive_loop(self) -> None:
        try:
            self._keep_alive_until_stopped()
        finally:
            self.client.close()  # this thread's connection

    def _campaign_loop(self) -> None:
        try:
            self._campaign_until_stopped()
        finally:
            self.client.close()

    def _keep_alive_until_stopped(self) -> None:
        while not self._stop.wait(self.renew_deadline / 4):
            try:
                if self.phase != NONE:
                    self.keep_alive_once()
            except EtcdError:
                pass  # the deadline decides; a failed request is not a lost lease
            self.check_deadline()

    def _campaign_until_stopped(self) -> None:
        while not self._stop.is_set():
            try:
                if self.phase == NONE:
                    self.open_session()
                if self.phase == IDLE:
                    self.campaign_put()
                if self.phase == WAITING:
                    self.wait_elected(self.renew_deadline)
                elif self.phase == LEADER:
                    self._stop.wait(self.renew_deadline / 4)
            except EtcdError:
                self._stop.wait(0.05)
