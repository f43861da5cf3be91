"""``/work-orders``: open (idempotent), list and filter, lifecycle actions, suggestions, audit, and
the report of the work order's asset (sensors, risk and RUL around its time)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from alerts.api.deps import PagingDep, StoreDep, allowed, require
from alerts.api.schemas import (
    AssignIn,
    AuditOut,
    CancelIn,
    CompleteIn,
    Page,
    PartLineOut,
    ScheduleIn,
    SuggestionOut,
    WorkOrderIn,
    WorkOrderOut,
)
from alerts.identity.roles import Action, Principal
from alerts.report import ReportError, ReportSources, build, work_order_window
from alerts.report_render import ReportFormat, render
from alerts.store.db import transaction
from alerts.store.tables import AlertRow, AuditRow, WorkOrderRow
from alerts.workorders import service
from alerts.workorders.errors import ErrorCode, WorkOrderError
from forewarn.contracts.alert import Severity
from forewarn.contracts.work_order import WorkOrderStatus

WorkOrderId = Annotated[int, Path(ge=1, le=2_147_483_647)]
router = APIRouter(prefix="/work-orders", tags=["work orders"])
_ERRORS: dict[int | str, dict[str, object]] = {
    403: {"description": "The user's role may not (or, a technician: not assigned to them)"},
    404: {"description": "No such work order"},
    409: {"description": "Not allowed from the current status"},
}


def _may(action: Action) -> Any:
    """The dependency of a route taking ``action``: its principal, if their role may (else 403)."""
    return Depends(allowed(action))


def _own(session: Session, principal: Principal, action: Action, work_order_id: int) -> None:
    """403 unless ``principal`` may take ``action`` on this work order (a technician: theirs only)."""
    require(principal, action, assigned_to=service.get(session, work_order_id).technician_id)


def _out(session: Session, row: WorkOrderRow) -> WorkOrderOut:
    out = WorkOrderOut.model_validate(row)
    out.parts = [PartLineOut.model_validate(p) for p in service.part_lines(session, row.id)]
    return out


@router.post(
    "", status_code=status.HTTP_201_CREATED, responses={200: {"description": "Already open"}, **_ERRORS}
)
def open_work_order(
    store: StoreDep,
    body: WorkOrderIn,
    response: Response,
    principal: Annotated[Principal, _may(Action.OPEN_WORK_ORDER)],
) -> WorkOrderOut:
    """Open a work order: 201 when new, 200 with the open one for this alert or (asset, failure mode)."""
    now = store.clock.now()
    with transaction(store.sessions) as session:
        alert: AlertRow | None = None
        if body.alert_id is not None:
            alert = session.get(AlertRow, body.alert_id)
            if alert is None:
                raise WorkOrderError(ErrorCode.NOT_FOUND, f"alert {body.alert_id} does not exist")
            new = service.NewWorkOrder(
                asset_id=alert.asset_id,
                site=alert.site,
                failure_mode=alert.failure_mode,
                severity=Severity(alert.severity),
                alert_id=alert.alert_id,
                alert_raised_at=alert.raised_at,
                model_name=alert.model_name,
                model_version=alert.model_version,
            )
        else:
            new = service.NewWorkOrder(
                str(body.asset_id), str(body.site), str(body.failure_mode), Severity(str(body.severity))
            )
        row, created = service.open_work_order(
            session, new, actor=principal.actor, now=now, sla_h=store.settings.sla_hours
        )
        if alert is not None and alert.work_order_id is None:
            alert.work_order_id = row.id
        if not created:
            response.status_code = status.HTTP_200_OK
        return _out(session, row)


@router.get("")
def list_work_orders(
    store: StoreDep,
    page: PagingDep,
    asset_id: Annotated[str | None, Query(max_length=200)] = None,
    site: Annotated[str | None, Query(max_length=200)] = None,
    failure_mode: Annotated[str | None, Query(max_length=100)] = None,
    status_: Annotated[WorkOrderStatus | None, Query(alias="status")] = None,
    technician_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> Page[WorkOrderOut]:
    """Work orders, newest first, filtered by asset, site, failure mode, status or technician."""
    q = select(WorkOrderRow)
    for column, value in (
        (WorkOrderRow.asset_id, asset_id),
        (WorkOrderRow.site, site),
        (WorkOrderRow.failure_mode, failure_mode),
        (WorkOrderRow.status, status_.value if status_ else None),
        (WorkOrderRow.technician_id, technician_id),
    ):
        if value is not None:
            q = q.where(column == value)
    with transaction(store.sessions) as session:
        total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = session.scalars(q.order_by(WorkOrderRow.id.desc()).limit(page.limit).offset(page.offset)).all()
        return Page(items=[_out(session, r) for r in rows], total=total, limit=page.limit, offset=page.offset)


@router.get("/{work_order_id}", responses=_ERRORS)
def get_work_order(store: StoreDep, work_order_id: WorkOrderId) -> WorkOrderOut:
    """One work order with its parts."""
    with transaction(store.sessions) as session:
        return _out(session, service.get(session, work_order_id))


def _act(store: StoreDep, work_order_id: WorkOrderId, op: Callable[[Session], WorkOrderRow]) -> WorkOrderOut:
    with transaction(store.sessions) as session:
        return _out(session, op(session))


@router.post("/{work_order_id}/approve", responses=_ERRORS)
def approve(
    store: StoreDep, work_order_id: WorkOrderId, principal: Annotated[Principal, _may(Action.APPROVE)]
) -> WorkOrderOut:
    """requested → approved."""
    now = store.clock.now()
    return _act(
        store, work_order_id, lambda s: service.approve(s, work_order_id, actor=principal.actor, now=now)
    )


@router.post("/{work_order_id}/assign", responses=_ERRORS)
def assign(
    store: StoreDep,
    work_order_id: WorkOrderId,
    body: AssignIn,
    principal: Annotated[Principal, _may(Action.ASSIGN)],
) -> WorkOrderOut:
    """Assign a technician."""
    now = store.clock.now()
    return _act(
        store,
        work_order_id,
        lambda s: service.assign(s, work_order_id, body.technician_id, actor=principal.actor, now=now),
    )


@router.post("/{work_order_id}/schedule", responses=_ERRORS)
def schedule(
    store: StoreDep,
    work_order_id: WorkOrderId,
    body: ScheduleIn,
    principal: Annotated[Principal, _may(Action.SCHEDULE)],
) -> WorkOrderOut:
    """approved | waiting-parts → scheduled (kit reserved) or → waiting-parts when the site is short."""
    now = store.clock.now()
    return _act(
        store,
        work_order_id,
        lambda s: service.schedule(
            s,
            work_order_id,
            actor=principal.actor,
            now=now,
            technician_id=body.technician_id,
            start_at=body.start_at,
        ),
    )


@router.post("/{work_order_id}/start", responses=_ERRORS)
def start(
    store: StoreDep, work_order_id: WorkOrderId, principal: Annotated[Principal, _may(Action.START)]
) -> WorkOrderOut:
    """scheduled → in-progress (technician on site; a technician starts only their own)."""
    now = store.clock.now()

    def op(s: Session) -> WorkOrderRow:
        _own(s, principal, Action.START, work_order_id)
        return service.start(s, work_order_id, actor=principal.actor, now=now)

    return _act(store, work_order_id, op)


@router.post("/{work_order_id}/complete", responses=_ERRORS)
def complete(
    store: StoreDep,
    work_order_id: WorkOrderId,
    body: CompleteIn,
    principal: Annotated[Principal, _may(Action.COMPLETE)],
) -> WorkOrderOut:
    """in-progress → completed, with the outcome (a technician completes only their own)."""
    now = store.clock.now()
    outcome = service.Outcome(
        fault_found=body.fault_found,
        failure_code=body.failure_code,
        notes=body.notes,
        parts_used=body.parts_used,
        time_on_site_min=body.time_on_site_min,
        failed_at=body.failed_at,
    )

    def op(s: Session) -> WorkOrderRow:
        _own(s, principal, Action.COMPLETE, work_order_id)
        return service.complete(s, work_order_id, outcome, actor=principal.actor, now=now)

    return _act(store, work_order_id, op)


@router.post("/{work_order_id}/close", responses=_ERRORS)
def close(
    store: StoreDep, work_order_id: WorkOrderId, principal: Annotated[Principal, _may(Action.CLOSE)]
) -> WorkOrderOut:
    """completed → closed."""
    now = store.clock.now()
    return _act(
        store, work_order_id, lambda s: service.close(s, work_order_id, actor=principal.actor, now=now)
    )


@router.post("/{work_order_id}/cancel", responses=_ERRORS)
def cancel(
    store: StoreDep,
    work_order_id: WorkOrderId,
    body: CancelIn,
    principal: Annotated[Principal, _may(Action.CANCEL)],
) -> WorkOrderOut:
    """Any open status → cancelled (reservations released)."""
    now = store.clock.now()
    return _act(
        store,
        work_order_id,
        lambda s: service.cancel(s, work_order_id, actor=principal.actor, now=now, reason=body.reason),
    )


@router.get("/{work_order_id}/suggestions", responses=_ERRORS)
def suggestions(store: StoreDep, work_order_id: WorkOrderId) -> list[SuggestionOut]:
    """Technicians for this work order, best first (skills, site/territory, load)."""
    with transaction(store.sessions) as session:
        return [
            SuggestionOut(technician_id=s.technician_id, name=s.name, reasons=list(s.reasons))
            for s in service.suggestions(session, work_order_id)
        ]


@router.get("/{work_order_id}/audit", responses=_ERRORS)
def audit_trail(store: StoreDep, work_order_id: WorkOrderId) -> list[AuditOut]:
    """Every change of this work order, oldest first."""
    with transaction(store.sessions) as session:
        service.get(session, work_order_id)
        rows = session.scalars(
            select(AuditRow)
            .where(AuditRow.entity == "work_order", AuditRow.entity_id == str(work_order_id))
            .order_by(AuditRow.id)
        ).all()
        return [AuditOut.model_validate(r) for r in rows]


@router.get(
    "/{work_order_id}/report",
    response_class=Response,
    responses={
        200: {"content": {"text/html": {}, "image/png": {}}, "description": "The report page or figure"},
        503: {"description": "InfluxDB not configured or not answering"},
        **_ERRORS,
    },
)
def report(
    store: StoreDep, request: Request, work_order_id: WorkOrderId, format: ReportFormat = ReportFormat.HTML
) -> Response:
    """The work order's asset on one page: sensors, risk and RUL from a week before its alert to its
    close (or now), its alerts and work orders marked (HTML; ``format=png`` for the figure alone)."""
    sources: ReportSources | None = request.app.state.report_sources
    if sources is None:
        detail = "this API has no InfluxDB settings (FOREWARN_INFLUX_*) to draw reports from"
        return JSONResponse({"code": "report_unavailable", "detail": detail}, status_code=503)
    try:
        with transaction(store.sessions) as session:
            order = service.get(session, work_order_id)
            alert = session.get(AlertRow, order.source_alert_id) if order.source_alert_id else None
            window = work_order_window(order, alert, store.clock.now())
            data = build(order.asset_id, window, sources.influx, session, sources.unit_of)
    except ReportError as exc:
        return JSONResponse({"code": "report_unavailable", "detail": str(exc)}, status_code=503)
    media = "image/png" if format is ReportFormat.PNG else "text/html; charset=utf-8"
    return Response(render(data, format), media_type=media)
