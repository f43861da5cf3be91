"""``/alerts``: list, read, acknowledge, snooze."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy import func, select

from alerts.api.deps import PagingDep, StoreDep, allowed
from alerts.api.schemas import AckIn, AlertOut, Page, SnoozeIn
from alerts.effects import acknowledge_alert, snooze_alert
from alerts.identity.roles import Action, Principal
from alerts.store.alert_repo import HistoryEntry, alert_history, select_alerts
from alerts.store.db import transaction
from alerts.store.tables import AlertRow
from alerts.workorders.errors import ErrorCode, WorkOrderError
from forewarn.contracts.alert import AlertState, Severity

AlertId = Annotated[str, Path(max_length=100)]
router = APIRouter(prefix="/alerts", tags=["alerts"])


@router.get("")
def list_alerts(
    store: StoreDep,
    page: PagingDep,
    asset_id: Annotated[str | None, Query(max_length=200)] = None,
    site: Annotated[str | None, Query(max_length=200)] = None,
    state: AlertState | None = None,
    severity: Severity | None = None,
    open_only: bool = False,
) -> Page[AlertOut]:
    """Alerts, newest first, filtered by asset, site, state, severity or open only."""
    q = select_alerts(asset_id=asset_id, site=site, state=state, severity=severity, open_only=open_only)
    with transaction(store.sessions) as session:
        total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = session.scalars(
            q.order_by(AlertRow.raised_at.desc(), AlertRow.alert_id).limit(page.limit).offset(page.offset)
        ).all()
        return Page(
            items=[AlertOut.model_validate(r) for r in rows],
            total=total,
            limit=page.limit,
            offset=page.offset,
        )


@router.get("/{alert_id}", responses={404: {"description": "No such alert"}})
def get_alert(store: StoreDep, alert_id: AlertId) -> AlertOut:
    """One alert."""
    with transaction(store.sessions) as session:
        row = session.get(AlertRow, alert_id)
        if row is None:
            raise WorkOrderError(ErrorCode.NOT_FOUND, f"alert {alert_id} does not exist")
        return AlertOut.model_validate(row)


@router.get("/{alert_id}/history", responses={404: {"description": "No such alert"}})
def history(store: StoreDep, alert_id: AlertId) -> list[HistoryEntry]:
    """Every change of the alert, oldest first: who made it, the model version, risk and RUL then,
    and when it reached Kafka ``alerts`` (None while it waits)."""
    with transaction(store.sessions) as session:
        if session.get(AlertRow, alert_id) is None:
            raise WorkOrderError(ErrorCode.NOT_FOUND, f"alert {alert_id} does not exist")
        return alert_history(session, alert_id)


@router.post(
    "/{alert_id}/ack", responses={404: {"description": "No such alert"}, 409: {"description": "Cleared"}}
)
def ack(
    store: StoreDep,
    alert_id: AlertId,
    body: AckIn,
    principal: Annotated[Principal, Depends(allowed(Action.ACK_ALERT))],
) -> AlertOut:
    """Acknowledge: escalation stops; the alert stays open until the rules clear it."""
    with transaction(store.sessions) as session:
        row = acknowledge_alert(
            session, alert_id, by=principal.actor, comment=body.comment, now=store.clock.now()
        )
        return AlertOut.model_validate(row)


@router.post(
    "/{alert_id}/snooze",
    responses={404: {"description": "No such alert"}, 409: {"description": "Cleared/past"}},
)
def snooze(
    store: StoreDep,
    alert_id: AlertId,
    body: SnoozeIn,
    principal: Annotated[Principal, Depends(allowed(Action.SNOOZE_ALERT))],
) -> AlertOut:
    """Snooze until a time, with a reason: no escalation until then."""
    with transaction(store.sessions) as session:
        row = snooze_alert(
            session,
            alert_id,
            by=principal.actor,
            until=body.until,
            reason=body.reason,
            now=store.clock.now(),
            max_snooze_h=store.settings.max_snooze_h,
        )
        return AlertOut.model_validate(row)
