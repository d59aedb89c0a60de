"""The few etcd v3 calls an elector needs, through etcd's JSON gateway, standard library only.

etcd serves its gRPC API as JSON over HTTP at ``/v3/...`` (grpc-gateway): keys and values
are base64, 64-bit integers are strings. Each thread keeps one persistent HTTP connection.
Every failure to talk to etcd, or an error answer, raises :class:`EtcdError` with the call
named; a lease etcd does not know raises :class:`LeaseNotFound`.
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from impl.errors import ImplError


class EtcdError(ImplError):
    """A call to etcd failed: connection refused, timeout, or an error answer."""


class LeaseNotFound(EtcdError):
    """etcd does not know the lease (it expired or was revoked)."""


def b64(text: str | bytes) -> str:
    """``text`` as the gateway writes bytes: base64."""
    raw = text.encode() if isinstance(text, str) else text
    return base64.b64encode(raw).decode()


def unb64(value: str) -> str:
    """The inverse of :func:`b64`, as text."""
    return base64.b64decode(value).decode()


def prefix_end(prefix: str) -> str:
    """The range end that makes a range cover every key starting with ``prefix``."""
    raw = bytearray(prefix.encode())
    raw[-1] += 1
    return raw.decode()


class EtcdClient:
    """A client of one etcd endpoint, e.g. ``EtcdClient("http://127.0.0.1:2379")``."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname or not parts.port:
            raise EtcdError(f"etcd URL must look like http://127.0.0.1:2379, got {url!r}")
        self.url = url
        self.host, self.port = parts.hostname, parts.port
        self.timeout = timeout
        self._local = threading.local()

    # --- transport ------------------------------------------------------------------------
    def _connection(self) -> http.client.HTTPConnection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            self._local.conn = conn
        return conn

    def call(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST ``body`` to ``/v3/<path>`` and return the decoded answer."""
        data = json.dumps(body).encode()
        for attempt in (1, 2):  # a kept-alive connection the server closed: retry once
            conn = self._connection()
            try:
                conn.request("POST", "/v3/" + path, data, {"Content-Type": "application/json"})
                reply = conn.getresponse()
                text = reply.read()
                break
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                self._local.conn = None
                if attempt == 2:
                    raise EtcdError(f"{path}: etcd at {self.url} closed the connection") from None
            except OSError as exc:
                conn.close()
                self._local.conn = None
                raise EtcdError(f"{path}: etcd at {self.url} unreachable ({exc})") from None
        try:
            answer = json.loads(text)
        except ValueError:
            raise EtcdError(f"{path}: not JSON from etcd: {text[:100]!r}") from None
        if reply.status != 200 or "error" in answer:
            message = answer.get("message") or answer.get("error") or text[:200]
            if "lease not found" in str(message):
                raise LeaseNotFound(f"{path}: {message}")
            raise EtcdError(f"{path}: etcd answered {reply.status}: {message}")
        return answer.get("result", answer)

    def close(self) -> None:
        """Close this thread's connection."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    # --- leases ---------------------------------------------------------------------------
    def grant(self, ttl: int) -> tuple[int, int]:
        """A new lease of ``ttl`` seconds: ``(lease id, granted ttl)``."""
        answer = self.call("lease/grant", {"TTL": ttl})
        return int(answer["ID"]), int(answer["TTL"])

    def keep_alive(self, lease: int) -> int:
        """Refresh ``lease``: its new TTL in seconds; :class:`LeaseNotFound` once it is gone."""
        answer = self.call("lease/keepalive", {"ID": str(lease)})
        ttl = int(answer.get("TTL", 0))
        if ttl <= 0:
            raise LeaseNotFound(f"lease/keepalive: lease {lease:x} not found")
        return ttl

    def revoke(self, lease: int) -> None:
        """Revoke ``lease`` now: etcd deletes the keys attached to it."""
        self.call("lease/revoke", {"ID": str(lease)})

    def time_to_live(self, lease: int) -> int:
        """Seconds left on ``lease``; -1 when etcd no longer has it."""
        answer = self.call("lease/timetolive", {"ID": str(lease)})
        return int(answer.get("TTL", -1))

    # --- keys -----------------------------------------------------------------------------
    def txn(
        self, compare: list[dict], success: list[dict], failure: list[dict] | None = None
    ) -> dict[str, Any]:
        """One transaction: ``{"succeeded": bool, "responses": [...], "header": {...}}``."""
        answer = self.call(
            "kv/txn", {"compare": compare, "success": success, "failure": failure or []}
        )
        answer.setdefault("succeeded", False)
        answer.setdefault("responses", [])
        return answer

    def range(self, key: str, range_end: str | None = None, **options: Any) -> dict[str, Any]:
        """A range read; ``options`` are the gateway's RangeRequest fields."""
        body: dict[str, Any] = {"key": b64(key), **options}
        if range_end is not None:
            body["range_end"] = b64(range_end)
        answer = self.call("kv/range", body)
        answer.setdefault("kvs", [])
        return answer

    def put(self, key: str, value: str, lease: int = 0) -> int:
        """Put ``key``; returns the store's revision after it."""
        body: dict[str, Any] = {"key": b64(key), "value": b64(value)}
        if lease:
            body["lease"] = str(lease)
        return int(self.call("kv/put", body)["header"]["revision"])

    def wait_delete(self, key: str, revision: int, timeout: float) -> bool:
        """Block until ``key`` is deleted at or after ``revision``; False on timeout.

        A watch on its own connection, as etcd's ``waitDelete`` does.
        """
        for event in self.watch(key, revision, timeout):
            if event.get("type") == "DELETE":
                return True
        return False

    def watch(self, key: str, revision: int, timeout: float) -> Iterator[dict[str, Any]]:
        """The events on ``key`` from ``revision`` on, until ``timeout`` seconds pass."""
        conn = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        body = {"create_request": {"key": b64(key), "start_revision": str(revision)}}
        deadline = time.monotonic() + timeout
        try:
            conn.request("POST", "/v3/watch", json.dumps(body).encode())
            reply = conn.getresponse()
            if reply.status != 200:
                raise EtcdError(f"watch: etcd answered {reply.status}")
            while time.monotonic() < deadline:
                conn.sock.settimeout(max(0.01, deadline - time.monotonic()))
                line = reply.readline()
                if not line:
                    return
                result = json.loads(line).get("result", {})
                yield from result.get("events", [])
        except TimeoutError:
            return
        except OSError as exc:
            raise EtcdError(f"watch: etcd at {self.url} unreachable ({exc})") from None
        finally:
            conn.close()
