"""Storing alert changes and their effects in one transaction: alert rows, work orders, outbox, audit.

Both the engine (rule changes) and the operators (acknowledge, snooze: the API and ``forewarn alerts
ack|snooze``) go through here, so every alert change is audited and published the same way, and the
rules that tie an alert to its work order hold whoever made the change: a work order's priority and
due time follow its alert's severity up; a snooze has a reason and a maximum per severity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime

from sqlalchemy.orm import Session

from alerts import influx_outbox
from alerts.influx_points import alert_line
from alerts.state import ActionError, AlertChange, acknowledge, snooze
from alerts.store import alert_repo
from alerts.store.tables import AlertRow
from alerts.workorders import audit
from alerts.workorders.errors import ErrorCode, WorkOrderError
from alerts.workorders.lifecycle import DEFAULT_MAX_SNOOZE_H, DEFAULT_SLA_H, snooze_limit
from alerts.workorders.service import KnownOrders, NewWorkOrder, open_work_order, reprioritise
from forewarn.contracts.alert import AlertKind, ChangeKind, Severity
from forewarn.contracts.work_order import Priority


def store_changes(
    session: Session,
    changes: Iterable[AlertChange],
    *,
    actor: str,
    now: datetime,
    work_order_min_severity: Severity | None = Severity.MINOR,
    sla_h: Mapping[Priority, float] = DEFAULT_SLA_H,
) -> list[AlertChange]:
    """Store each change; a raised risk alert at or above ``work_order_min_severity`` opens a work order.

    A change that leaves an alert more severe than before (``severity_changed``, or any other change
    whose alert is more severe than the stored one) raises its open work order's priority and brings
    its due time forward (:func:`alerts.workorders.service.reprioritise`: audited as ``reprioritise``
    by ``actor``, never lowered).

    Returns:
        The changes as stored (a raised alert carries its work-order id).
    """
    changes = list(changes)
    # Held for the loop: the identity map keeps rows only weakly, and a ``session.get`` that misses
    # it is a SELECT per change (after an autoflush). An id not read here has no row yet; a row
    # this loop inserts is added.
    rows: dict[str, AlertRow | None] = dict.fromkeys(change.alert.alert_id for change in changes)
    rows.update(alert_repo.alert_rows(session, rows))
    orders = KnownOrders(
        session,
        alert_ids=list(rows),
        keys={(change.alert.asset_id, change.alert.failure_mode) for change in changes},
        order_ids={
            order_id
            for order_id in (
                *(change.alert.work_order_id for change in changes),
                *(row.work_order_id for row in rows.values() if row is not None),
            )
            if order_id is not None
        },
    )
    stored: list[AlertChange] = []
    for change in changes:
        alert = change.alert
        wants_order = (
            change.kind in (ChangeKind.RAISED, ChangeKind.SEVERITY_CHANGED)
            and alert.kind is AlertKind.RISK
            and alert.work_order_id is None
            and work_order_min_severity is not None
            and alert.severity.rank <= work_order_min_severity.rank
        )
        if wants_order:
            order, _created = open_work_order(
                session,
                NewWorkOrder(
                    asset_id=alert.asset_id,
                    site=alert.site,
                    failure_mode=alert.failure_mode,
                    severity=alert.severity,
                    alert_id=alert.alert_id,
                    alert_raised_at=alert.raised_at,
                    model_name=alert.model_name,
                    model_version=alert.model_version,
                ),
                actor=actor,
                now=now,
                sla_h=sla_h,
                known=orders,
            )
            change = replace(change, alert=alert.model_copy(update={"work_order_id": order.id}))
        existing = rows[change.alert.alert_id]
        before = audit.snapshot(existing) if existing is not None else None
        if existing is not None and existing.work_order_id and change.alert.work_order_id is None:
            change = replace(
                change, alert=change.alert.model_copy(update={"work_order_id": existing.work_order_id})
            )
        rose = change.kind is ChangeKind.SEVERITY_CHANGED or (
            existing is not None and Severity(existing.severity).rank > change.alert.severity.rank
        )
        if rose and change.alert.work_order_id is not None:
            reprioritise(
                session,
                change.alert.work_order_id,
                change.alert.severity,
                actor=actor,
                now=now,
                sla_h=sla_h,
                known=orders,
            )
        row = rows[change.alert.alert_id] = alert_repo.save_alert(session, change.alert, existing)
        alert_repo.add_to_outbox(session, change, now)
        influx_outbox.queue(session, [alert_line(change)], now)
        audit.record(
            session,
            entity="alert",
            entity_id=change.alert.alert_id,
            action=change.kind.value,
            actor=actor,
            at=now,
            before=before,
            after=audit.snapshot(row),
        )
        stored.append(change)
    return stored


def _open_alert(session: Session, alert_id: str) -> AlertRow:
    row = session.get(AlertRow, alert_id, with_for_update=True)
    if row is None:
        raise WorkOrderError(ErrorCode.NOT_FOUND, f"alert {alert_id} does not exist")
    return row


class AlertActionError(WorkOrderError):
    """An operator action the alert's state refuses (the API answers 409); ``reason`` says which rule."""

    def __init__(self, alert_id: str, reason: ActionError, detail: str = "") -> None:
        super().__init__(ErrorCode.ILLEGAL_TRANSITION, f"alert {alert_id}: {reason.value}{detail}")
        self.reason = reason


def _refused(result: AlertChange | ActionError, alert_id: str) -> AlertChange:
    if isinstance(result, ActionError):
        raise AlertActionError(alert_id, result)
    return result


def acknowledge_alert(session: Session, alert_id: str, *, by: str, comment: str, now: datetime) -> AlertRow:
    """Acknowledge a stored alert (stops escalation); published and audited."""
    alert = alert_repo.row_to_alert(_open_alert(session, alert_id))
    result = acknowledge(alert, by, comment, now)
    if result is ActionError.ALREADY_ACKNOWLEDGED:
        at = alert.acknowledged_at.isoformat(timespec="seconds") if alert.acknowledged_at else "?"
        raise AlertActionError(alert_id, result, f" (by {alert.acknowledged_by} at {at})")
    change = _refused(result, alert_id)
    store_changes(session, [change], actor=by, now=now, work_order_min_severity=None)
    return _open_alert(session, alert_id)


def snooze_alert(
    session: Session,
    alert_id: str,
    *,
    by: str,
    until: datetime,
    now: datetime,
    reason: str,
    max_snooze_h: Mapping[Severity, float] = DEFAULT_MAX_SNOOZE_H,
) -> AlertRow:
    """Snooze a stored alert until ``until`` (the reason goes with the change); published and audited.

    A snooze silences escalation, so it must say why (a blank ``reason`` is refused) and may not
    outlast the alert's severity's maximum (``max_snooze_h``, the API settings'
    ``FOREWARN_API_MAX_SNOOZE_H``; by default the SLA of the priority the severity opens). Both
    refusals are INVALID (the API answers 422) and name the rule.
    """
    if not reason.strip():
        raise WorkOrderError(ErrorCode.INVALID, "a snooze needs a reason (who is on it, what is awaited)")
    alert = alert_repo.row_to_alert(_open_alert(session, alert_id))
    change = _refused(snooze(alert, until, now, reason), alert_id)
    latest = snooze_limit(alert.severity, now, max_snooze_h)
    if until > latest:
        raise WorkOrderError(
            ErrorCode.INVALID,
            f"a {alert.severity.value} alert may be snoozed for at most "
            f"{max_snooze_h[alert.severity]:g} h, until {latest.isoformat()} at the latest; "
            f"{until.isoformat()} is later",
        )
    store_changes(session, [change], actor=by, now=now, work_order_min_severity=None)
    return _open_alert(session, alert_id)
