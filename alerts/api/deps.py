"""What every route needs: the store, the clock, the settings, and who is asking.

Who is asking (:class:`Principal`) comes from ``Authorization: Bearer <a user's API token>`` or
else from the console's session cookie; a session's unsafe request (POST, PUT, PATCH, DELETE) must
echo the session's CSRF token (header ``X-CSRF-Token`` or form field ``csrf_token``). Routes state
the action they take with ``Depends(allowed(Action.X))``; refusals are :class:`AccessError` (401, 403),
answered by the app as ``{"code", "detail"}``.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from alerts.clock import Clock
from alerts.identity import users
from alerts.identity.roles import NEEDS, Action, Principal
from alerts.settings import ApiSettings
from alerts.store.db import transaction

SESSION_COOKIE = "forewarn_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


@dataclass(frozen=True)
class Store:
    """The app's store and clock, built once in ``create_app``."""

    sessions: sessionmaker[Session]
    clock: Clock
    settings: ApiSettings


def get_store(request: Request) -> Store:
    """The store of the running app."""
    store: Store = request.app.state.store
    return store


_bearer = HTTPBearer(auto_error=False, description="A user's API token (`forewarn users token NAME`).")


class AccessError(Exception):
    """A request refused before its route ran: 401 (who are you?) or 403 (not you, not this)."""

    def __init__(self, status_code: int, code: str, detail: str, headers: dict[str, str] | None = None):
        super().__init__(detail)
        self.status_code = status_code
        self.code = code
        self.detail = detail
        self.headers = headers


class LoginRequiredError(Exception):
    """A console page without a login: the app redirects (303) to the login page, then back."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


def _unauthenticated() -> AccessError:
    return AccessError(
        401,
        "unauthenticated",
        "give `Authorization: Bearer <token>` (`forewarn users token NAME`) or log in to the console",
        {"WWW-Authenticate": "Bearer"},
    )


async def _csrf_given(request: Request) -> str:
    given = request.headers.get(CSRF_HEADER)
    if given is not None:
        return given
    if request.headers.get("content-type", "").startswith(_FORMS):
        value = (await request.form()).get(CSRF_FIELD)
        return value if isinstance(value, str) else ""
    return ""


async def _resolve(request: Request, credentials: HTTPAuthorizationCredentials | None) -> Principal | None:
    """The principal of a token or a session cookie, None when neither names one; CSRF checked."""
    store = get_store(request)
    cookie = request.cookies.get(SESSION_COOKIE)

    def lookup() -> Principal | None:
        with transaction(store.sessions) as session:
            now = store.clock.now()
            if credentials is not None:
                return users.principal_from_token(session, credentials.credentials, now=now)
            if cookie:
                return users.principal_from_session(session, cookie, now=now)
            return None

    if credentials is None and not cookie:
        return None
    principal = await run_in_threadpool(lookup)
    if principal is not None and principal.via == "session" and request.method in _UNSAFE:
        expected = (principal.csrf_token or "").encode()
        given = (await _csrf_given(request)).encode("utf-8", "surrogatepass")
        if not expected or not secrets.compare_digest(given, expected):
            detail = f"missing or wrong CSRF token: send the session's in {CSRF_HEADER} or {CSRF_FIELD}"
            raise AccessError(403, "csrf", detail)
    request.state.principal = principal
    return principal


async def current_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """Who is asking: a user's API token, else a console session; 401 when neither is valid."""
    principal = await _resolve(request, credentials)
    if principal is None:
        raise _unauthenticated()
    return principal


async def console_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """:func:`current_principal` for console pages: without a login, off to the login page."""
    principal = await _resolve(request, credentials)
    if principal is None:
        raise LoginRequiredError(_back_to(request))
    return principal


def _back_to(request: Request) -> str:
    """Where to return after logging in: the page itself, or for an htmx request (a fragment) the
    page that asked for it (``HX-Current-URL``). The login page accepts only console paths."""
    current = request.headers.get("HX-Current-URL") if request.headers.get("HX-Request") else None
    url = urlsplit(current) if current else None
    if url is not None and url.path:
        return url.path + (f"?{url.query}" if url.query else "")
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


PrincipalDep = Annotated[Principal, Depends(current_principal)]
ConsolePrincipalDep = Annotated[Principal, Depends(console_principal)]


def forbidden(principal: Principal, action: Action) -> AccessError:
    """The 403 of ``principal`` trying ``action``."""
    return AccessError(403, "forbidden", f"{principal.role.value} may not {action.value}")


def _check(principal: Principal, action: Action) -> Principal:
    if not principal.role.at_least(NEEDS[action]):
        raise forbidden(principal, action)
    return principal


def allowed(action: Action) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """A dependency: the principal, if their role may take ``action`` (403 ``forbidden`` if not).

    Use as ``principal: Annotated[Principal, Depends(allowed(Action.APPROVE))]``. START and COMPLETE
    pass here for a technician; the route then checks the work order is theirs (:func:`require`).
    """

    async def dependency(principal: PrincipalDep) -> Principal:
        return _check(principal, action)

    return dependency


def console_allowed(action: Action) -> Callable[..., Coroutine[Any, Any, Principal]]:
    """:func:`allowed` for console pages: without a login, off to the login page (303)."""

    async def dependency(principal: ConsolePrincipalDep) -> Principal:
        return _check(principal, action)

    return dependency


def require(principal: Principal, action: Action, *, assigned_to: int | None = None) -> None:
    """403 unless ``principal`` may take ``action`` on a work order assigned to ``assigned_to``."""
    if not principal.may(action, assigned_to=assigned_to):
        detail = f"{principal.role.value} may not {action.value}"
        if principal.role.at_least(NEEDS[action]):
            detail += " a work order not assigned to them"
        raise AccessError(403, "forbidden", detail)


@dataclass(frozen=True)
class Paging:
    """``limit`` and ``offset`` of a list request."""

    limit: int
    offset: int


def paging(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Page size (capped by max_page_size).")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Paging:
    """Page parameters, with ``limit`` capped by the settings."""
    return Paging(min(limit, get_store(request).settings.max_page_size), offset)


StoreDep = Annotated[Store, Depends(get_store)]
PagingDep = Annotated[Paging, Depends(paging)]
