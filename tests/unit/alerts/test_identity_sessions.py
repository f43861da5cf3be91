"""Console login, session cookie, CSRF and logout through the real app (TestClient, SQLite file)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.api.deps import SESSION_COOKIE, ConsolePrincipalDep
from alerts.console.routes_login import default_landing, safe_next
from alerts.identity import users
from alerts.identity.roles import Role
from alerts.store.db import transaction
from forewarn.contracts.alert import Severity
from tests.unit.alerts import api_scenarios as sc
from tests.unit.alerts.conftest import Api, make_api

_HIDDEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """The API with a dispatcher ``dee`` (password ``sc.PASSWORD``) and a lockout after 2 failures."""
    api = make_api(f"sqlite:///{tmp_path / 'wo.db'}", login_max_failures=2, login_lockout_s=60)
    sc.user_auth(api.sessions, "dee", Role.DISPATCHER)
    yield api
    api.client.close()
    api.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def browser(api: Api) -> TestClient:
    """A client with no token: only what a browser has (cookies)."""
    return TestClient(api.client.app, follow_redirects=False)


def log_in(client: TestClient, name: str, password: str, next_path: str = "") -> tuple[int, str]:
    """Fill in the login form as a browser does; the status and the Location (or body)."""
    form = client.get("/console/login", params={"next": next_path} if next_path else None)
    assert form.status_code == 200, form.text
    match = _HIDDEN.search(form.text)
    assert match is not None
    data = {"username": name, "password": password, "csrf_token": match.group(1)}
    if next_path:
        data["next"] = next_path
    response = client.post("/console/login", data=data)
    return response.status_code, response.headers.get("location", response.text)


def csrf_of(api: Api, client: TestClient) -> str:
    """The CSRF token of the client's session (what every console page carries)."""
    with transaction(api.sessions) as session:
        principal = users.principal_from_session(session, client.cookies[SESSION_COOKIE], now=api.clock.now())
    assert principal is not None
    assert principal.csrf_token is not None
    return principal.csrf_token


def test_login_sets_a_protected_cookie_and_goes_to_next(api: Api) -> None:
    client = browser(api)
    status, location = log_in(client, "dee", sc.PASSWORD, "/console/work-orders?site=site-1")
    assert (status, location) == (303, "/console/work-orders?site=site-1")
    assert client.cookies.get(SESSION_COOKIE)
    assert client.get("/alerts").status_code == 200


def test_the_session_cookie_flags(api: Api) -> None:
    client = browser(api)
    form = client.get("/console/login")
    token = _HIDDEN.search(form.text)
    assert token is not None
    response = client.post(
        "/console/login", data={"username": "dee", "password": sc.PASSWORD, "csrf_token": token.group(1)}
    )
    set_cookie = next(v for v in response.headers.get_list("set-cookie") if v.startswith(SESSION_COOKIE))
    flags = {part.strip().lower() for part in set_cookie.split(";")}
    assert {"httponly", "samesite=lax", "path=/"} <= flags
    assert "secure" not in flags
    assert response.headers["location"] == default_landing()


def test_secure_cookies_behind_https(tmp_path: Path) -> None:
    api = make_api(f"sqlite:///{tmp_path / 'wo.db'}", cookie_secure=True)
    sc.user_auth(api.sessions, "dee", Role.DISPATCHER)
    client = TestClient(api.client.app, base_url="https://testserver", follow_redirects=False)
    status, _ = log_in(client, "dee", sc.PASSWORD)
    assert status == 303
    assert client.get("/alerts").status_code == 200


@pytest.mark.parametrize(
    "bad_next",
    ["https://evil.example/console", "//evil.example/console", "/console/../admin", "/alerts",
     "javascript:alert(1)", "/console\\@evil.example", "/console/logout", "/consolex"],
)  # fmt: skip
def test_next_never_leaves_the_console(api: Api, bad_next: str) -> None:
    status, location = log_in(browser(api), "dee", sc.PASSWORD, bad_next)
    assert (status, location) == (303, default_landing())


def test_a_wrong_password_shows_the_form_again_without_a_session(api: Api) -> None:
    client = browser(api)
    status, body = log_in(client, "dee", "not the password")
    assert status == 401
    assert "Wrong name or password" in body
    assert "not the password" not in body
    assert SESSION_COOKIE not in client.cookies
    assert client.get("/alerts").status_code == 401


def test_the_login_form_needs_its_own_token(api: Api) -> None:
    client = browser(api)
    response = client.post("/console/login", data={"username": "dee", "password": sc.PASSWORD})
    assert response.status_code == 400
    assert SESSION_COOKIE not in client.cookies


def test_lockout_through_the_form_then_the_clock_releases(api: Api) -> None:
    client = browser(api)
    assert log_in(client, "dee", "wrong password 1")[0] == 401
    assert log_in(client, "dee", "wrong password 2")[0] == 401  # locks for 60 s
    assert log_in(client, "dee", sc.PASSWORD)[0] == 401
    api.clock.advance(60)
    assert log_in(client, "dee", sc.PASSWORD)[0] == 303


def test_a_session_reads_but_acts_only_with_its_csrf_token(api: Api) -> None:
    alert_id = sc.raise_alert(api.sessions, severity=Severity.WARNING).alert.alert_id
    client = browser(api)
    log_in(client, "dee", sc.PASSWORD)
    assert client.get(f"/alerts/{alert_id}").status_code == 200
    for headers in ({}, {"X-CSRF-Token": ""}, {"X-CSRF-Token": "wrong"}):
        refused = client.post(f"/alerts/{alert_id}/ack", json={"comment": "x"}, headers=headers)
        assert refused.status_code == 403
        assert refused.json()["code"] == "csrf"
    assert sc.get(api.client, f"/alerts/{alert_id}")["state"] == "ACTIVE"
    acked = client.post(
        f"/alerts/{alert_id}/ack", json={"comment": "x"}, headers={"X-CSRF-Token": csrf_of(api, client)}
    )
    assert acked.status_code == 200, acked.text
    assert acked.json()["acknowledged_by"] == "dee"


@pytest.fixture(scope="module")
def logged_in(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, str]]:
    """A browser logged in as a dispatcher, and its session's CSRF token."""
    api = make_api(f"sqlite:///{tmp_path_factory.mktemp('csrf') / 'wo.db'}")
    sc.user_auth(api.sessions, "dee", Role.DISPATCHER)
    client = browser(api)
    log_in(client, "dee", sc.PASSWORD)
    yield client, csrf_of(api, client)
    api.client.close()
    api.client.app.state.engine.dispose()  # type: ignore[attr-defined]


@settings(max_examples=60, deadline=None)
@given(guess=st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80))
def test_any_other_csrf_token_is_refused(logged_in: tuple[TestClient, str], guess: str) -> None:
    client, real = logged_in
    header = client.put("/parts/stock", json={}, headers={"X-CSRF-Token": guess})
    form = client.post("/console/logout", data={"csrf_token": guess})
    if guess == real:  # (practically never drawn; the rule is "exactly the session's")
        return
    assert (header.status_code, header.json()["code"]) == (403, "csrf")
    assert form.status_code == 403  # a console form post: a page saying why, not JSON
    assert "missing or wrong CSRF token" in form.text
    assert client.get("/kpis").status_code == 200  # still logged in


def test_sessions_expire_by_the_clock(api: Api) -> None:
    client = browser(api)
    log_in(client, "dee", sc.PASSWORD)
    api.clock.advance(12 * 3600 - 1)
    assert client.get("/kpis").status_code == 200
    api.clock.advance(1)
    assert client.get("/kpis").status_code == 401


def test_logout_needs_csrf_and_ends_the_session(api: Api) -> None:
    client = browser(api)
    log_in(client, "dee", sc.PASSWORD)
    cookie = client.cookies[SESSION_COOKIE]
    assert client.post("/console/logout").status_code == 403
    out = client.post("/console/logout", data={"csrf_token": csrf_of(api, client)})
    assert (out.status_code, out.headers["location"]) == (303, "/console/login")
    assert SESSION_COOKIE not in client.cookies
    replay = TestClient(api.client.app, cookies={SESSION_COOKIE: cookie})
    assert replay.get("/kpis").status_code == 401  # the old cookie is worth nothing now


def test_a_token_wins_over_a_cookie_and_a_bad_token_does_not_fall_back(api: Api) -> None:
    client = browser(api)
    log_in(client, "dee", sc.PASSWORD)
    as_admin = client.put("/parts/kits/bearing", json={"parts": {"X-1": 1}}, headers=api.admin)
    assert as_admin.status_code == 200  # a token request needs no CSRF token
    assert client.get("/kpis", headers={"Authorization": "Bearer fw_nope"}).status_code == 401


def test_console_pages_send_a_stranger_to_the_login_then_back(api: Api) -> None:
    app = api.client.app

    @app.get("/console/test-page")  # type: ignore[attr-defined,untyped-decorator]
    def _page(principal: ConsolePrincipalDep) -> dict[str, str]:
        return {"name": principal.name}

    client = browser(api)
    response = client.get("/console/test-page", params={"site": "site-1"})
    assert response.status_code == 303
    target = response.headers["location"]
    assert target == "/console/login?next=/console/test-page%3Fsite%3Dsite-1"
    form = client.get(target)
    assert 'value="/console/test-page?site=site-1"' in form.text
    status, location = log_in(client, "dee", sc.PASSWORD, "/console/test-page?site=site-1")
    assert (status, location) == (303, "/console/test-page?site=site-1")
    assert client.get(location).json() == {"name": "dee"}


def test_an_htmx_request_without_a_login_redirects_the_whole_page(api: Api) -> None:
    app = api.client.app

    @app.get("/console/test-fragment")  # type: ignore[attr-defined,untyped-decorator]
    def _fragment(principal: ConsolePrincipalDep) -> dict[str, str]:
        return {"name": principal.name}

    headers = {"HX-Request": "true", "HX-Current-URL": "http://testserver/console/test-page?site=site-2"}
    response = browser(api).get("/console/test-fragment", headers=headers)
    assert response.status_code == 401
    assert response.headers["hx-redirect"] == "/console/login?next=/console/test-page%3Fsite%3Dsite-2"


def test_an_already_logged_in_browser_skips_the_form(api: Api) -> None:
    client = browser(api)
    log_in(client, "dee", sc.PASSWORD)
    again = client.get("/console/login", params={"next": "/console/kpis"})
    assert (again.status_code, again.headers["location"]) == (303, "/console/kpis")


@settings(max_examples=500, deadline=None)
@given(value=st.one_of(st.text(max_size=60), st.text(max_size=40).map(lambda s: "/console" + s)))
def test_safe_next_is_a_console_path_or_the_landing(value: str) -> None:
    got = safe_next(value)
    parts = urlsplit(got)
    assert not parts.scheme
    assert not parts.netloc
    assert got == default_landing() or (got == value and (parts.path + "/").startswith("/console/"))
    assert not got.startswith("//")
    assert "\\" not in got
