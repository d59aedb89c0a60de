"""A fenced resource: a SQLite table that refuses a stale fencing token in the write's own
transaction (Kleppmann, "How to do distributed locking", 2016).

Each write carries the writer's token (its leader key's create revision). The check and the
write are one ``BEGIN IMMEDIATE`` transaction, so no other writer, in this process or another,
slips in between: a token below the highest accepted one is refused. With ``fenced=False``
the same table accepts everything: the unfenced resource whose failures the checker shows.
Every accepted write is logged with its token, writer and time, every refusal too, so that a
run can be audited afterwards (:func:`audit`).

>>> import tempfile, os
>>> db = FencedResource(os.path.join(tempfile.mkdtemp(), "r.db"))
>>> db.write(3, "a", "x"), db.write(2, "b", "y"), db.high()
(True, False, 3)
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS fence (id INTEGER PRIMARY KEY CHECK (id = 1), high INTEGER NOT NULL);
INSERT OR IGNORE INTO fence (id, high) VALUES (1, 0);
CREATE TABLE IF NOT EXISTS writes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, token INTEGER NOT NULL, writer TEXT NOT NULL,
    value TEXT NOT NULL, at REAL NOT NULL, accepted INTEGER NOT NULL
);
"""


class FencedResource:
    """The protected resource at ``path`` (created if missing)."""

    def __init__(self, path: str | Path, fenced: bool = True) -> None:
        self.path = Path(path)
        self.fenced = fenced
        self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.executescript(_SCHEMA)

    def write(self, token: int, writer: str, value: str) -> bool:
        """Write ``value`` under ``token``; False when refused as stale (fenced mode only)."""
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            (high,) = db.execute("SELECT high FROM fence WHERE id = 1").fetchone()
            accepted = not (self.fenced and token < high)
            db.execute(
                "INSERT INTO writes (token, writer, value, at, accepted) VALUES (?, ?, ?, ?, ?)",
                (token, writer, value, time.time(), int(accepted)),
            )
            if accepted and token > high:
                db.execute("UPDATE fence SET high = ? WHERE id = 1", (token,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return accepted

    def high(self) -> int:
        """The highest token accepted so far (0: none)."""
        return self.db.execute("SELECT high FROM fence WHERE id = 1").fetchone()[0]

    def stale_accepted(self) -> bool:
        """Whether some accepted write carried a token below one accepted before it."""
        return bool(audit(self).stale)

    def close(self) -> None:
        """Close the connection."""
        self.db.close()


@dataclass
class Audit:
    """What the write log says: accepted and refused writes, and every stale acceptance."""

    accepted: int
    refused: int
    stale: list[tuple[int, int, str, float]]  # (token, highest before it, writer, time)


def audit(resource: FencedResource) -> Audit:
    """Read the log in order: count, and list every accepted write whose token went backwards."""
    high, stale, accepted, refused = 0, [], 0, 0
    rows = resource.db.execute("SELECT token, writer, at, accepted FROM writes ORDER BY seq")
    for token, writer, at, ok in rows:
        if not ok:
            refused += 1
            continue
        accepted += 1
        if token < high:
            stale.append((token, high, writer, at))
        high = max(high, token)
    return Audit(accepted, refused, stale)
