"""Logging in to the console as a named user, through the real login form, with a browser's cookies.

Each user gets their own ``TestClient`` (their own cookie jar) without any ``Authorization`` header:
the console sees them only through their session cookie, and every post must carry their session's
CSRF token, as a browser's would.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from alerts.identity import users
from alerts.identity.roles import Role
from alerts.store.db import transaction
from tests.unit.alerts.api_scenarios import PASSWORD
from tests.unit.alerts.helpers import T0

_HIDDEN_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Browser:
    """A logged-in user's client and their session's CSRF token."""

    name: str
    client: TestClient
    csrf: str

    def get(self, path: str, **params: Any) -> httpx.Response:
        """GET a console page (redirects not followed)."""
        response: httpx.Response = self.client.get(path, params=params or None, follow_redirects=False)
        return response

    def post(self, path: str, data: dict[str, Any] | None = None, *, csrf: bool = True,
             htmx: bool = False) -> httpx.Response:  # fmt: skip
        """POST a form as the page would (with the CSRF field unless ``csrf=False``)."""
        form = dict(data or {})
        if csrf:
            form["csrf_token"] = self.csrf
        headers = {"HX-Request": "true"} if htmx else None
        response: httpx.Response = self.client.post(path, data=form, headers=headers, follow_redirects=False)
        return response


def add_user(
    sessions: sessionmaker[Session], name: str, role: Role, *, technician_id: int | None = None
) -> None:
    """Create user ``name`` with the test password."""
    with transaction(sessions) as session:
        users.add_user(session, name, role, PASSWORD, technician_id=technician_id, actor="test", now=T0)


def log_in(client: TestClient, name: str) -> Browser:
    """Log ``name`` in through the login form; the browser with their session's CSRF token."""
    form = client.get("/console/login")
    match = _HIDDEN_CSRF.search(form.text)
    assert match, form.text
    done = client.post(
        "/console/login",
        data={"username": name, "password": PASSWORD, "csrf_token": match[1], "next": "/console/alerts"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    board = client.get("/console/alerts")
    assert board.status_code == 200, board.text
    token = _HIDDEN_CSRF.search(board.text)  # the logout form's: the session's token
    assert token, board.text
    return Browser(name, client, token[1])


def browser(sessions: sessionmaker[Session], client: TestClient, name: str, role: Role,
            technician_id: int | None = None) -> Browser:  # fmt: skip
    """A new user ``name`` logged in on ``client`` (a client of its own: its own cookies)."""
    add_user(sessions, name, role, technician_id=technician_id)
    return log_in(client, name)
