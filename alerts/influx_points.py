"""InfluxDB points of alert and work-order changes, built through ``forewarn.contracts.influx_schema``.

``alerts``: one point per alert change. Tags site, asset_id, failure_mode (so two failure modes of
one asset changing in the same millisecond stay two points), severity, state, kind, change,
model_version; fields alert_id, risk, rul_cycles, occurrences, escalation_tier, work_order_id.

``work_orders``: one point when a work order opens, at every status change and when its priority
rises with its alert (``reprioritise``: same status, the new priority tag). Tags site, asset_id,
status, priority, failure_mode, model_version; fields work_order_id (a string: ids grow without
end), sla_breached (1 when the change came after ``due_by``), fault_found (on ``completed``),
response_s (on ``in_progress``: source alert raised → technician on site), failure_code and
time_on_site_min (on ``completed``).

Pure functions: the points are built inside the store transaction of the change and written later
from the outbox (``alerts.influx_outbox``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from alerts.state import AlertChange, event_from_change
from forewarn.contracts.influx_schema import ALERTS, WORK_ORDERS
from forewarn.influx import FieldValue


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def _when(value: object) -> datetime | None:
    """A time from an audit snapshot (ISO 8601 text) or a row (datetime)."""
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return datetime.fromisoformat(value)
    return None


def _fields(values: Mapping[str, FieldValue | None]) -> dict[str, FieldValue]:
    return {k: v for k, v in values.items() if v is not None}


def alert_line(change: AlertChange) -> str | None:
    """The ``alerts`` point of one alert change."""
    e = event_from_change(change)
    tags = {
        "site": e.site,
        "asset_id": e.asset_id,
        "failure_mode": e.failure_mode,
        "severity": e.severity.value,
        "state": e.state.value,
        "kind": e.kind,
        "change": e.change.value,
        "model_version": e.model_version or "",
    }
    fields = _fields(
        {
            "alert_id": e.alert_id,
            "risk": e.trigger_risk,
            "rul_cycles": e.trigger_rul_cycles,
            "occurrences": e.occurrence_count,
            "escalation_tier": e.escalation_tier,
            "work_order_id": None if e.work_order_id is None else str(e.work_order_id),
        }
    )
    return ALERTS.point(tags, fields, _ms(e.change_ts))


def alert_lines(changes: Iterable[AlertChange]) -> list[str]:
    """One ``alerts`` point per change."""
    return [p for p in (alert_line(c) for c in changes) if p is not None]


def work_order_line(before: Mapping[str, Any] | None, after: Mapping[str, Any], at: datetime) -> str | None:
    """The ``work_orders`` point of a work-order change, or None when neither its status nor its
    priority changed.

    Args:
        before: the work order before the change (an audit snapshot), None when it was just opened.
        after: the work order after the change (an audit snapshot: times as ISO 8601 text).
        at: when the change happened.
    """
    status = str(after["status"])
    if before is not None and before.get("status") == status and before.get("priority") == after["priority"]:
        return None  # assignment, notes…: neither a status nor a priority change
    due_by = _when(after.get("due_by"))
    fields: dict[str, FieldValue | None] = {
        "work_order_id": str(after["id"]),
        "sla_breached": int(due_by is not None and at > due_by),
    }
    if status == "completed":
        found = after.get("fault_found")
        fields["fault_found"] = None if found is None else int(bool(found))
        fields["failure_code"] = after.get("failure_code")
        fields["time_on_site_min"] = after.get("time_on_site_min")
    if status == "in_progress":
        raised, on_site = _when(after.get("alert_raised_at")), _when(after.get("on_site_at"))
        if raised is not None and on_site is not None:
            fields["response_s"] = (on_site - raised).total_seconds()
    tags = {
        "site": str(after["site"]),
        "asset_id": str(after["asset_id"]),
        "status": status,
        "priority": str(after["priority"]),
        "failure_mode": str(after["failure_mode"]),
        "model_version": str(after.get("model_version") or ""),
    }
    return WORK_ORDERS.point(tags, _fields(fields), _ms(at))
