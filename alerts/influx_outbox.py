"""The InfluxDB outbox: points stored with their change, written to InfluxDB afterwards.

Every alert change and work-order status change adds its point (``alerts.influx_points``) to
``influx_outbox`` in the same transaction, so the store never waits on InfluxDB. The engine and the
API each run a :class:`Flusher` that writes pending points through ``forewarn.influx.InfluxWriter``
and marks them written. InfluxDB down: points stay pending and the flusher backs off and tries again
later (nothing lost, nothing blocked). A point InfluxDB refuses (HTTP 4xx, e.g. a field type clash)
is marked with the error, kept, counted and logged, so it never blocks the points behind it.

Several flushers may write the same pending point twice; that is harmless, as InfluxDB keeps one
point per series and timestamp (the same point overwrites itself).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from alerts.clock import Clock
from alerts.store.db import transaction
from alerts.store.tables import InfluxOutboxRow
from forewarn.influx import InfluxWriteError, InfluxWriter

log = logging.getLogger(__name__)

KEEP_WRITTEN = timedelta(hours=1)
"""Written points are deleted after this long (the outbox is a queue, not an archive)."""


def queue(session: Session, lines: Sequence[str | None], now: datetime) -> int:
    """Add points to the outbox in the caller's transaction; returns how many."""
    rows = [InfluxOutboxRow(line=p, created_at=now) for p in lines if p is not None]
    session.add_all(rows)
    return len(rows)


def pending_count(session: Session) -> int:
    """Points waiting to be written (refused ones excluded)."""
    return (
        session.scalar(
            select(func.count())
            .select_from(InfluxOutboxRow)
            .where(InfluxOutboxRow.written_at.is_(None), InfluxOutboxRow.error.is_(None))
        )
        or 0
    )


def _refused(exc: InfluxWriteError) -> bool:
    # forewarn.influx raises one error type for both; a refusal (4xx) says so in its message
    return str(exc).startswith("InfluxDB refused")


@dataclass
class FlushStats:
    """Counters since start."""

    written: int = 0
    refused: int = 0
    failures: int = 0  # flush attempts that found InfluxDB unreachable or failing
    last_error: str | None = None


@dataclass
class Flusher:
    """Writes pending outbox points when due, backing off while InfluxDB is unreachable.

    Args:
        sessions: the store.
        writer: where points go; give it a short ``retry_budget_s`` so a flush never stalls its caller.
        clock: processing time.
        interval_s: how often ``maybe_flush`` writes.
        max_backoff_s: the longest wait between attempts while InfluxDB is down.
        batch: points per outbox read.
    """

    sessions: sessionmaker[Session]
    writer: InfluxWriter
    clock: Clock
    interval_s: float = 2.0
    max_backoff_s: float = 60.0
    batch: int = 1000
    stats: FlushStats = field(default_factory=FlushStats)
    _next_at: datetime | None = None
    _backoff_s: float = 0.0

    def maybe_flush(self) -> int:
        """Flush if the interval (or the back-off after a failure) has passed; returns points written."""
        now = self.clock.now()
        if self._next_at is not None and now < self._next_at:
            return 0
        written = self.flush()
        now = self.clock.now()
        if self.stats.last_error is None:
            self._backoff_s = 0.0
            self._next_at = now + timedelta(seconds=self.interval_s)
        else:
            self._backoff_s = min(max(self._backoff_s * 2, self.interval_s), self.max_backoff_s)
            self._next_at = now + timedelta(seconds=self._backoff_s)
        return written

    def flush(self) -> int:
        """Write every pending point now; stop at the first sign InfluxDB is down. Returns points written."""
        self.stats.last_error = None
        total = 0
        while True:
            with transaction(self.sessions) as session:
                rows = [
                    (r.id, r.line)
                    for r in session.scalars(
                        select(InfluxOutboxRow)
                        .where(InfluxOutboxRow.written_at.is_(None), InfluxOutboxRow.error.is_(None))
                        .order_by(InfluxOutboxRow.id)
                        .limit(self.batch)
                    )
                ]
            if not rows:
                break
            written, refused, down = self._write(rows)
            now = self.clock.now()
            with transaction(self.sessions) as session:
                if written:
                    session.execute(
                        update(InfluxOutboxRow)
                        .where(InfluxOutboxRow.id.in_(written))
                        .values(written_at=now)
                        .execution_options(synchronize_session=False)
                    )
                for row_id, error in refused.items():
                    session.execute(
                        update(InfluxOutboxRow)
                        .where(InfluxOutboxRow.id == row_id)
                        .values(error=error[:2000])
                        .execution_options(synchronize_session=False)
                    )
                session.execute(
                    delete(InfluxOutboxRow)
                    .where(InfluxOutboxRow.written_at < now - KEEP_WRITTEN)
                    .execution_options(synchronize_session=False)
                )
            total += len(written)
            self.stats.written += len(written)
            self.stats.refused += len(refused)
            if down is not None:
                self.stats.failures += 1
                self.stats.last_error = down
                queued = len(rows) - len(written)
                log.warning("InfluxDB write failed, %d points stay queued: %s", queued, down)
                break
            if len(rows) < self.batch:
                break
        return total

    def _write(self, rows: list[tuple[int, str]]) -> tuple[list[int], dict[int, str], str | None]:
        """(ids written, ids refused with InfluxDB's reason, the outage if InfluxDB is down)."""
        try:
            self.writer.write(line for _, line in rows)
            return [i for i, _ in rows], {}, None
        except InfluxWriteError as exc:
            if not _refused(exc):
                return [], {}, str(exc)
        # A refused batch: find the bad points one by one so the good ones still get through.
        written: list[int] = []
        refused: dict[int, str] = {}
        for row_id, point in rows:
            try:
                self.writer.write([point])
                written.append(row_id)
            except InfluxWriteError as exc:
                if not _refused(exc):
                    return written, refused, str(exc)
                refused[row_id] = str(exc)
                log.error("InfluxDB refused outbox point %d (kept with the error): %s", row_id, exc)
        return written, refused, None
