"""The durable vote: a node's term and vote, written atomically and fsynced.

The file ``DIR/vote.json`` holds one JSON object::

    {"format": "electkit-vote", "version": 1, "term": 3, "voted_for": 2, "crc32": 1234567890}

``crc32`` covers the other four fields, so a flipped digit is caught even though the JSON
still parses. A save writes ``vote.json.tmp``, fsyncs it, renames it over ``vote.json`` and
fsyncs the directory, so after a crash the file holds either the old or the new record, never
a mix. A file that is corrupt, truncated or of an unknown version is refused with a
StorageError naming it: starting again at term 0 could let the node vote twice in a term.

>>> import tempfile
>>> store = VoteStore(tempfile.mkdtemp())
>>> store.load()
Durable(term=0, voted_for=None)
>>> store.save(Durable(4, 2)); store.load()
Durable(term=4, voted_for=2)
"""

from __future__ import annotations

import json
import os
import zlib
from pathlib import Path

from impl.errors import MessageError, StorageError
from impl.node import Durable

FORMAT = "electkit-vote"
VERSION = 1
FILE_NAME = "vote.json"
MAX_TERM = 2**63 - 1  # well inside the wire's 64 bits, with room for every election to come
_MAX_SIZE = 4096  # a valid record is ~100 bytes; anything far larger is not ours


def _checksum(term: int, voted_for: int | None) -> int:
    payload = json.dumps([FORMAT, VERSION, term, voted_for], separators=(",", ":"))
    return zlib.crc32(payload.encode())


def encode_record(durable: Durable) -> bytes:
    """The exact bytes stored for ``durable``."""
    record = {"format": FORMAT, "version": VERSION, "term": durable.term,
              "voted_for": durable.voted_for,
              "crc32": _checksum(durable.term, durable.voted_for)}
    return (json.dumps(record) + "\n").encode()


def decode_record(data: bytes, path: Path) -> Durable:
    """Parse stored bytes; raise StorageError naming ``path`` when they are not a record."""
    def bad(why: str) -> StorageError:
        return StorageError(f"{path}: {why}; refusing to start (a lost vote could be cast "
                            f"twice): restore the file or remove it only if this node never voted")

    if not data.strip():
        raise bad("empty or truncated vote file")
    if len(data) > _MAX_SIZE:
        raise bad(f"vote file is {len(data)} bytes, not a vote record")
    try:
        record = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise bad(f"corrupt or truncated vote file ({exc.__class__.__name__}: {exc})") from None
    if not isinstance(record, dict) or record.get("format") != FORMAT:
        raise bad(f"not an {FORMAT} record")
    if record.get("version") != VERSION:
        raise bad(f"unknown format version {record.get('version')!r} (this build reads "
                  f"version {VERSION})")
    if set(record) != {"format", "version", "term", "voted_for", "crc32"}:
        raise bad(f"unexpected fields {sorted(record)}")
    term, voted_for = record["term"], record["voted_for"]
    if type(term) is int and term > MAX_TERM:
        # The wire carries 64-bit terms, and a timeout adds one: a larger stored term could
        # never be sent, and the node would sit silent.
        raise bad(f"term {term} is beyond the largest term the wire can carry ({MAX_TERM})")
    try:
        durable = Durable(term, voted_for)
    except MessageError as exc:
        raise bad(f"corrupt vote record ({exc})") from None
    if record["crc32"] != _checksum(term, voted_for):
        raise bad("checksum mismatch, the vote record is corrupt")
    return durable


class VoteStore:
    """Durable storage of one node's :class:`Durable` state in a directory."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.path = self.directory / FILE_NAME
        self._tmp = self.directory / (FILE_NAME + ".tmp")

    def load(self) -> Durable:
        """The stored state, or ``Durable(0, None)`` when nothing was ever saved."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            # A leftover .tmp means a first save died before its rename: nothing was sent
            # that depended on it, so term 0 is correct.
            return Durable(0, None)
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot read vote file ({exc.strerror})") from None
        return decode_record(data, self.path)

    def save(self, durable: Durable) -> None:
        """Write ``durable`` atomically and durably: tmp file, fsync, rename, fsync dir."""
        data = encode_record(durable)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd = os.open(self._tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(self._tmp, self.path)
            dir_fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)  # makes the rename itself durable
            finally:
                os.close(dir_fd)
        except OSError as exc:
            raise StorageError(f"{self.path}: cannot save vote ({exc.strerror or exc})") from None
