"""The audit trail: every change records who, when, and the entity before and after.

Every work-order change passes here, so this is also where a status change queues its InfluxDB
``work_orders`` point (in the same transaction, written later from the outbox).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from alerts import influx_outbox
from alerts.influx_points import work_order_line
from alerts.store.tables import AuditRow, Base


def snapshot(row: Base) -> dict[str, Any]:
    """The row's column values as JSON-safe data (times as ISO 8601)."""
    out: dict[str, Any] = {}
    for attr in inspect(row).mapper.column_attrs:
        value = getattr(row, attr.key)
        out[attr.key] = value.isoformat() if isinstance(value, datetime) else value
    return out


def record(
    session: Session,
    *,
    entity: str,
    entity_id: str | int,
    action: str,
    actor: str,
    at: datetime,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
) -> None:
    """Add one audit entry to the current transaction (it commits or rolls back with the change)."""
    session.add(
        AuditRow(
            entity=entity,
            entity_id=str(entity_id),
            action=action,
            actor=actor,
            at=at,
            before=before,
            after=after,
        )
    )
    if entity == "work_order" and after is not None:
        influx_outbox.queue(session, [work_order_line(before, after, at)], at)
