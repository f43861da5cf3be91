"""Leases in the store: of several engine instances on one store, one holds a named lease at a time.

Taken and renewed by one conditional UPDATE (``holder = me OR expires_at < now``); a missing row is
inserted, and a racing insert loses on the primary key. On SQLite every transaction is
``BEGIN IMMEDIATE`` (writers queue); on PostgreSQL the second UPDATE waits for the first's row lock
and re-checks its WHERE against the committed row, so it finds the lease taken. Taking the lease in
the same transaction as the work it guards (the tick) means a holder that stalled past its expiry
cannot commit its stale work after another instance took over: whichever commits second re-checks.

Expiry is processing time from the injected clock; hosts must agree on time to well within the
lease length.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.store.tables import LeaseRow

TICK_LEASE = "engine-tick"


def try_acquire(session: Session, name: str, holder: str, now: datetime, lease_s: float) -> bool:
    """Take or renew lease ``name`` for ``holder`` until ``now + lease_s``; False when another holds it."""
    expires_at = now + timedelta(seconds=lease_s)
    taken = cast(
        "CursorResult[Any]",
        session.execute(
            update(LeaseRow)
            .where(LeaseRow.name == name, or_(LeaseRow.holder == holder, LeaseRow.expires_at < now))
            .values(holder=holder, expires_at=expires_at)
            .execution_options(synchronize_session=False)
        ),
    )
    if taken.rowcount == 1:
        return True
    if session.get(LeaseRow, name, populate_existing=True) is not None:
        return False
    try:
        with session.begin_nested():
            session.add(LeaseRow(name=name, holder=holder, expires_at=expires_at))
            session.flush()
    except IntegrityError:
        return False  # another instance inserted it first
    return True


def release(session: Session, name: str, holder: str, now: datetime) -> bool:
    """Give the lease up (at shutdown) so another instance takes over at once; False if not held."""
    released = cast(
        "CursorResult[Any]",
        session.execute(
            update(LeaseRow)
            .where(LeaseRow.name == name, LeaseRow.holder == holder)
            .values(expires_at=now - timedelta(microseconds=1))
            .execution_options(synchronize_session=False)
        ),
    )
    return released.rowcount == 1


def holder_of(session: Session, name: str, now: datetime) -> str | None:
    """Who holds lease ``name`` now (None when nobody does)."""
    row = session.get(LeaseRow, name, populate_existing=True)
    return row.holder if row is not None and row.expires_at >= now else None
