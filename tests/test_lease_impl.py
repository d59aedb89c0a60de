"""impl/lease on a real etcd: election, failover, resign, callbacks, fencing."""

from __future__ import annotations

import time

import pytest

from impl.lease.elector import IDLE, LEADER, NONE, WAITING, LeaderElector
from impl.lease.etcd_client import EtcdClient, EtcdError, LeaseNotFound
from impl.lease.etcd_server import EtcdServer, free_port
from impl.lease.resource import FencedResource, audit
from tests.lease_fixtures import etcd, etcd_client, prefix  # noqa: F401 - fixtures


class FakeClock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def elector(client, prefix, name, events=None, **kw) -> LeaderElector:  # noqa: F811
    events = [] if events is None else events
    return LeaderElector(
        client,
        prefix,
        name,
        on_elected=lambda token: events.append((name, "elected", token)),
        on_stopped_leading=lambda reason: events.append((name, "stopped", reason)),
        **kw,
    )


def wait_for(condition, timeout: float = 10.0) -> None:
    end = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < end, "condition not met in time"
        time.sleep(0.01)


def test_first_campaigner_leads_and_the_second_waits(etcd_client, prefix):  # noqa: F811
    a, b = elector(etcd_client, prefix, "a"), elector(etcd_client, prefix, "b")
    for e in (a, b):
        e.open_session()
        e.campaign_put()
    assert a.poll_elected() and not b.poll_elected()
    assert (a.phase, b.phase) == (LEADER, WAITING)
    assert a.token < b.token
    assert a.leader().value == "a" and a.leader().token == a.token


def test_failover_when_the_leaders_lease_is_revoked(etcd_client, prefix):  # noqa: F811
    events = []
    a, b = (elector(EtcdClient(etcd_client.url), prefix, n, events, ttl=1) for n in "ab")
    a.start()
    wait_for(lambda: a.phase == LEADER)
    b.start()
    wait_for(lambda: b.phase == WAITING)
    etcd_client.revoke(a.lease)
    wait_for(lambda: b.phase == LEADER)
    wait_for(lambda: ("a", "stopped", "lease lost") in events)
    assert ("b", "elected", b.token) in events and b.token > events[0][2]
    for e in (a, b):
        e.close()
        e.client.close()


def test_resign_hands_over_and_fires_the_callback(etcd_client, prefix):  # noqa: F811
    events = []
    a, b = elector(etcd_client, prefix, "a", events), elector(etcd_client, prefix, "b", events)
    for e in (a, b):
        e.open_session()
        e.campaign_put()
    assert a.poll_elected()
    a.resign()
    assert a.phase == IDLE and ("a", "stopped", "resigned") in events
    assert b.poll_elected() and b.leader().value == "b"


def test_a_paused_leader_steps_down_at_its_deadline_with_a_callback(etcd_client, prefix):  # noqa: F811
    events, clock = [], FakeClock()
    a = elector(etcd_client, prefix, "a", events, ttl=2, renew_deadline=1, clock=clock)
    a.open_session()
    a.campaign_put()
    assert a.poll_elected() and a.is_leader
    clock.now = 0.99
    assert a.is_leader
    clock.now = 1.0
    assert not a.is_leader and a.phase == NONE
    assert events[-1] == ("a", "stopped", "deadline passed")


def test_keep_alive_counts_the_deadline_from_the_send(etcd_client, prefix):  # noqa: F811
    clock = FakeClock()
    a = elector(etcd_client, prefix, "a", ttl=3, renew_deadline=2, clock=clock)
    a.open_session()
    clock.now = 1.5
    assert a.keep_alive_once()
    assert a.deadline == 3.5


def test_a_campaign_whose_lease_expired_does_not_return_as_leader(etcd_client, prefix):  # noqa: F811
    a = elector(etcd_client, prefix, "a", ttl=1)
    a.open_session()
    a.campaign_put()
    etcd_client.revoke(a.lease)  # the lease expires while the campaign waits
    assert not a.poll_elected()
    assert not a.wait_elected(timeout=2) and a.phase == NONE


def test_campaign_on_a_lost_lease_loses_the_session(etcd_client, prefix):  # noqa: F811
    a = elector(etcd_client, prefix, "a")
    a.open_session()
    etcd_client.revoke(a.lease)
    with pytest.raises(LeaseNotFound):
        a.campaign_put()
    assert a.phase == NONE


def test_fenced_resource_refuses_a_stale_token(tmp_path, etcd_client, prefix):  # noqa: F811
    """Two real leaders in turn: the old one's late write is refused, in the same transaction."""
    resource = FencedResource(tmp_path / "r.db")
    a, b = elector(etcd_client, prefix, "a"), elector(etcd_client, prefix, "b")
    for e in (a, b):
        e.open_session()
        e.campaign_put()
    assert a.poll_elected()
    old_token = a.token
    etcd_client.revoke(a.lease)
    assert b.poll_elected()
    assert resource.write(b.token, "b", "new")
    assert not resource.write(old_token, "a", "late")  # a's write, prepared before its pause
    assert resource.high() == b.token
    log = audit(resource)
    assert (log.accepted, log.refused, log.stale) == (1, 1, [])


def test_unfenced_resource_accepts_the_stale_token(tmp_path):
    resource = FencedResource(tmp_path / "r.db", fenced=False)
    assert resource.write(5, "b", "new") and resource.write(3, "a", "late")
    assert audit(resource).stale[0][:3] == (3, 5, "a")


def test_without_etcd_the_elector_refuses_to_start_in_one_line():
    dead = EtcdClient(f"http://127.0.0.1:{free_port()}", timeout=1)
    with pytest.raises(EtcdError) as info:
        LeaderElector(dead, "p", "a").start()
    message = str(info.value)
    assert "no etcd at http://127.0.0.1:" in message and "\n" not in message


def test_the_server_is_reaped_on_stop():
    server = EtcdServer().start()
    process, folder = server.process, server.dir
    server.stop()
    assert process.poll() is not None and not folder.exists()
