"""A dispatcher's day in Debian's chromium, against the real API, store and InfluxDB.

The dispatcher logs in, acknowledges the critical alert with a comment, approves its work order and
schedules it at a date and time with the suggested technician; that technician, in a browser of
their own, starts it and completes it with the outcome form (95 minutes on site, the fault an hour
ago, typed as UTC: the order page shows it and the store keeps it); the KPIs page then shows the
repair, and the alert's history and the work order's audit name the two users.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from alerts.store.db import make_engine, session_factory, transaction
from alerts.store.tables import AuditRow, WorkOrderRow
from tests.integration.console.conftest import Console, User
from tests.integration.console.seed import utc_now

pytestmark = [pytest.mark.integration, pytest.mark.slow]

COMMENT = "Bearing noise confirmed on the phone; fitter tomorrow morning"
ON_SITE_MIN = 95


def _field(page: Page, label: str) -> str:
    """The value shown beside ``label`` in a page's fields list."""
    return page.locator(f"dl.fields dt:text-is('{label}') + dd").inner_text().strip()


def _kpis(page: Page, site: str) -> dict[str, str]:
    """The KPIs page's row of ``site``, by column heading."""
    page.goto("/console/kpis")
    table = page.locator("table").first
    headings = [h.strip() for h in table.locator("thead th").all_inner_texts()]
    rows = [
        [c.strip() for c in tr.locator("th, td").all_inner_texts()] for tr in table.locator("tbody tr").all()
    ]
    found = [cells for cells in rows if cells[0] == site]
    assert len(found) == 1, (headings, rows)
    return dict(zip(headings, found[0], strict=True))


def _audit(console: Console, work_order_id: int) -> list[tuple[str, str]]:
    engine = make_engine(console.database_url)
    try:
        with transaction(session_factory(engine)) as session:
            rows = session.scalars(
                select(AuditRow)
                .where(AuditRow.entity == "work_order", AuditRow.entity_id == str(work_order_id))
                .order_by(AuditRow.id)
            )
            return [(r.action, r.actor) for r in rows]
    finally:
        engine.dispose()


def _order(console: Console, work_order_id: int) -> WorkOrderRow:
    engine = make_engine(console.database_url)
    try:
        with transaction(session_factory(engine)) as session:
            row = session.get(WorkOrderRow, work_order_id)
            assert row is not None
            session.expunge(row)
            return row
    finally:
        engine.dispose()


def _shot(page: Page, path: Path) -> None:
    """A full-page screenshot of what the user sees now (kept in the test's folder to look at)."""
    page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes().startswith(b"\x89PNG")
    assert path.stat().st_size > 10_000, f"{path.name}: an empty page"


def test_a_dispatchers_day(console: Console, login: Callable[[str], User], tmp_path: Path) -> None:
    story, users = console.story, console.story.users
    wo = story.work_order_id
    dana = login(users.dispatcher)
    page = dana.page

    before = _kpis(page, "site-1")
    assert (before["MTTR"], before["First-time fix"], before["Open"]) == ("-", "-", "2")

    # The board: acknowledge the critical alert with a comment (htmx swaps the row in place).
    page.goto("/console/alerts")
    row = page.locator("tr", has=page.locator(f'a[href$="/alerts/{story.alert_id}"]'))
    expect(row).to_contain_text("CRITICAL")
    row.locator("a.act-open", has_text="Ack").click()  # fetches the form (htmx), opened
    row.get_by_label("Comment").fill(COMMENT)
    row.get_by_role("button", name="Acknowledge").click()
    expect(row).to_contain_text("ACKNOWLEDGED")
    page.goto(f"/console/alerts/{story.alert_id}")
    history = page.locator("table.grid tbody tr", has_text=users.dispatcher)
    expect(history).to_have_count(1)
    expect(history).to_contain_text(COMMENT)

    # Its work order: approve, then schedule tomorrow 09:30 UTC with the suggested technician.
    page.locator(f'a[href$="/work-orders/{wo}"]').first.click()
    expect(page).to_have_url(re.compile(rf"/console/work-orders/{wo}$"))
    expect(page.locator("h1 .status")).to_have_text("requested")
    page.get_by_role("button", name="Approve").click()
    expect(page.locator("h1 .status")).to_have_text("approved")
    start = (utc_now() + timedelta(days=1)).replace(hour=9, minute=30)
    page.get_by_label("Planned start").fill(start.strftime("%Y-%m-%dT%H:%M"))
    technician = page.get_by_label("Technician")
    expect(technician).to_have_value(str(story.technician_id))  # the suggestion comes first
    page.get_by_role("button", name="Schedule", exact=True).click()
    expect(page.locator("h1 .status")).to_have_text("scheduled")
    assert _field(page, "Technician").startswith(story.technician_name)
    assert _field(page, "Planned start") == start.strftime("%Y-%m-%dT%H:%MZ")
    expect(page.locator("h2 .parts")).to_contain_text("reserved")
    expect(page.get_by_role("button", name="Start")).to_be_visible()  # a dispatcher may start too

    # The technician, in a browser of their own: start, then complete with the outcome form.
    tom = login(users.technician)
    tech = tom.page
    tech.goto(f"/console/work-orders/{wo}")
    tech.get_by_role("button", name="Start").click()
    expect(tech.locator("h1 .status")).to_have_text("in progress")
    expect(tech.get_by_role("button", name="Approve")).to_have_count(0)
    tech.locator("input[name=fault_found][value=yes]").check()
    expect(tech.locator("input[name=failure_code]")).to_have_value("bearing_wear")
    tech.get_by_label("Time on site (minutes)").fill(str(ON_SITE_MIN))
    for used in tech.locator("input[name=part_used]").all():
        used.fill("1")
    failed_at = (utc_now() - timedelta(hours=1)).replace(second=0, microsecond=0)
    tech.get_by_label("Failed at").fill(failed_at.strftime("%Y-%m-%dT%H:%M"))  # read as UTC
    tech.get_by_label("Notes").fill("Drive-end bearing replaced, regreased")
    _shot(tech, tmp_path / "completion-form.png")
    tech.get_by_role("button", name="Complete").click()
    expect(tech.locator("h1 .status")).to_have_text("completed")
    _shot(tech, tmp_path / "completed-order.png")
    assert _field(tech, "Time on site (min)") == str(ON_SITE_MIN)
    assert _field(tech, "Fault found") == "yes"
    assert _field(tech, "Failed at") == failed_at.strftime("%Y-%m-%dT%H:%MZ")

    # The KPIs moved: MTTR is the reported time on site (not the minutes between two clicks), the
    # repair is a first-time fix, one work order less is open, and the response time is there.
    after = _kpis(page, "site-1")
    assert (after["MTTR"], after["First-time fix"], after["Open"]) == (f"{ON_SITE_MIN} min", "100 %", "1")
    assert after["Alert → on site"] != "-"

    # The audit names the users who acted, from their logins, on the page and in the store.
    page.goto(f"/console/work-orders/{wo}")
    trail = page.locator("table.grid tbody tr")
    for action, actor in (("approve", users.dispatcher), ("schedule", users.dispatcher),
                          ("start", users.technician), ("complete", users.technician)):  # fmt: skip
        expect(trail.filter(has_text=actor).filter(has_text=action).first).to_be_visible()
    audit = _audit(console, wo)
    assert ("approve", users.dispatcher) in audit
    assert ("complete", users.technician) in audit
    order = _order(console, wo)
    assert (order.status, order.technician_id) == ("completed", story.technician_id)
    assert order.time_on_site_min == ON_SITE_MIN
    assert order.failed_at == failed_at

    for user in (dana, tom):
        assert user.watched.traffic.outside == []
        assert user.watched.traffic.js_errors == []
