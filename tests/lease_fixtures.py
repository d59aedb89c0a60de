"""Fixtures for the lease election tests: one real etcd per test module, on loopback.

Import them into a test module with ``from tests.lease_fixtures import etcd, etcd_client``.
"""

from __future__ import annotations

import itertools

import pytest

from impl.lease.etcd_client import EtcdClient
from impl.lease.etcd_server import EtcdServer

_PREFIXES = itertools.count()


@pytest.fixture(scope="module")
def etcd():
    """A real etcd server, started for the module and stopped (and reaped) after it."""
    with EtcdServer() as server:
        yield server


@pytest.fixture
def etcd_client(etcd):
    """A client of the module's etcd."""
    client = EtcdClient(etcd.url)
    yield client
    client.close()


@pytest.fixture
def prefix() -> str:
    """An election prefix no other test of the module uses."""
    return f"election-{next(_PREFIXES)}"
