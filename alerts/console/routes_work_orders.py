"""The dispatch board (``/console/work-orders``), one work order's page, and its lifecycle actions.

Each action is a form post calling ``alerts.workorders.service`` with the logged-in user as the actor,
after checking on the server that their role may take it on this work order (a technician only on
work orders assigned to them; a viewer never): 403 otherwise, and a refusal of the service is shown
with its reason (409/422), never as a stack trace. Success: 303 back to the work order's page.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Protocol

from fastapi import APIRouter, Form, Path, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from alerts.api.deps import ConsolePrincipalDep, StoreDep
from alerts.console import dispatch, order_forms
from alerts.console.order_detail import load_order
from alerts.console.respond import conflict, forbidden, message, refused, see_other
from alerts.console.web import page
from alerts.identity.roles import NEEDS, Action, Principal
from alerts.store.db import transaction
from alerts.workorders import service
from alerts.workorders.errors import WorkOrderError

ACTIVE = "work-orders"
WorkOrderId = Annotated[int, Path(ge=1, le=2_147_483_647)]
WORDS = {
    Action.APPROVE: "approve work orders",
    Action.SCHEDULE: "schedule work orders",
    Action.START: "start this work order",
    Action.COMPLETE: "complete this work order",
    Action.CLOSE: "close work orders",
    Action.CANCEL: "cancel work orders",
}
router = APIRouter()


@router.get("/work-orders", response_class=HTMLResponse)
def board(request: Request, store: StoreDep, principal: ConsolePrincipalDep) -> HTMLResponse:
    """Work orders with their parts status: filters (site, status, overdue, due before), sorting, pages."""
    q = dispatch.parse_query(request.query_params)
    now = store.clock.now()
    with transaction(store.sessions) as session:
        data = dispatch.load_dispatch(session, q, now)
    sort_links = {
        key: (q.url(sort=key, desc=not q.desc if q.sort == key else key == "created", page=1),
              ("▼" if q.desc else "▲") if q.sort == key else "")
        for key in dispatch.SORTS
    }  # fmt: skip
    last_page = max(1, -(-data.total // q.size))
    return page(
        request,
        "work_orders.html",
        principal,
        ACTIVE,
        board=data,
        q=q,
        statuses=dispatch.STATUSES,
        sort_links=sort_links,
        prev_url=q.url(page=q.page - 1) if q.page > 1 else "",
        next_url=q.url(page=q.page + 1) if q.page < last_page else "",
        last_page=last_page,
    )


def _href(work_order_id: int) -> str:
    return f"{dispatch.BOARD}/{work_order_id}"


@router.get("/work-orders/{work_order_id}", response_class=HTMLResponse)
def order_page(
    request: Request, store: StoreDep, principal: ConsolePrincipalDep, work_order_id: WorkOrderId
) -> HTMLResponse:
    """One work order: fields, parts, audit trail, report link, and the actions its status allows."""
    with transaction(store.sessions) as session:
        data = load_order(session, work_order_id, principal, store.clock.now())
    if data is None:
        detail = f"Work order {work_order_id} does not exist."
        return message(request, principal, status_code=404, title="Not found", detail=detail,
                       back=dispatch.BOARD, active=ACTIVE)  # fmt: skip
    return page(request, "work_order_detail.html", principal, ACTIVE, o=data, back=_href(work_order_id))


class _ForbiddenError(Exception):
    """The principal may not take the action on this work order (raised inside the transaction)."""


Op = Callable[[Session], object]


def _act(
    request: Request,
    store: StoreDep,
    principal: Principal,
    work_order_id: int,
    action: Action,
    build: Callable[[], Op],
) -> Response:
    """Check the role, read the form (``build``), then run the operation on the locked work order.

    The role is checked first (a viewer's forged post gets 403 whatever its form), then the form
    (422), then, in the transaction, whether the work order is the principal's to act on (403).
    """
    back = _href(work_order_id)
    if not principal.role.at_least(NEEDS[action]):  # before reading the form or taking any lock
        return forbidden(request, principal, WORDS[action], back=back, active=ACTIVE)
    try:
        op = build()
    except order_forms.FormError as exc:
        return message(request, principal, status_code=422, title="Refused", detail=str(exc), back=back,
                       active=ACTIVE)  # fmt: skip
    try:
        with transaction(store.sessions) as session:
            row = service.get(session, work_order_id)
            if not principal.may(action, assigned_to=row.technician_id):
                raise _ForbiddenError
            op(session)
    except _ForbiddenError:
        return forbidden(request, principal, WORDS[action], back=back, active=ACTIVE)
    except WorkOrderError as exc:
        return refused(request, principal, exc, back=back, active=ACTIVE)
    except StaleDataError:
        return conflict(request, principal, back=back, active=ACTIVE)
    return see_other(back)


class _NoFormOp(Protocol):
    def __call__(self, session: Session, work_order_id: int, *, actor: str, now: datetime) -> object: ...


def _no_form(fn: _NoFormOp, work_order_id: int, principal: Principal, now: datetime) -> Callable[[], Op]:
    """The ``build`` of an action without a form (approve, start, close)."""
    return lambda: lambda s: fn(s, work_order_id, actor=principal.actor, now=now)


@router.post("/work-orders/{work_order_id}/approve")
def approve(
    request: Request, store: StoreDep, principal: ConsolePrincipalDep, work_order_id: WorkOrderId
) -> Response:
    """requested → approved."""
    now = store.clock.now()
    return _act(
        request,
        store,
        principal,
        work_order_id,
        Action.APPROVE,
        _no_form(service.approve, work_order_id, principal, now),
    )


@router.post("/work-orders/{work_order_id}/schedule")
def schedule(
    request: Request,
    store: StoreDep,
    principal: ConsolePrincipalDep,
    work_order_id: WorkOrderId,
    start_at: Annotated[str, Form()] = "",
    technician_id: Annotated[str, Form()] = "",
) -> Response:
    """approved | waiting-parts → scheduled at ``start_at`` (UTC) with the technician chosen, kit reserved."""
    now = store.clock.now()

    def build() -> Op:
        when = order_forms.start_at(start_at)
        tech = order_forms.technician(technician_id)
        return lambda s: service.schedule(
            s, work_order_id, actor=principal.actor, now=now, technician_id=tech, start_at=when
        )

    return _act(request, store, principal, work_order_id, Action.SCHEDULE, build)


@router.post("/work-orders/{work_order_id}/start")
def start(
    request: Request, store: StoreDep, principal: ConsolePrincipalDep, work_order_id: WorkOrderId
) -> Response:
    """scheduled → in-progress: the technician is on site."""
    now = store.clock.now()
    return _act(
        request,
        store,
        principal,
        work_order_id,
        Action.START,
        _no_form(service.start, work_order_id, principal, now),
    )


@router.post("/work-orders/{work_order_id}/complete")
def complete(
    request: Request,
    store: StoreDep,
    principal: ConsolePrincipalDep,
    work_order_id: WorkOrderId,
    fault_found: Annotated[str, Form()] = "",
    failure_code: Annotated[str, Form()] = "",
    time_on_site_min: Annotated[str, Form()] = "",
    notes: Annotated[str, Form()] = "",
    part_sku: Annotated[list[str] | None, Form()] = None,
    part_used: Annotated[list[str] | None, Form()] = None,
    failed_at: Annotated[str, Form()] = "",
) -> Response:
    """in-progress → completed with the outcome (it becomes a training label; a found fault's at
    ``failed_at``, UTC, when the crew can tell: the service refuses one that does not fit, 422)."""
    now = store.clock.now()

    def build() -> Op:
        outcome = order_forms.outcome(
            fault_found, failure_code, time_on_site_min, notes, part_sku or [], part_used or [], failed_at
        )
        return lambda s: service.complete(s, work_order_id, outcome, actor=principal.actor, now=now)

    return _act(request, store, principal, work_order_id, Action.COMPLETE, build)


@router.post("/work-orders/{work_order_id}/close")
def close(
    request: Request, store: StoreDep, principal: ConsolePrincipalDep, work_order_id: WorkOrderId
) -> Response:
    """completed → closed."""
    now = store.clock.now()
    return _act(
        request,
        store,
        principal,
        work_order_id,
        Action.CLOSE,
        _no_form(service.close, work_order_id, principal, now),
    )


@router.post("/work-orders/{work_order_id}/cancel")
def cancel(
    request: Request,
    store: StoreDep,
    principal: ConsolePrincipalDep,
    work_order_id: WorkOrderId,
    reason: Annotated[str, Form()] = "",
) -> Response:
    """Any open status → cancelled with a reason; reserved parts go back to stock."""
    now = store.clock.now()

    def build() -> Op:
        why = order_forms.reason(reason)
        return lambda s: service.cancel(s, work_order_id, actor=principal.actor, now=now, reason=why)

    return _act(request, store, principal, work_order_id, Action.CANCEL, build)
