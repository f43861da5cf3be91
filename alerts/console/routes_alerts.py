"""The alert board (``/console/alerts``), its live fragment, one alert's page, and acknowledge/snooze.

Actions are plain HTML form posts (they work without JavaScript: 303 back to the board) that htmx
upgrades in place (the updated row comes back). Both call ``alerts.effects`` with the logged-in
user as the actor; the role is checked here, on the server, whatever the page showed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from alerts.api.deps import ConsolePrincipalDep, StoreDep
from alerts.console import alert_board as ab
from alerts.console.respond import (
    conflict,
    forbidden,
    is_htmx,
    message,
    number,
    refused,
    safe_back,
    see_other,
    utc_minutes,
)
from alerts.console.web import PREFIX, page, templates
from alerts.effects import AlertActionError, acknowledge_alert, snooze_alert
from alerts.identity.roles import Action, Principal
from alerts.state import ActionError
from alerts.store.alert_repo import alert_history
from alerts.store.db import transaction
from alerts.store.tables import AlertRow
from alerts.workorders.errors import WorkOrderError
from forewarn.contracts.alert import Severity

ACTIVE = "alerts"
MAX_TEXT = 10_000  # a comment or reason (the REST API's limit)
ActionOp = Callable[[Session], AlertRow]
_ACTION_REFUSED = {
    ActionError.ALREADY_CLEARED: "This alert is already cleared: only an open alert can be acted on.",
    ActionError.ALREADY_ACKNOWLEDGED: "This alert is already acknowledged: its history says by whom.",
    ActionError.SNOOZE_IN_PAST: "A snooze must end after now.",
}
router = APIRouter()
root = APIRouter()
"""``GET /`` of the app (mounted without the console's prefix): off to the console."""


@root.get("/", include_in_schema=False)
def app_root() -> RedirectResponse:
    """The API's root is the console."""
    return see_other(f"{PREFIX}/")


@router.get("/")
def console_root() -> RedirectResponse:
    """The console opens on the alert board."""
    return see_other(ab.BOARD)


def _snooze_choices(store: StoreDep) -> dict[str, list[tuple[int, str]]]:
    limits = store.settings.max_snooze_h
    return {s.value: ab.snooze_choices(limits[s]) for s in Severity}


def _row_context(principal: Principal, store: StoreDep) -> dict[str, object]:
    return {
        "may_ack": principal.may(Action.ACK_ALERT),
        "may_snooze": principal.may(Action.SNOOZE_ALERT),
        "snooze_choices": _snooze_choices(store),
    }


def _board(request: Request, store: StoreDep) -> ab.Board:
    query = ab.parse_query(request.query_params)
    with transaction(store.sessions) as session:
        return ab.load_board(session, query)


@router.get("/alerts", response_class=HTMLResponse)
def board(request: Request, store: StoreDep, principal: ConsolePrincipalDep) -> HTMLResponse:
    """Open alerts by severity and site, filterable and sortable, refreshed every few seconds."""
    data = _board(request, store)
    return page(
        request, "alert_board.html", principal, ACTIVE, board=data, **_board_context(data, principal, store)
    )


def _board_context(data: ab.Board, principal: Principal, store: StoreDep) -> dict[str, object]:
    q = data.query
    sort_links = {
        key: (q.url(sort=key, desc=not q.desc if q.sort == key else key in ("risk", "raised"), page=1),
              ("▼" if q.desc else "▲") if q.sort == key else "")
        for key in ab.SORTS
    }  # fmt: skip
    last_page = max(1, -(-data.total // q.size))
    return {
        "q": q,
        "states": ab.STATES,
        "severities": [s.value for s in Severity],
        "sort_links": sort_links,
        "rows_url": q.url(f"{ab.BOARD}/rows"),
        "back": q.url(),
        "prev_url": q.url(page=q.page - 1) if q.page > 1 else "",
        "next_url": q.url(page=q.page + 1) if q.page < last_page else "",
        "last_page": last_page,
        **_row_context(principal, store),
    }


@router.get("/alerts/rows", response_class=HTMLResponse)
def board_rows(request: Request, store: StoreDep, principal: ConsolePrincipalDep) -> HTMLResponse:
    """The board's live part (counts, table, pager) alone: what htmx polls."""
    data = _board(request, store)
    context = {"board": data, "csrf_token": principal.csrf_token, "prefix": PREFIX}
    return templates.TemplateResponse(
        request, "alert_live.html", context | _board_context(data, principal, store)
    )


def _fields(row: AlertRow) -> list[tuple[str, str, str]]:
    """(label, value, link or "") of every field of the alert, in reading order."""
    wo = row.work_order_id
    return [
        ("Alert", row.alert_id, ""),
        ("Asset", row.asset_id, ab.asset_href(row.asset_id)),
        ("Site", row.site, ""),
        ("Failure mode", row.failure_mode, ""),
        ("Kind", row.kind, ""),
        ("Severity", row.severity, ""),
        ("State", row.state, ""),
        ("Risk at trigger", number(row.trigger_risk, 3), ""),
        ("RUL at trigger (cycles)", number(row.trigger_rul_cycles, 1), ""),
        ("Model", f"{row.model_name or '-'} version {row.model_version or '-'}", ""),
        ("First seen (event time)", utc_minutes(row.first_seen), ""),
        ("Last seen (event time)", utc_minutes(row.last_seen), ""),
        ("Occurrences", str(row.occurrence_count), ""),
        ("Raised", utc_minutes(row.raised_at), ""),
        ("Escalation tier", str(row.escalation_tier), ""),
        ("Acknowledged by", row.acknowledged_by or "-", ""),
        ("Acknowledged at", utc_minutes(row.acknowledged_at), ""),
        ("Comment", row.ack_comment or "-", ""),
        ("Snoozed until", utc_minutes(row.snoozed_until), ""),
        ("Cleared", utc_minutes(row.cleared_at), ""),
        ("Work order", f"#{wo}" if wo else "-", f"{PREFIX}/work-orders/{wo}" if wo else ""),
    ]


def _not_found(request: Request, principal: Principal, alert_id: str) -> HTMLResponse:
    shown = alert_id if len(alert_id) <= 100 else alert_id[:100] + "…"
    detail = f"Alert {shown} does not exist."
    return message(
        request, principal, status_code=404, title="Not found", detail=detail, back=ab.BOARD, active=ACTIVE
    )


@router.get("/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(
    request: Request, store: StoreDep, principal: ConsolePrincipalDep, alert_id: str
) -> HTMLResponse:
    """Every field of one alert and its history: who did what, when, with which model version and risk."""
    with transaction(store.sessions) as session:
        row = session.get(AlertRow, alert_id)
        if row is None:
            return _not_found(request, principal, alert_id)
        fields = _fields(row)
        history = ab.history_lines(alert_history(session, alert_id))
        current = ab.line(row)
    return page(
        request,
        "alert_detail.html",
        principal,
        ACTIVE,
        a=current,
        fields=fields,
        history=history,
        back=ab.alert_href(alert_id),
        **_row_context(principal, store),
    )


@router.get("/alerts/{alert_id}/actions", response_class=HTMLResponse)
def alert_actions(
    request: Request,
    store: StoreDep,
    principal: ConsolePrincipalDep,
    alert_id: str,
    back: str = "",
    open: str = "",
) -> HTMLResponse:
    """A board row's action forms, fetched when the operator opens one (``open``: ack or snooze)."""
    back = safe_back(back, ab.BOARD)
    with transaction(store.sessions) as session:
        row = session.get(AlertRow, alert_id)
        if row is None:
            return _not_found(request, principal, alert_id)
        current = ab.line(row)
    context = {
        "a": current,
        "back": back,
        "open": open if open in ("ack", "snooze") else "",
        "csrf_token": principal.csrf_token,
        "prefix": PREFIX,
    }
    return templates.TemplateResponse(request, "alert_actions.html", context | _row_context(principal, store))


def _checked_text(value: str, what: str, *, required: bool) -> str | None:
    """The reason a form text is refused, None when it is fine."""
    if required and not value.strip():
        return f"{what} is required."
    if len(value) > MAX_TEXT:
        return f"{what} is longer than {MAX_TEXT} characters."
    if "\x00" in value:
        return f"{what} contains a NUL character."
    return None


def _act(
    request: Request,
    store: StoreDep,
    principal: Principal,
    alert_id: str,
    back: str,
    op: ActionOp,
) -> Response:
    """Run ``op`` in one transaction; 303 back (or the updated row for htmx), or the refusal."""
    try:
        with transaction(store.sessions) as session:
            row = op(session)
            current = ab.line(row)
    except AlertActionError as exc:
        detail = _ACTION_REFUSED[exc.reason]
        return message(request, principal, status_code=409, title="Refused", detail=detail, back=back,
                       active=ACTIVE)  # fmt: skip
    except WorkOrderError as exc:
        return refused(request, principal, exc, back=back, active=ACTIVE)
    except StaleDataError:
        return conflict(request, principal, back=back, active=ACTIVE)
    if is_htmx(request):
        context = {"a": current, "back": back, "csrf_token": principal.csrf_token, "prefix": PREFIX}
        return templates.TemplateResponse(request, "alert_row.html", context | _row_context(principal, store))
    return see_other(back)


@router.post("/alerts/{alert_id}/ack")
def ack(
    request: Request,
    store: StoreDep,
    principal: ConsolePrincipalDep,
    alert_id: str,
    comment: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """Acknowledge with a comment: escalation stops; recorded as the logged-in user."""
    back = safe_back(back, ab.BOARD)
    if not principal.may(Action.ACK_ALERT):
        return forbidden(request, principal, "acknowledge alerts", back=back, active=ACTIVE)
    problem = _checked_text(comment, "A comment", required=True)
    if problem:
        return message(request, principal, status_code=422, title="Refused", detail=problem, back=back,
                       active=ACTIVE)  # fmt: skip
    now = store.clock.now()
    return _act(
        request,
        store,
        principal,
        alert_id,
        back,
        lambda s: acknowledge_alert(s, alert_id, by=principal.actor, comment=comment, now=now),
    )


@router.post("/alerts/{alert_id}/snooze")
def snooze(
    request: Request,
    store: StoreDep,
    principal: ConsolePrincipalDep,
    alert_id: str,
    reason: Annotated[str, Form()] = "",
    minutes: Annotated[str, Form()] = "",
    back: Annotated[str, Form()] = "",
) -> Response:
    """Snooze with a reason for one of the offered durations; the severity's maximum is enforced."""
    back = safe_back(back, ab.BOARD)
    if not principal.may(Action.SNOOZE_ALERT):
        return forbidden(request, principal, "snooze alerts", back=back, active=ACTIVE)
    problem = _checked_text(reason, "A reason", required=False)
    if problem is None and not (minutes.isdigit() and 0 < int(minutes) <= 10_000_000):
        problem = "Choose how long to snooze (a whole number of minutes)."
    if problem:
        return message(request, principal, status_code=422, title="Refused", detail=problem, back=back,
                       active=ACTIVE)  # fmt: skip
    now = store.clock.now()
    until = now + timedelta(minutes=int(minutes))
    return _act(
        request,
        store,
        principal,
        alert_id,
        back,
        lambda s: snooze_alert(
            s,
            alert_id,
            by=principal.actor,
            until=until,
            now=now,
            reason=reason,
            max_snooze_h=store.settings.max_snooze_h,
        ),
    )
