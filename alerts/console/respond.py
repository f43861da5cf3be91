"""What the console's action routes answer: a redirect back, an htmx fragment, or a refusal page.

A refusal (a cleared alert, a snooze too long, an illegal transition, a forbidden role) is shown to
the person as a message with its reason and the right HTTP status, never as a stack trace. An htmx
request gets the message alone (``base.html`` sends every 4xx/5xx body of an htmx request into
``#flash``); a plain form post gets the whole page.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from alerts.console.web import PREFIX, page, templates
from alerts.identity.roles import Principal
from alerts.workorders.errors import WorkOrderError

MAX_SHOWN_DETAIL = 500  # a refusal's detail is cut here: a message never echoes a large input whole


def utc_minutes(at: datetime | None) -> str:
    """A time as ``2026-01-01T08:30Z`` (UTC, minutes: what an operator reads), ``-`` for none."""
    if at is None:
        return "-"
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def number(value: float | None, digits: int) -> str:
    """``value`` with ``digits`` decimals, ``-`` for none."""
    return "-" if value is None else f"{value:.{digits}f}"


def is_htmx(request: Request) -> bool:
    """Whether htmx sent the request (it then wants a fragment, not a page)."""
    return request.headers.get("HX-Request") == "true"


def safe_back(value: str | None, default: str) -> str:
    """``value`` if it is a console path (where a form may send the browser back), else ``default``.

    Only a path under the console is followed: never another host (``//evil``, ``https://…``).
    """
    if (
        value
        and value.startswith(f"{PREFIX}/")
        and not value.startswith("//")
        and "\\" not in value
        and len(value) <= 2000
        and value.isprintable()
    ):
        return value
    return default


def url(path: str, params: dict[str, str]) -> str:
    """``path`` with the non-empty ``params`` as its query string."""
    kept = {k: v for k, v in params.items() if v}
    return f"{path}?{urlencode(kept)}" if kept else path


def see_other(target: str) -> RedirectResponse:
    """303 to ``target``: the browser reloads it with GET (no form resubmission on refresh)."""
    return RedirectResponse(target, status_code=303)


def message(
    request: Request,
    principal: Principal | None,
    *,
    status_code: int,
    title: str,
    detail: str,
    back: str,
    active: str,
) -> HTMLResponse:
    """A refusal or error as a page (or, for htmx, the message alone) with ``status_code``."""
    shown = detail if len(detail) <= MAX_SHOWN_DETAIL else detail[:MAX_SHOWN_DETAIL] + "…"
    context = {"title": title, "detail": shown, "back": back, "status_code": status_code}
    response: HTMLResponse
    if is_htmx(request):
        response = templates.TemplateResponse(request, "message_fragment.html", context)
    else:
        response = page(request, "message.html", principal, active, **context)
    response.status_code = status_code
    return response


def refused(
    request: Request, principal: Principal, exc: WorkOrderError, *, back: str, active: str
) -> HTMLResponse:
    """The page of a refused operation, with its reason's status (404, 409 or 422)."""
    status_code = exc.code.http_status
    title = "Not found" if status_code == 404 else "Refused"
    return message(
        request, principal, status_code=status_code, title=title, detail=exc.detail, back=back, active=active
    )


def forbidden(request: Request, principal: Principal, what: str, *, back: str, active: str) -> HTMLResponse:
    """403: the principal's role may not do ``what`` (nothing was changed)."""
    detail = f"{principal.name} ({principal.role.value}) may not {what}."
    return message(
        request, principal, status_code=403, title="Not allowed", detail=detail, back=back, active=active
    )


def conflict(request: Request, principal: Principal, *, back: str, active: str) -> HTMLResponse:
    """409: someone else changed the same thing at the same time."""
    detail = "Changed by someone else at the same time; look at it again and retry."
    return message(
        request, principal, status_code=409, title="Conflict", detail=detail, back=back, active=active
    )
