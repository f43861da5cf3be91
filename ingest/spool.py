"""A bounded, durable, ordered on-disk queue of Kafka records for when Kafka cannot be reached.

SQLite in WAL mode with ``synchronous=FULL``: an append returns only once the records are on disk,
so the MQTT messages they came from can be acknowledged. Records leave in insertion order, and only
after Kafka accepted them (:meth:`Spool.remove_through`), so a crash while forwarding repeats records
(at least once) but never loses one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path

import orjson

from ingest.records import OutRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS spool (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    dlq INTEGER NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    headers BLOB NOT NULL
)
"""


class SpoolFullError(RuntimeError):
    """The spool cannot take the records; the caller must hold them (back-pressure), not drop them."""


class Spool:
    """The store-and-forward queue of one gateway.

    Args:
        path: the SQLite file (its folder is created).
        max_records: the bound; appending past it raises SpoolFullError.
    """

    def __init__(self, path: Path, max_records: int) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.max_records = max_records
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute(_SCHEMA)
        self._depth = int(self._db.execute("SELECT COUNT(*) FROM spool").fetchone()[0])

    @property
    def depth(self) -> int:
        """Records waiting."""
        return self._depth

    def free(self) -> int:
        """How many more records fit."""
        return max(0, self.max_records - self._depth)

    def fits(self, count: int) -> bool:
        """Whether ``count`` more records may be appended.

        The bound is soft by one append: an empty spool takes any one append, so a single message
        with more records than the bound (a batch of many bad elements) can never block forever.
        """
        return count <= self.free() or self._depth == 0

    def append(self, records: Sequence[OutRecord]) -> None:
        """Store ``records`` durably, all or none; SpoolFullError if they do not fit."""
        if not records:
            return
        if not self.fits(len(records)):
            raise SpoolFullError(f"spool holds {self._depth} of {self.max_records} records")
        rows = [(int(r.dlq), r.key, r.value, orjson.dumps([[k, v.decode("latin-1")] for k, v in r.headers]))
                for r in records]  # fmt: skip
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT INTO spool (dlq, key, value, headers) VALUES (?, ?, ?, ?)", rows)
        self._depth += len(records)

    def peek(self, limit: int) -> list[tuple[int, OutRecord]]:
        """The oldest ``limit`` records with their ids, oldest first; they stay until removed."""
        rows = self._db.execute(
            "SELECT id, dlq, key, value, headers FROM spool ORDER BY id LIMIT ?", (limit,)
        ).fetchall()
        return [
            (
                int(row_id),
                OutRecord(
                    dlq=bool(dlq),
                    key=bytes(key),
                    value=bytes(value),
                    headers=[(k, v.encode("latin-1")) for k, v in orjson.loads(headers)],
                ),
            )
            for row_id, dlq, key, value, headers in rows
        ]

    def remove_through(self, last_id: int) -> None:
        """Forget every record up to and including ``last_id`` (Kafka accepted them)."""
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            removed = self._db.execute("DELETE FROM spool WHERE id <= ?", (last_id,)).rowcount
        self._depth -= removed

    def remove(self, ids: Sequence[int]) -> None:
        """Forget the records ``ids`` (Kafka accepted them); the others keep their order.

        Used when a forwarded batch was accepted only in part: records of other assets after a
        failed one may have been accepted, records of the failed one's asset never are.
        """
        if not ids:
            return
        with self._db:
            self._db.execute("BEGIN IMMEDIATE")
            removed = self._db.executemany("DELETE FROM spool WHERE id = ?", [(i,) for i in ids]).rowcount
        self._depth -= removed

    def close(self) -> None:
        """Close the database (everything appended is already on disk)."""
        self._db.close()
