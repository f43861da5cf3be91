"""The alert board and an alert's page, through the real app, store and login (SQLite, manual clock).

Each user logs in through the login form and acts through the page's forms; the store is then read
to see what changed and who it says did it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from markupsafe import escape
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alerts.console import routes_alerts
from alerts.effects import store_changes
from alerts.identity.roles import Role
from alerts.state import Alert, AlertChange
from alerts.store.db import transaction
from alerts.store.tables import AlertRow, AuditRow
from forewarn.contracts.alert import AlertKind, AlertState, ChangeKind, Severity
from tests.unit.alerts.conftest import Api, make_api
from tests.unit.alerts.console_helpers import Browser, browser
from tests.unit.alerts.helpers import at

BOARD = "/console/alerts"


def raise_alert(
    sessions: sessionmaker[Session],
    asset: str,
    *,
    site: str = "site-1",
    mode: str = "bearing",
    severity: Severity = Severity.CRITICAL,
    risk: float = 0.9,
    raised_s: float = 0,
) -> str:
    """Store a raised alert as the engine does (its work order opens); its id."""
    alert = Alert(
        alert_id=f"a-{asset}-{mode}",
        asset_id=asset,
        site=site,
        failure_mode=mode,
        kind=AlertKind.RISK,
        severity=severity,
        state=AlertState.ACTIVE,
        first_seen=at(raised_s),
        last_seen=at(raised_s),
        occurrence_count=1,
        trigger_risk=risk,
        trigger_rul_cycles=12.0,
        model_name="rul-gbm",
        model_version="7",
        raised_at=at(raised_s),
        last_notified_at=at(raised_s),
    )
    with transaction(sessions) as session:
        store_changes(session, [AlertChange(ChangeKind.RAISED, alert, at(raised_s))], actor="engine",
                      now=at(raised_s))  # fmt: skip
    return alert.alert_id


def clear(sessions: sessionmaker[Session], alert_id: str) -> None:
    """Clear a stored alert the way the rules do."""
    with transaction(sessions) as session:
        row = session.get(AlertRow, alert_id)
        assert row is not None
        alert = Alert.model_validate(row, from_attributes=True)
        cleared = alert.model_copy(update={"state": AlertState.CLEARED, "cleared_at": at(60)})
        store_changes(session, [AlertChange(ChangeKind.CLEARED, cleared, at(60))], actor="engine", now=at(60))


def stored(sessions: sessionmaker[Session], alert_id: str) -> AlertRow:
    with transaction(sessions) as session:
        row = session.get(AlertRow, alert_id)
        assert row is not None
        return row


@dataclass
class Console:
    """The app with alerts on two sites, and a way to log users in."""

    api: Api
    critical: str  # site-1, risk 0.95
    major: str  # site-2, risk 0.80
    minor: str  # site-1, risk 0.60

    def user(self, name: str, role: Role, technician_id: int | None = None) -> Browser:
        return browser(self.api.sessions, TestClient(self.api.client.app), name, role, technician_id)


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    api = make_api(f"sqlite:///{tmp_path / 'wo.db'}")
    s = api.sessions
    yield Console(
        api,
        critical=raise_alert(s, "pump-1", severity=Severity.CRITICAL, risk=0.95, raised_s=10),
        major=raise_alert(s, "pump-2", site="site-2", severity=Severity.MAJOR, risk=0.80, raised_s=20),
        minor=raise_alert(s, "pump-3", severity=Severity.MINOR, risk=0.60, raised_s=30),
    )
    api.client.close()
    api.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def assets_in_order(page: str) -> list[str]:
    return re.findall(r'<a href="/console/assets/[^"]+">([^<]+)</a>', page)


def test_the_console_opens_on_the_board_and_needs_a_login(console: Console) -> None:
    anonymous = TestClient(console.api.client.app)
    refused = anonymous.get(BOARD, follow_redirects=False)
    assert refused.status_code == 303
    assert refused.headers["location"].startswith("/console/login")
    dana = console.user("dana", Role.DISPATCHER)
    assert dana.get("/console/").headers["location"] == BOARD


def test_the_app_root_goes_to_the_console() -> None:
    app = FastAPI()
    app.include_router(routes_alerts.root)
    response = TestClient(app).get("/", follow_redirects=False)
    assert (response.status_code, response.headers["location"]) == (303, "/console/")


def test_the_board_shows_open_alerts_most_severe_first_with_counts(console: Console) -> None:
    clear(console.api.sessions, console.minor)
    page = console.user("dana", Role.DISPATCHER).get(BOARD).text
    assert assets_in_order(page) == ["pump-1", "pump-2"]  # the cleared one is not open
    assert re.search(r"<b>1</b> CRITICAL", page)
    assert re.search(r"<b>1</b> MAJOR", page)
    assert re.search(r"<b>0</b> MINOR", page)
    row = page[page.index("pump-1") :]
    for shown in ("bearing", "site-1", "ACTIVE", "0.95", "12", "2026-01-01T00:00Z", "rul-gbm v7"):
        assert shown in row[: row.index("</tr>")]
    assert 'href="/console/work-orders/1"' in page
    assert '<link rel="stylesheet" href="/console/static/console.css">' in page
    assert "/console/static/vendor/htmx/htmx.min.js" in page
    assert 'class="active" aria-current="page">Alerts</a>' in page


def test_filters_and_sorting(console: Console) -> None:
    dana = console.user("dana", Role.DISPATCHER)
    assert assets_in_order(dana.get(BOARD, site="site-2").text) == ["pump-2"]
    assert assets_in_order(dana.get(BOARD, severity="MINOR").text) == ["pump-3"]
    assert assets_in_order(dana.get(BOARD, sort="risk").text) == ["pump-3", "pump-2", "pump-1"]
    assert assets_in_order(dana.get(BOARD, sort="risk", dir="desc").text) == ["pump-1", "pump-2", "pump-3"]
    by_site = dana.get(BOARD, sort="site").text
    assert assets_in_order(by_site) == ["pump-1", "pump-3", "pump-2"]
    assert re.search(r'class="group"><th colspan="12">site-1 <span class="n">2</span>', by_site)
    clear(console.api.sessions, console.minor)
    assert assets_in_order(dana.get(BOARD, state="CLEARED").text) == ["pump-3"]
    assert assets_in_order(dana.get(BOARD, state="all", sort="raised").text) == ["pump-1", "pump-2", "pump-3"]
    assert assets_in_order(dana.get(BOARD, severity="BOGUS", state="nope").text) == ["pump-1", "pump-2"]


def test_the_board_pages(console: Console) -> None:
    dana = console.user("dana", Role.DISPATCHER)
    first = dana.get(BOARD, size="2").text
    assert assets_in_order(first) == ["pump-1", "pump-2"]
    assert "page 1 of 2" in first
    assert assets_in_order(dana.get(BOARD, size="2", page="2").text) == ["pump-3"]


def test_the_live_fragment_is_the_board_without_the_page(console: Console) -> None:
    dana = console.user("dana", Role.DISPATCHER)
    fragment = dana.get(f"{BOARD}/rows", site="site-1").text
    assert fragment.lstrip().startswith('<div id="alert-live"')
    assert "<html" not in fragment
    assert assets_in_order(fragment) == ["pump-1", "pump-3"]
    assert 'hx-get="/console/alerts/rows?site=site-1"' in fragment  # keeps polling with its filters
    assert 'hx-trigger="every 5s' in fragment


def test_acknowledge_records_the_logged_in_user_not_a_name_from_the_form(console: Console) -> None:
    dana = console.user("dana", Role.DISPATCHER)
    form = {"comment": "crew on the way", "by": "mallory", "back": f"{BOARD}?site=site-1"}
    response = dana.post(f"{BOARD}/{console.critical}/ack", form)
    assert (response.status_code, response.headers["location"]) == (303, f"{BOARD}?site=site-1")
    row = stored(console.api.sessions, console.critical)
    assert (row.state, row.acknowledged_by, row.ack_comment) == ("ACKNOWLEDGED", "dana", "crew on the way")
    with transaction(console.api.sessions) as session:
        actors = session.scalars(
            select(AuditRow.actor).where(AuditRow.entity == "alert", AuditRow.action == "acknowledged")
        ).all()
    assert actors == ["dana"]


def test_an_htmx_acknowledge_answers_the_updated_row(console: Console) -> None:
    dana = console.user("dana", Role.DISPATCHER)
    response = dana.post(f"{BOARD}/{console.critical}/ack", {"comment": "on it"}, htmx=True)
    assert response.status_code == 200
    assert response.text.lstrip().startswith("<tr")
    assert "ACKNOWLEDGED" in response.text
    assert "ack dana: on it" in response.text


def test_a_back_link_to_another_site_is_not_followed(console: Console) -> None:
    dana = console.user("dana", Role.DISPATCHER)
    for back in ("https://evil.example/", "//evil.example/console/", "/elsewhere"):
        form = {"reason": "x", "minutes": "15", "back": back}  # a snooze may be repeated; an ack not
        response = dana.post(f"{BOARD}/{console.major}/snooze", form)
        assert response.headers["location"] == BOARD


def test_a_second_acknowledgement_is_refused_and_names_the_first(console: Console) -> None:
    dana, eve = console.user("dana", Role.DISPATCHER), console.user("eve", Role.DISPATCHER)
    assert dana.post(f"{BOARD}/{console.major}/ack", {"comment": "mine"}).status_code == 303
    again = eve.post(f"{BOARD}/{console.major}/ack", {"comment": "no, mine"})
    assert again.status_code == 409
    assert "already acknowledged" in again.text
    row = stored(console.api.sessions, console.major)
    assert (row.acknowledged_by, row.ack_comment) == ("dana", "mine")


def test_snooze_offers_durations_up_to_the_severity_maximum(console: Console) -> None:
    dana = console.user("dana", Role.DISPATCHER)
    board = dana.get(BOARD).text
    assert 'name="minutes"' not in board  # rows carry links; the forms come when one is opened
    assert f"{BOARD}/{console.critical}/actions?" in board

    def offered(alert_id: str) -> list[int]:
        fragment = dana.get(f"{BOARD}/{alert_id}/actions?open=snooze").text
        assert '<details class="act" open>' in fragment
        return [int(m) for m in re.findall(r'<option value="(\d+)">', fragment)]

    critical = offered(console.critical)
    assert critical[0] == 15
    assert critical[-1] == 4 * 60
    assert max(offered(console.major)) == 24 * 60


def test_snooze_with_a_reason_for_a_while(console: Console) -> None:
    dana = console.user("dana", Role.DISPATCHER)
    response = dana.post(
        f"{BOARD}/{console.critical}/snooze", {"reason": "parts arrive at 2", "minutes": "120"}
    )
    assert response.status_code == 303
    row = stored(console.api.sessions, console.critical)
    assert row.state == "SNOOZED"
    assert row.snoozed_until == console.api.clock.now() + timedelta(minutes=120)


@pytest.mark.parametrize(
    ("form", "status", "says"),
    [
        ({"reason": "later", "minutes": str(4 * 60 + 1)}, 422, "at most 4 h"),  # CRITICAL's maximum
        ({"reason": "  ", "minutes": "60"}, 422, "needs a reason"),
        ({"reason": "later", "minutes": "soon"}, 422, "how long"),
        ({"reason": "later"}, 422, "how long"),
    ],
)
def test_a_refused_snooze_is_a_message_and_changes_nothing(
    console: Console, form: dict[str, str], status: int, says: str
) -> None:
    dana = console.user("dana", Role.DISPATCHER)
    response = dana.post(f"{BOARD}/{console.critical}/snooze", form)
    assert response.status_code == status
    assert says in response.text
    assert "Traceback" not in response.text
    assert '<section class="message' in response.text  # the page, with the menu
    assert stored(console.api.sessions, console.critical).state == "ACTIVE"


def test_acting_on_a_cleared_alert_is_refused_with_a_message(console: Console) -> None:
    clear(console.api.sessions, console.minor)
    dana = console.user("dana", Role.DISPATCHER)
    response = dana.post(f"{BOARD}/{console.minor}/ack", {"comment": "late"})
    assert response.status_code == 409
    assert "already cleared" in response.text
    htmx = dana.post(f"{BOARD}/{console.minor}/snooze", {"reason": "x", "minutes": "15"}, htmx=True)
    assert htmx.status_code == 409
    assert htmx.text.startswith('<div class="msg err"')
    assert "already cleared" in htmx.text
    assert dana.post(f"{BOARD}/nope/ack", {"comment": "x"}).status_code == 404


def test_a_comment_is_required_to_acknowledge(console: Console) -> None:
    response = console.user("dana", Role.DISPATCHER).post(f"{BOARD}/{console.critical}/ack", {"comment": " "})
    assert response.status_code == 422
    assert stored(console.api.sessions, console.critical).state == "ACTIVE"


def test_a_post_without_the_csrf_token_is_refused(console: Console) -> None:
    dana = console.user("dana", Role.DISPATCHER)
    response = dana.post(f"{BOARD}/{console.critical}/ack", {"comment": "x"}, csrf=False)
    assert response.status_code == 403
    wrong = dana.post(f"{BOARD}/{console.critical}/ack", {"comment": "x", "csrf_token": "forged"}, csrf=False)
    assert wrong.status_code == 403
    assert stored(console.api.sessions, console.critical).state == "ACTIVE"


@pytest.mark.parametrize("role", [Role.VIEWER, Role.TECHNICIAN])
def test_who_may_not_act_sees_no_action_and_a_forged_post_gets_403(console: Console, role: Role) -> None:
    technician = None
    if role is Role.TECHNICIAN:
        response = console.api.client.post("/technicians", json={"name": "tom", "skills": ["bearing"],
                                                                 "site": "site-1"})  # fmt: skip
        technician = response.json()["id"]
    user = console.user("vic", role, technician)
    page = user.get(BOARD).text
    assert assets_in_order(page) == ["pump-1", "pump-2", "pump-3"]
    assert "/ack" not in page
    assert "/snooze" not in page
    assert "<details" not in page
    assert "/ack" not in user.get(f"{BOARD}/{console.critical}").text
    for action, form in (("ack", {"comment": "x"}), ("snooze", {"reason": "x", "minutes": "15"})):
        response = user.post(f"{BOARD}/{console.critical}/{action}", form)
        assert response.status_code == 403
        assert "may not" in response.text
    assert stored(console.api.sessions, console.critical).state == "ACTIVE"


def test_the_alert_page_shows_every_field_and_who_did_what(console: Console) -> None:
    dana = console.user("dana", Role.DISPATCHER)
    dana.post(f"{BOARD}/{console.critical}/ack", {"comment": "crew on the way"})
    console.api.clock.advance(600)
    dana.post(f"{BOARD}/{console.critical}/snooze", {"reason": "waiting for parts", "minutes": "60"})
    page = dana.get(f"{BOARD}/{console.critical}").text
    for field in ("Risk at trigger", "0.950", "rul-gbm version 7", "First seen", "Escalation tier"):
        assert field in page
    history = page[page.index("<h2>History") :]
    changes = re.findall(r'<tr><td class="time">([^<]+)</td><td>(\w+)</td><td>([^<]+)</td>', history)
    assert [(c, by) for _t, c, by in changes] == [
        ("raised", "engine"), ("acknowledged", "dana"), ("snoozed", "dana")
    ]  # fmt: skip
    assert changes[2][0] == "2026-01-01T00:10Z"
    assert history.count("rul-gbm v7") == 3
    assert "0.95" in history
    assert "crew on the way" in history
    assert "waiting for parts" in history


def test_an_unknown_alert_is_a_404_page(console: Console) -> None:
    response = console.user("dana", Role.DISPATCHER).get(f"{BOARD}/no-such-alert")
    assert response.status_code == 404
    assert "does not exist" in response.text


HOSTILE = "<script>alert(1)</script>"


def test_hostile_asset_ids_are_escaped(console: Console) -> None:
    raise_alert(console.api.sessions, HOSTILE, mode="seal\"'><img src=x onerror=alert(2)>")
    dana = console.user("dana", Role.DISPATCHER)
    for path in (BOARD, f"{BOARD}/rows", "/console/work-orders"):
        page = dana.get(path).text
        assert HOSTILE not in page
        assert "<img src=x" not in page
        assert str(escape(HOSTILE)) in page
    assert '/console/assets/%3Cscript%3Ealert%281%29%3C%2Fscript%3E"' in dana.get(BOARD).text


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    comment=st.text(
        alphabet=st.characters(blacklist_categories=["Cs"], blacklist_characters="\x00"), min_size=1,
        max_size=60,
    ).map(lambda text: f"{text}{HOSTILE}")
)  # fmt: skip
def test_any_comment_is_shown_escaped(console: Console, comment: str) -> None:
    dana = getattr(console, "_dana", None) or console.user("dana", Role.DISPATCHER)
    console._dana = dana  # type: ignore[attr-defined]  # one login for every example
    n = getattr(console, "_examples", 0) + 1  # a fresh alert each example: a second ack is refused
    console._examples = n  # type: ignore[attr-defined]
    alert_id = raise_alert(console.api.sessions, f"pump-h{n}", raised_s=100 + n)
    response = dana.post(f"{BOARD}/{alert_id}/ack", {"comment": comment})
    assert response.status_code == 303, response.text
    assert stored(console.api.sessions, alert_id).ack_comment == comment
    for path in (f"{BOARD}?size=500", f"{BOARD}/{alert_id}"):
        page = dana.get(path).text
        assert HOSTILE not in page
        assert str(escape(comment)) in page
