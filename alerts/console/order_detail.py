"""One work order's page: its fields, part lines with the site's stock, audit trail, and what may be done.

Which actions a person sees is what the lifecycle allows from the status and their role allows on this
work order (``Principal.may`` with its technician): the routes check the same again on the server.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.console.alert_board import alert_href, asset_href
from alerts.console.dispatch import PartsStatus, parts_status, technician_names
from alerts.console.respond import number, utc_minutes
from alerts.identity.roles import Action, Principal
from alerts.store.tables import AuditRow, PartStockRow, WorkOrderRow
from alerts.workorders import service
from alerts.workorders.crew import suggest
from alerts.workorders.lifecycle import can_transition
from forewarn.contracts.work_order import WorkOrderStatus

S = WorkOrderStatus
_TARGET = {
    Action.APPROVE: S.APPROVED,
    Action.SCHEDULE: S.SCHEDULED,
    Action.START: S.IN_PROGRESS,
    Action.COMPLETE: S.COMPLETED,
    Action.CLOSE: S.CLOSED,
    Action.CANCEL: S.CANCELLED,
}
ACTIONS = tuple(_TARGET)
_QUIET = frozenset({"updated_at", "version"})  # audit fields every change touches: not worth a line


def available(status: str, principal: Principal, technician_id: int | None) -> list[Action]:
    """The actions the lifecycle allows from ``status`` that ``principal`` may take on this order."""
    current = S(status)
    return [
        a
        for a in ACTIONS
        if can_transition(current, _TARGET[a]) and principal.may(a, assigned_to=technician_id)
    ]


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """``status: approved → scheduled; technician_id: - → 3``: what an audit entry changed."""
    if after is None:
        return ""
    if before is None:
        return "created"
    parts = []
    for key, value in after.items():
        old = before.get(key)
        if key not in _QUIET and old != value:
            parts.append(f"{key}: {'-' if old is None else old} → {'-' if value is None else value}")
    return "; ".join(parts)


@dataclass(frozen=True, slots=True)
class PartLine:
    """A part line with what the site has of it."""

    sku: str
    quantity: int
    reserved: int
    used: int
    free_at_site: str  # on hand minus reserved, "-" where the site has no stock row


@dataclass(frozen=True, slots=True)
class AuditLine:
    """One audit entry as the page shows it."""

    at: str
    action: str
    actor: str
    changes: str


@dataclass(frozen=True, slots=True)
class TechnicianChoice:
    """A technician offered for scheduling: suggested ones first, best first."""

    id: int
    label: str
    suggested: bool


@dataclass(frozen=True)
class OrderPage:
    """Everything the work order's page shows."""

    id: int
    status: str
    priority: str
    asset_id: str
    failure_mode: str
    fields: list[tuple[str, str, str]]  # (label, value, link or "")
    parts: list[PartLine]
    parts_status: PartsStatus
    audit: list[AuditLine]
    actions: list[Action]
    technicians: list[TechnicianChoice]  # for scheduling; empty when scheduling is not on offer
    report_href: str
    default_start: str  # the schedule form's first value: the next whole hour, UTC, datetime-local


def _fields(row: WorkOrderRow, technician: str) -> list[tuple[str, str, str]]:
    found = {None: "-", True: "yes", False: "no"}[row.fault_found]
    return [
        ("Status", row.status, ""),
        ("Priority", row.priority, ""),
        ("Severity", row.severity, ""),
        ("Asset", row.asset_id, asset_href(row.asset_id)),
        ("Site", row.site, ""),
        ("Failure mode", row.failure_mode, ""),
        ("Due by", utc_minutes(row.due_by), ""),
        ("Technician", technician, ""),
        ("Planned start", utc_minutes(row.scheduled_start), ""),
        ("Source alert", row.source_alert_id or "-", alert_href(row.source_alert_id) if row.source_alert_id
         else ""),
        ("Alert raised", utc_minutes(row.alert_raised_at), ""),
        ("Model", f"{row.model_name or '-'} version {row.model_version or '-'}", ""),
        ("Created", f"{utc_minutes(row.created_at)} by {row.created_by}", ""),
        ("Updated", utc_minutes(row.updated_at), ""),
        ("On site", utc_minutes(row.on_site_at), ""),
        ("Completed", utc_minutes(row.completed_at), ""),
        ("Closed", utc_minutes(row.closed_at), ""),
        ("Fault found", found, ""),
        ("Failure code", row.failure_code or "-", ""),
        ("Failed at", utc_minutes(row.failed_at), ""),
        ("Time on site (min)", number(row.time_on_site_min, 0), ""),
        ("Notes", row.notes or "-", ""),
    ]  # fmt: skip


def _technicians(session: Session, row: WorkOrderRow) -> list[TechnicianChoice]:
    """Suggested technicians first (``crew.suggest``, as ``service.suggestions``), then the others."""
    everyone = service.candidates(session)
    ranked = suggest(everyone, row.failure_mode, row.site)
    chosen = {s.technician_id for s in ranked}
    out = [TechnicianChoice(s.technician_id, f"{s.name} ({', '.join(s.reasons)})", True) for s in ranked]
    others = sorted((c for c in everyone if c.active and c.technician_id not in chosen), key=lambda c: c.name)
    out += [TechnicianChoice(c.technician_id, f"{c.name} (not suggested: {c.site})", False) for c in others]
    if row.technician_id is not None:  # the one assigned already comes first
        out.sort(key=lambda t: t.id != row.technician_id)
    return out


def next_hour(now: datetime) -> str:
    """The next whole hour after ``now`` as a ``datetime-local`` value (UTC)."""
    return (now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")


def load_order(session: Session, work_order_id: int, principal: Principal, now: datetime) -> OrderPage | None:
    """The page of one work order in a handful of queries; None when it does not exist."""
    row = session.get(WorkOrderRow, work_order_id)
    if row is None:
        return None
    lines = service.part_lines(session, row.id)
    stock = {
        s.sku: s
        for s in session.scalars(
            select(PartStockRow).where(
                PartStockRow.site == row.site, PartStockRow.sku.in_([p.sku for p in lines])
            )
        )
    }
    parts = [
        PartLine(
            p.sku, p.quantity, p.reserved_qty, p.used_qty,
            str(stock[p.sku].on_hand - stock[p.sku].reserved) if p.sku in stock else "-",
        )
        for p in lines
    ]  # fmt: skip
    audits = session.scalars(
        select(AuditRow)
        .where(AuditRow.entity == "work_order", AuditRow.entity_id == str(row.id))
        .order_by(AuditRow.id)
    )
    audit = [AuditLine(utc_minutes(a.at), a.action, a.actor, changes(a.before, a.after)) for a in audits]
    names = technician_names(session, {row.technician_id} if row.technician_id else set())
    technician = names.get(row.technician_id, "-") if row.technician_id else "-"
    actions = available(row.status, principal, row.technician_id)
    return OrderPage(
        id=row.id,
        status=row.status,
        priority=row.priority,
        asset_id=row.asset_id,
        failure_mode=row.failure_mode,
        fields=_fields(row, technician),
        parts=parts,
        parts_status=parts_status(row.status, lines),
        audit=audit,
        actions=actions,
        technicians=_technicians(session, row) if Action.SCHEDULE in actions else [],
        report_href=f"/work-orders/{row.id}/report",
        default_start=next_hour(now),
    )
