"""``/console/login`` and ``/console/logout``: a named user's browser session.

A login sets the ``forewarn_session`` cookie (HttpOnly, SameSite=Lax, Secure with
``FOREWARN_API_COOKIE_SECURE``) whose hash names a ``web_sessions`` row; the session's CSRF token
is put in every page (``page()``) and must come back with every form and htmx request
(:mod:`alerts.api.deps`). The login form itself is protected by a double-submit token (a short-lived
cookie echoed by the form), so another site cannot log a browser into someone else's account.
After a login the browser goes back where it was sent from (``next``), but only to a console page.
"""

from __future__ import annotations

import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from alerts.api.deps import SESSION_COOKIE, ConsolePrincipalDep, StoreDep
from alerts.console.web import NAV, PREFIX, page
from alerts.identity import users
from alerts.store.db import transaction

router = APIRouter()

LOGIN_COOKIE = "forewarn_login"  # the login form's double-submit token (not a session)
_LOGIN_TTL_S = 3600
_REFUSED = "Wrong name or password, or the account is disabled or locked for a while after many failures."
_EXPIRED = "The login form expired; please try again."
_NO_RETURN = (f"{PREFIX}/login", f"{PREFIX}/logout")


def default_landing() -> str:
    """Where a login without ``next`` lands: the first page of the menu."""
    return NAV[0][2]


def safe_next(value: str | None) -> str:
    """``value`` if it is a console page of this server (a local path under ``/console``), else
    the default landing page: a login link can never send a browser to another site."""
    if not value or len(value) > 2000 or any(ord(c) < 0x21 or c in '\\"<>`' for c in value):
        return default_landing()
    parts = urlsplit(value)
    path = parts.path
    if parts.scheme or parts.netloc or not value.startswith("/"):
        return default_landing()
    if not (path == PREFIX or path.startswith(f"{PREFIX}/")) or ".." in path.split("/"):
        return default_landing()
    if path.startswith(_NO_RETURN):
        return default_landing()
    return value


def _form(
    request: Request, *, next_path: str, username: str = "", error: str | None = None, status_code: int = 200
) -> HTMLResponse:
    token = secrets.token_urlsafe(24)
    response = page(
        request, "login.html", None, "login", next=next_path, username=username, error=error, login_csrf=token
    )
    response.status_code = status_code
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=_LOGIN_TTL_S,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path=f"{PREFIX}/login",
    )
    return response


def _secure(request: Request) -> bool:
    secure: bool = request.app.state.store.settings.cookie_secure
    return secure


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, store: StoreDep, next: str | None = None) -> Response:
    """The login form; an already logged-in browser goes straight on."""
    target = safe_next(next)
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        with transaction(store.sessions) as session:
            if users.principal_from_session(session, cookie, now=store.clock.now()) is not None:
                return RedirectResponse(target, status_code=303)
    return _form(request, next_path=target)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    store: StoreDep,
    username: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    """Check the name and password; on success a session cookie and off to ``next``."""
    target = safe_next(next)
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not secrets.compare_digest(
        csrf_token.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass")
    ):
        return _form(request, next_path=target, username=username[:200], error=_EXPIRED, status_code=400)
    settings = store.settings
    with transaction(store.sessions) as session:
        now = store.clock.now()
        found = users.authenticate(
            session,
            username,
            password,
            now=now,
            max_failures=settings.login_max_failures,
            lockout_s=settings.login_lockout_s,
        )
        new = None
        if not isinstance(found, users.LoginRefused):
            new = users.create_session(session, found, now=now, ttl_h=settings.session_ttl_h)
    if new is None:
        return _form(request, next_path=target, username=username[:200], error=_REFUSED, status_code=401)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        new.cookie,
        max_age=int(settings.session_ttl_h * 3600),
        httponly=True,
        samesite="lax",
        secure=settings.cookie_secure,
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path=f"{PREFIX}/login")
    return response


@router.post("/logout")
def logout(request: Request, store: StoreDep, principal: ConsolePrincipalDep) -> Response:
    """End the session (CSRF-checked like every form) and go to the login page."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie and principal.via == "session":
        with transaction(store.sessions) as session:
            users.end_session(session, cookie, now=store.clock.now())
    response = RedirectResponse(f"{PREFIX}/login", status_code=303)
    response.delete_cookie(
        SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=store.settings.cookie_secure
    )
    return response
