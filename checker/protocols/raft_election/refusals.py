"""The fault stage's checks without injected faults: what a node must refuse to start from.

- :func:`second_node`: a second node on the data directory of a running one is refused (the
  directory's lock), in one line naming the lock; once the first stopped, a node starts.
- :func:`damaged`: a damaged vote file stops the node from starting, in one line naming the
  file: every truncation of a record, a term changed under its checksum, records no node of
  this build writes (each with a checksum that fits), garbage.

Both run the real :class:`impl.server.ElectionServer` in the caller's event loop, on the
harness of checker/protocols/raft_election/iofaults.py.
"""

from __future__ import annotations

import json
import shutil
from typing import TYPE_CHECKING, Any

from impl.errors import ImplError, StorageError
from impl.node import Durable
from impl.server import ElectionServer
from impl.storage import checksum, encode_record

if TYPE_CHECKING:
    from checker.protocols.raft_election.iofaults import Harness

DAMAGED_FROM = Durable(15, 2)  # the record the damaged files are made of


async def second_node(h: Harness) -> list[str]:
    """A second node on a running node's data directory is refused; after a stop, it starts."""
    data_dir = h.fresh_dir()
    timeout = (30.0, 30.0)
    first = ElectionServer(h.config(data_dir, timeout), store=h.store_class(data_dir))
    second = ElectionServer(h.config(data_dir, timeout, port=1), store=h.store_class(data_dir))
    again = ElectionServer(h.config(data_dir, timeout, port=1), store=h.store_class(data_dir))
    findings = []
    try:
        await first.start()
        try:
            await second.start()
        except StorageError as exc:
            if "vote.lock" not in str(exc) or "\n" in str(exc):
                findings.append(f"second node refused, but not in one line naming the lock: {exc}")
        else:
            findings.append("a second node started on the data directory of a running node")
        await second.stop()
        await first.stop()
        try:
            await again.start()
        except ImplError as exc:
            findings.append(f"no node could start after the first stopped (lock kept): {exc}")
    except Exception as exc:  # noqa: BLE001 - a node that cannot even start is a finding
        findings.append(f"the lock check failed: {exc.__class__.__name__}: {exc}")
    finally:
        for server in (first, second, again):
            await server.stop()
    return [f.replace(str(data_dir), "DIR") for f in findings]


def _record(**fields: Any) -> bytes:
    """A vote record with ``fields`` changed and its checksum made to fit them."""
    record = json.loads(encode_record(DAMAGED_FROM))
    record.update(fields)
    record["crc32"] = checksum(record.get("term"), record.get("voted_for"))
    return json.dumps(record).encode()


def damaged_files() -> list[tuple[str, bytes]]:
    """Damaged vote files: each truncation of a record, a term changed under its checksum,
    records no node of this build wrote (each with a checksum that fits), garbage."""
    good = encode_record(DAMAGED_FROM)
    cases = [(f"first {k} of {len(good)} bytes", good[:k]) for k in range(len(good.rstrip()))]
    return cases + [
        ("term 15 changed to 14, checksum kept", good.replace(b'"term": 15', b'"term": 14')),
        ("format version 2", _record(version=2)),
        ("another format", _record(format="electkit-other")),
        ("an extra field", _record(leader=2)),
        ("term -1", _record(term=-1)),
        ("term beyond the wire's 64 bits", _record(term=2**64)),
        ("vote as a string", _record(voted_for="2")),
        ("a list, not a record", b"[15, 2]"),
        ("a record padded past 4 KiB", good.rstrip() + b" " * 5000 + b"\n"),
        ("garbage", b"\xff\xfe\x00garbage"),
    ]


async def damaged(h: Harness) -> tuple[int, list[str]]:
    findings = []
    cases = damaged_files()
    for what, data in cases:
        data_dir = h.fresh_dir()
        data_dir.mkdir(parents=True)
        (data_dir / "vote.json").write_bytes(data)
        server = ElectionServer(h.config(data_dir, (30.0, 30.0)), store=h.store_class(data_dir))
        try:
            await server.start()
        except StorageError as exc:
            if "vote.json" not in str(exc) or "\n" in str(exc):
                findings.append(f"damaged vote file ({what}): refused, but not in one line "
                                f"naming the file: {exc}")
        except Exception as exc:  # noqa: BLE001 - anything but one clear refusal is a finding
            findings.append(f"damaged vote file ({what}): start failed with "
                            f"{exc.__class__.__name__}: {exc}")
        else:
            findings.append(f"started from a damaged vote file ({what}) at term {server.term}")
        finally:
            await server.stop()
            shutil.rmtree(data_dir.parent, ignore_errors=True)
    return len(cases), [f.replace(str(h.root), "DIR") for f in findings]
