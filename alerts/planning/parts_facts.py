"""The facts the parts KPIs (:mod:`alerts.planning.parts_kpis`) count, read from the store.

Work orders' status changes come from the audit trail (every change is there, with who and when):
the first ``schedule`` or ``waiting_parts`` entry is the first scheduling attempt; a
``waiting_parts`` entry names the parts short (``parts_short``; entries written before #17 do not,
and then every kit line counts as short); a spell in waiting-parts ends with the entry that moves
the work order out of it (release, schedule, cancel).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.planning.parts_kpis import OrderPartsFacts
from alerts.store.tables import AuditRow, WorkOrderPartRow
from forewarn.contracts.work_order import WorkOrderStatus

_WAITING = WorkOrderStatus.WAITING_PARTS.value
_ACTIONS = ("schedule", "waiting_parts", "release", "cancel")


def _status(snapshot: dict[str, Any] | None) -> str | None:
    return None if snapshot is None else snapshot.get("status")


def load_facts(session: Session) -> list[OrderPartsFacts]:
    """Every work order that was scheduled or waited for parts, with its part history."""
    kit_lines: dict[int, int] = {
        wid: int(n)
        for wid, n in session.execute(
            select(WorkOrderPartRow.work_order_id, func.count())
            .where(WorkOrderPartRow.quantity > 0)
            .group_by(WorkOrderPartRow.work_order_id)
        )
    }
    first_short: dict[int, int] = {}
    spells: dict[int, list[tuple[datetime, datetime | None]]] = {}
    entries = session.execute(
        select(AuditRow.entity_id, AuditRow.action, AuditRow.at, AuditRow.before, AuditRow.after)
        .where(AuditRow.entity == "work_order", AuditRow.action.in_(_ACTIONS))
        .order_by(AuditRow.id)
    )
    for entity_id, action, at, before, after in entries:
        wid = int(entity_id)
        if wid not in first_short and action in ("schedule", "waiting_parts"):
            short = (after or {}).get("parts_short")
            lines = kit_lines.get(wid, 0)
            first_short[wid] = 0 if action == "schedule" else (len(short) if short is not None else lines)
        was, now_is = _status(before), _status(after)
        if now_is == _WAITING and was != _WAITING:
            spells.setdefault(wid, []).append((at, None))
        elif was == _WAITING and now_is != _WAITING and spells.get(wid):
            start, _ = spells[wid][-1]
            spells[wid][-1] = (start, at)
    ids = sorted(set(first_short) | set(spells))
    return [
        OrderPartsFacts(wid, kit_lines.get(wid, 0), first_short.get(wid), tuple(spells.get(wid, ())))
        for wid in ids
    ]
