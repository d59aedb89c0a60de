"""Lease election through etcd, bounded: etcd's ``concurrency.Election`` as a model.

Clients 1..C share a linearizable store with a revision counter. Each client holds at most
one session (a lease of ``ttl`` ticks) and one key under the election prefix, named by its
lease, as etcd's ``Campaign`` writes it: a transaction "if create_revision(key) = 0 then put
key with the lease". The leader is the key with the lowest create revision; a campaigner
returns from ``Campaign`` once every lower key is gone (etcd's ``waitDeletes``). Its fencing
token is its key's create revision, and it acts by writing that token to a protected
resource, which refuses a token older than one it accepted unless the resource is unfenced.

Time is discrete. ``Tick`` moves every lease and every client's own deadline one tick
closer to zero; a lease at zero must be expired (``Expire``: the lease and its key deleted)
before the next tick. A client's step-down deadline is one tick short of its lease: a
keep-alive answered at once sets it to ``ttl - 1`` (the client cannot see the server's
clock). A client that is not paused steps down when its deadline reaches zero, before the
next tick; a paused client (a GC pause) takes no step at all while time passes. With
``late_replies``, the keep-alive response is a separate step that may arrive ticks after the
server refreshed the lease, and the client sets its deadline when the answer arrives, as
etcd's client does (``ka.deadline = time.Now().Add(TTL)`` on receipt).

Only ``Campaign`` is bounded by ``max_revision`` (the largest create revision); a deletion
may take the store's revision past it, by at most C.

>>> model = LeaseElection(clients=1, ttl=2, max_revision=1)
>>> [step.label() for step in model.steps(model.init_states()[0])]
['Session(c=1)']
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

from spec.model import Model, ModelError, Permutation, Property, Step

NONE, IDLE, WAITING, LEADER = "none", "idle", "waiting", "leader"
PHASES = (NONE, IDLE, WAITING, LEADER)

VARIANTS: dict[str, str] = {
    "unfenced_resource": "the resource accepts every write, whatever its token (fencing=False)",
    "no_step_down": "a leader never steps down: not at its deadline, not on a failed keep-alive"
    " (kubernetes#23731: OnStoppedLeading never called)",
    "campaign_ignores_expiry": "Campaign returns once lower keys are gone without checking its"
    " own key still exists, as etcd's Campaign does (etcd#19597)",
}


class Client(NamedTuple):
    """One client's own view: its phase, its token, its step-down deadline, whether it is
    paused, whether a keep-alive answer is on its way, and the leader token it last observed."""

    phase: str = NONE
    token: int = 0
    deadline: int = 0
    paused: bool = False
    ka_pending: bool = False
    seen: int = 0


class LeaseState(NamedTuple):
    """The store (revision, keys, leases), the clients, and the protected resource.

    ``keys[c-1]`` is the create revision of client c's key (0: none); ``leases[c-1]`` the
    ticks left on its lease (-1: none). ``high`` is the largest token the resource accepted;
    ``stale`` and ``hollow`` are history flags: the resource accepted a token below ``high``;
    a Campaign returned without its caller's key.
    """

    rev: int
    keys: tuple[int, ...]
    leases: tuple[int, ...]
    clients: tuple[Client, ...]
    high: int = 0
    stale: bool = False
    hollow: bool = False


def _whole(name: str, value: Any, least: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise ModelError(f"{name} must be a whole number >= {least}, got {value!r}")
    return value


class LeaseElection(Model):
    """etcd's Election: C clients, leases of ``ttl`` ticks, create revisions up to a bound."""

    name = "lease_election"
    symmetric = True

    def __init__(
        self,
        clients: int = 3,
        ttl: int = 2,
        max_revision: int = 4,
        fencing: bool = True,
        pauses: bool = True,
        late_replies: bool = False,
        observe: bool = False,
        variant: str | None = None,
    ) -> None:
        self.clients = _whole("clients", clients, 1)
        self.ttl = _whole("ttl", ttl, 1)
        self.max_revision = _whole("max_revision", max_revision, 0)
        for flag, value in (
            ("fencing", fencing),
            ("pauses", pauses),
            ("late_replies", late_replies),
            ("observe", observe),
        ):
            if not isinstance(value, bool):
                raise ModelError(f"{flag} must be true or false, got {value!r}")
        if variant is not None and variant not in VARIANTS:
            raise ModelError(
                f"unknown variant {variant!r} of lease_election; valid: {', '.join(VARIANTS)}"
            )
        self.fencing = fencing
        self.pauses = pauses
        self.late_replies = late_replies
        self.observe = observe
        self.variant = variant
        self.fenced = fencing and variant != "unfenced_resource"

    @property
    def parameters(self) -> Mapping[str, Any]:
        return {
            "clients": self.clients,
            "ttl": self.ttl,
            "max_revision": self.max_revision,
            "fencing": self.fencing,
            "pauses": self.pauses,
            "late_replies": self.late_replies,
            "observe": self.observe,
            "variant": self.variant,
        }

    def init_states(self) -> Sequence[LeaseState]:
        n = self.clients
        return [LeaseState(0, (0,) * n, (-1,) * n, (Client(),) * n)]

    # --- the actions: each a guard, then the next state, or None when disabled -----------
    def steps(self, state: LeaseState) -> Iterator[Step]:
        for action in (
            self.session,
            self.campaign,
            self.elected,
            self.campaign_fails,
            self.keep_alive,
            self.keep_alive_reply,
            self.step_down,
            self.resign,
            self.act,
            self.observe_leader,
            self.pause,
            self.resume,
            self.expire,
        ):
            for c in self.server_ids():
                nxt = action(state, c)
                if nxt is not None:
                    yield Step(_ACTION_NAMES[action.__name__], {"c": c}, nxt)
        nxt = self.tick(state)
        if nxt is not None:
            yield Step("Tick", {}, nxt)

    def session(self, s: LeaseState, c: int) -> LeaseState | None:
        """NewSession: grant a lease of ``ttl`` ticks (a grant does not bump the revision)."""
        me = s.clients[c - 1]
        if me.phase != NONE or me.paused or s.leases[c - 1] >= 0:
            return None
        s = _set_client(s, c, Client(IDLE, 0, self.ttl - 1, seen=me.seen))
        return s._replace(leases=_put(s.leases, c, self.ttl))

    def campaign(self, s: LeaseState, c: int) -> LeaseState | None:
        """Campaign's transaction: if create_revision(key) = 0 then put key with the lease."""
        me = s.clients[c - 1]
        if me.phase != IDLE or me.paused or s.rev >= self.max_revision:
            return None
        if s.leases[c - 1] < 0:  # the put names a lease etcd no longer has: the session is lost
            return _set_client(s, c, Client(seen=me.seen))
        rev = s.rev + 1
        s = _set_client(s, c, me._replace(phase=WAITING, token=rev))
        return s._replace(rev=rev, keys=_put(s.keys, c, rev))

    def elected(self, s: LeaseState, c: int) -> LeaseState | None:
        """waitDeletes returns: no key below the caller's is left; Campaign returns."""
        me = s.clients[c - 1]
        if me.phase != WAITING or me.paused:
            return None
        if any(0 < k < me.token for k in s.keys):
            return None
        own_key = s.keys[c - 1] == me.token
        if not own_key and self.variant != "campaign_ignores_expiry":
            return None  # the sound Campaign checks its own key is still there
        s = _set_client(s, c, me._replace(phase=LEADER))
        return s if own_key else s._replace(hollow=True)

    def campaign_fails(self, s: LeaseState, c: int) -> LeaseState | None:
        """The sound Campaign's other answer: no key below ours, but ours is gone too (its
        lease expired while it waited): an error, and the session is lost."""
        me = s.clients[c - 1]
        if me.phase != WAITING or me.paused or self.variant == "campaign_ignores_expiry":
            return None
        if s.keys[c - 1] == me.token or any(0 < k < me.token for k in s.keys):
            return None
        return _set_client(s, c, Client(seen=me.seen))

    def keep_alive(self, s: LeaseState, c: int) -> LeaseState | None:
        """A keep-alive reaches the server: it refreshes a live lease, or finds it gone."""
        me = s.clients[c - 1]
        if me.phase == NONE or me.paused or me.ka_pending:
            return None
        if s.leases[c - 1] < 0:
            if self.variant == "no_step_down" and me.phase == LEADER:
                return None  # the failure is ignored: the leader goes on believing
            return _set_client(s, c, Client(seen=me.seen))
        s = s._replace(leases=_put(s.leases, c, self.ttl))
        if self.late_replies:
            return _set_client(s, c, me._replace(ka_pending=True))
        return _set_client(s, c, me._replace(deadline=self.ttl - 1))

    def keep_alive_reply(self, s: LeaseState, c: int) -> LeaseState | None:
        """A late keep-alive answer arrives: the deadline restarts from now, not from the send."""
        me = s.clients[c - 1]
        if not me.ka_pending or me.paused:
            return None
        return _set_client(s, c, me._replace(deadline=self.ttl - 1, ka_pending=False))

    def must_step_down(self, me: Client) -> bool:
        """The client's deadline has passed and it acts on that (the variant's leader does not)."""
        if me.phase == NONE or me.deadline > 0:
            return False
        return not (self.variant == "no_step_down" and me.phase == LEADER)

    def step_down(self, s: LeaseState, c: int) -> LeaseState | None:
        """The deadline passed: the client gives up its session and any belief that it leads."""
        me = s.clients[c - 1]
        if me.paused or not self.must_step_down(me):
            return None
        return _set_client(s, c, Client(seen=me.seen))

    def resign(self, s: LeaseState, c: int) -> LeaseState | None:
        """Resign: delete the key if its create revision is still the token (etcd's own txn)."""
        me = s.clients[c - 1]
        if me.phase != LEADER or me.paused:
            return None
        s = _set_client(s, c, me._replace(phase=IDLE, token=0))
        if s.keys[c - 1] != me.token:
            return s
        return s._replace(rev=s.rev + 1, keys=_put(s.keys, c, 0))

    def act(self, s: LeaseState, c: int) -> LeaseState | None:
        """The leader writes its token to the resource; a fenced one refuses a stale token."""
        me = s.clients[c - 1]
        if me.phase != LEADER or me.paused:
            return None
        if me.token < s.high:
            if self.fenced:
                return None  # refused: nothing changes
            return s._replace(stale=True)
        return s._replace(high=me.token)

    def observe_leader(self, s: LeaseState, c: int) -> LeaseState | None:
        """Observe: read the leader key (the lowest create revision) and remember its revision."""
        me = s.clients[c - 1]
        if not self.observe or me.paused:
            return None
        live = [k for k in s.keys if k > 0]
        return _set_client(s, c, me._replace(seen=min(live, default=0)))

    def pause(self, s: LeaseState, c: int) -> LeaseState | None:
        """A GC pause starts: the client takes no step while time passes."""
        me = s.clients[c - 1]
        if not self.pauses or me.paused or me.phase == NONE:
            return None
        return _set_client(s, c, me._replace(paused=True))

    def resume(self, s: LeaseState, c: int) -> LeaseState | None:
        """The pause ends."""
        me = s.clients[c - 1]
        if not me.paused:
            return None
        return _set_client(s, c, me._replace(paused=False))

    def expire(self, s: LeaseState, c: int) -> LeaseState | None:
        """The server expires a lease at zero: the lease and its key are deleted."""
        if s.leases[c - 1] != 0:
            return None
        s = s._replace(leases=_put(s.leases, c, -1))
        if s.keys[c - 1] == 0:
            return s
        return s._replace(rev=s.rev + 1, keys=_put(s.keys, c, 0))

    def tick(self, s: LeaseState) -> LeaseState | None:
        """One tick: every lease and deadline one closer to zero, once nothing is due."""
        if 0 in s.leases:
            return None
        if any(not me.paused and self.must_step_down(me) for me in s.clients):
            return None
        leases = tuple(t - 1 if t > 0 else t for t in s.leases)
        clients = tuple(
            me._replace(deadline=me.deadline - 1) if me.deadline > 0 else me for me in s.clients
        )
        if leases == s.leases and clients == s.clients:
            return None
        return s._replace(leases=leases, clients=clients)

    # --- properties ----------------------------------------------------------------------
    def properties(self) -> Sequence[Property]:
        return (
            Property("StoreExclusion", "always", store_exclusion),
            Property("BeliefExclusion", "always", belief_exclusion),
            Property("FencedWrites", "always", fenced_writes),
            Property("CampaignSound", "always", campaign_sound),
            Property("KeyHolderLeads", "sometimes", key_holder_leads),
            Property("ClientLeads", "sometimes", client_leads),
            Property("FailoverAfterWrite", "sometimes", failover_after_write),
            Property("CampaignWaits", "sometimes", campaign_waits),
        )

    # --- symmetry and the JSON view --------------------------------------------------------
    def server_ids(self) -> Sequence[int]:
        """The client ids: clients are interchangeable."""
        return tuple(range(1, self.clients + 1))

    def permute(self, state: LeaseState, perm: Permutation) -> LeaseState:
        """``state`` with client c renamed ``perm[c]``."""

        def move(values: tuple) -> tuple:
            out = list(values)
            for c, value in enumerate(values, start=1):
                out[perm[c] - 1] = value
            return tuple(out)

        return state._replace(
            keys=move(state.keys), leases=move(state.leases), clients=move(state.clients)
        )

    def to_json(self, state: LeaseState) -> dict[str, Any]:
        def per_client(values) -> dict:
            return {"#map": [[c, v] for c, v in enumerate(values, start=1)]}

        return {
            "rev": state.rev,
            "keys": per_client(state.keys),
            "leases": per_client(state.leases),
            "phase": per_client(me.phase for me in state.clients),
            "token": per_client(me.token for me in state.clients),
            "deadline": per_client(me.deadline for me in state.clients),
            "paused": per_client(me.paused for me in state.clients),
            "ka_pending": per_client(me.ka_pending for me in state.clients),
            "seen": per_client(me.seen for me in state.clients),
            "resource": {"#tup": [state.high, state.stale]},
            "hollow": state.hollow,
        }

    def from_json(self, value: Mapping[str, Any]) -> LeaseState:
        def per_client(name: str, kind: type) -> list:
            entries = {int(c): v for c, v in value[name]["#map"]}
            if sorted(entries) != list(self.server_ids()):
                raise ValueError(f"{name} must map exactly the clients 1..{self.clients}")
            values = [entries[c] for c in self.server_ids()]
            for v in values:
                if not isinstance(v, kind) or (kind is int and isinstance(v, bool)):
                    raise ValueError(f"{name}: {v!r} is not a {kind.__name__}")
            return values

        phases = per_client("phase", str)
        for phase in phases:
            if phase not in PHASES:
                raise ValueError(f"phase {phase!r} is not one of {', '.join(PHASES)}")
        clients = tuple(
            Client(*fields)
            for fields in zip(
                phases,
                per_client("token", int),
                per_client("deadline", int),
                per_client("paused", bool),
                per_client("ka_pending", bool),
                per_client("seen", int),
                strict=True,
            )
        )
        high, stale = value["resource"]["#tup"]
        return LeaseState(
            int(value["rev"]),
            tuple(per_client("keys", int)),
            tuple(per_client("leases", int)),
            clients,
            int(high),
            bool(stale),
            bool(value["hollow"]),
        )

    def action_to_json(self, step: Step) -> dict[str, Any]:
        return {"action": step.action, "params": dict(step.params)}

    def action_from_json(self, value: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        """The inverse of :meth:`action_to_json`: ``(action name, parameters)``."""
        action = value["action"]
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; valid: {', '.join(ACTIONS)}")
        return action, {k: int(v) for k, v in dict(value.get("params", {})).items()}

    def messages_to_json(self, messages) -> list:
        """No messages: the store is a shared linearizable object."""
        return []


_ACTION_NAMES = {
    "session": "Session",
    "campaign": "Campaign",
    "elected": "Elected",
    "campaign_fails": "CampaignFails",
    "keep_alive": "KeepAlive",
    "keep_alive_reply": "KeepAliveReply",
    "step_down": "StepDown",
    "resign": "Resign",
    "act": "Act",
    "observe_leader": "Observe",
    "pause": "Pause",
    "resume": "Resume",
    "expire": "Expire",
}
ACTIONS = (*_ACTION_NAMES.values(), "Tick")


def _put(values: tuple, c: int, value: Any) -> tuple:
    return values[: c - 1] + (value,) + values[c:]


def _set_client(s: LeaseState, c: int, me: Client) -> LeaseState:
    return s._replace(clients=_put(s.clients, c, me))


def _leader_key(s: LeaseState) -> int:
    return min((k for k in s.keys if k > 0), default=0)


# --- the properties, as functions of a state ------------------------------------------------
def store_exclusion(s: LeaseState) -> bool:
    """Every client that believes it leads and still has its key holds the store's leader key."""
    lowest = _leader_key(s)
    return all(
        me.token == lowest
        for c, me in enumerate(s.clients, start=1)
        if me.phase == LEADER and s.keys[c - 1] == me.token
    )


def belief_exclusion(s: LeaseState) -> bool:
    """At most one client believes it leads."""
    return sum(me.phase == LEADER for me in s.clients) <= 1


def fenced_writes(s: LeaseState) -> bool:
    """The resource never accepted a token older than one it had accepted."""
    return not s.stale


def campaign_sound(s: LeaseState) -> bool:
    """No Campaign returned while its caller's key was gone."""
    return not s.hollow


def key_holder_leads(s: LeaseState) -> bool:
    """Witness: a client leads holding the store's leader key."""
    return any(me.phase == LEADER and me.token == _leader_key(s) > 0 for me in s.clients)


def client_leads(s: LeaseState) -> bool:
    """Witness: some client believes it leads."""
    return any(me.phase == LEADER for me in s.clients)


def failover_after_write(s: LeaseState) -> bool:
    """Witness: a leader newer than the last accepted write (a failover the resource will see)."""
    return any(me.phase == LEADER and 0 < s.high < me.token for me in s.clients)


def campaign_waits(s: LeaseState) -> bool:
    """Witness: a campaign is blocked behind a leader."""
    return client_leads(s) and any(me.phase == WAITING for me in s.clients)
