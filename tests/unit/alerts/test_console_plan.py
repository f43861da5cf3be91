"""The crew plan page (``/console/plan``) through the real app, store, planner and login (SQLite).

A dispatcher re-plans from the page and sees each technician's work orders as blocks on their row
(the same schedule ``GET /plan/crew`` returns), placed where their start lies on the horizon; a
viewer sees the page without the button and a forged post is refused with nothing planned; names
from the store are escaped. The layout's arithmetic is checked alone too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import func, select

from alerts.console.plan_view import Axis, late_marks
from alerts.identity.roles import Role
from alerts.planning import crew_admin
from alerts.store.db import transaction
from alerts.store.tables import AuditRow, WorkOrderRow
from alerts.workorders import service
from tests.unit.alerts import crew_scenarios as sc
from tests.unit.alerts.conftest import Api, make_api
from tests.unit.alerts.console_helpers import Browser, browser

PAGE = "/console/plan"
NOW = sc.NOW  # Monday 07:00 UTC, before the 08:00 shifts
HOSTILE = '<script>alert("x")</script>'
MODE = '"><img src=x onerror=alert(1)>'
_BLOCK = re.compile(
    r'<a class="blk ([^"]*)" href="([^"]+)" style="left: ([\d.]+)%; width: ([\d.]+)%"'
    r'[^>]*data-work-order="(\d+)"'
)
_ROW = re.compile(r'data-technician="(\d+)">(.*?)(?=<div class="row|</div>\s*<h2>)', re.DOTALL)


@dataclass
class Crew:
    """The app with the scenario's crew (mech, elec, idle), three approved work orders, and users."""

    api: Api
    tech: dict[str, int]
    orders: list[int]

    def user(self, name: str, role: Role) -> Browser:
        return browser(self.api.sessions, TestClient(self.api.client.app), name, role)

    def plan_audits(self) -> int:
        with transaction(self.api.sessions) as s:
            return s.scalar(select(func.count()).select_from(AuditRow).where(AuditRow.action == "plan")) or 0

    def order(self, work_order_id: int) -> WorkOrderRow:
        with transaction(self.api.sessions) as s:
            return service.get(s, work_order_id)


@pytest.fixture
def crew(tmp_path: Path) -> Iterator[Crew]:
    api = make_api(f"sqlite:///{tmp_path / 'wo.db'}")
    api.clock.set(NOW)
    tech = sc.crew(api.sessions)
    orders = [
        sc.open_approved(api.sessions, "pump-1", "site-a", "bearing_wear"),
        sc.open_approved(api.sessions, "motor-1", "site-b", "winding_insulation"),
        sc.open_approved(api.sessions, "valve-1", "site-a", "seal_leak"),  # nobody is skilled for it
    ]
    yield Crew(api, tech, orders)
    api.client.close()
    api.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def blocks_by_technician(page: str) -> dict[int, list[tuple[int, str, float]]]:
    """Technician id → (work order id, classes, left %) of each block on their row."""
    return {
        int(tid): [(int(m[5]), m[1], float(m[3])) for m in _BLOCK.finditer(row)]
        for tid, row in _ROW.findall(page)
    }


def waiting_ids(page: str) -> list[int]:
    table = page.split("<h2>Waiting for a plan", 1)[1]
    return [int(i) for i in re.findall(r'<td><a href="/console/work-orders/\d+">#(\d+)</a></td>', table)]


def test_a_dispatcher_replans_and_sees_each_technicians_blocks(crew: Crew) -> None:
    pump, motor, valve = crew.orders
    with transaction(crew.api.sessions) as s:  # the motor cannot start before its due: marked late
        s.get_one(WorkOrderRow, motor).due_by = NOW + timedelta(minutes=30)
    dana = crew.user("dana", Role.DISPATCHER)
    before = dana.get(PAGE)
    assert before.status_code == 200, before.text
    assert 'action="/console/plan"' in before.text  # the Re-plan button
    assert blocks_by_technician(before.text) == {t: [] for t in sorted(crew.tech.values())}
    assert sorted(waiting_ids(before.text)) == sorted(crew.orders)

    done = dana.post(PAGE)
    assert done.status_code == 303, done.text
    assert done.headers["location"] == f"{PAGE}?placed=2&unplaced=1"
    assert crew.order(pump).status == "scheduled"
    assert crew.plan_audits() == 2
    with transaction(crew.api.sessions) as s:
        actors = set(s.scalars(select(AuditRow.actor).where(AuditRow.action == "plan")))
    assert actors == {"dana"}  # the logged-in user, not the API's admin

    after = dana.get(done.headers["location"])
    assert after.status_code == 200, after.text
    assert "Re-planned: 2 work orders placed, 1 without a place." in after.text
    blocks = blocks_by_technician(after.text)
    assert [b[0] for b in blocks[crew.tech["mech"]]] == [pump]
    assert [b[0] for b in blocks[crew.tech["elec"]]] == [motor]
    assert blocks[crew.tech["idle"]] == []
    api_schedule = {
        t["technician_id"]: [w["id"] for w in t["work_orders"]]
        for t in crew.api.client.get("/plan/crew").json()
    }
    assert {t: [b[0] for b in bs] for t, bs in blocks.items()} == api_schedule  # what GET /plan/crew shows
    assert f'href="/console/work-orders/{pump}"' in after.text
    assert waiting_ids(after.text) == [valve]

    pump_row, motor_row = crew.order(pump), crew.order(motor)
    axis = Axis.of(NOW, 14)  # the default horizon
    for row, (wo, classes, left) in (
        (pump_row, blocks[crew.tech["mech"]][0]),
        (motor_row, blocks[crew.tech["elec"]][0]),
    ):
        assert row.scheduled_start is not None
        assert left == pytest.approx(axis.pct(row.scheduled_start), abs=0.001), wo
        assert f"prio-{row.priority}" in classes.split()
    assert "late" in blocks[crew.tech["elec"]][0][1].split()  # starts at 08:00, due 07:30
    assert "late" not in blocks[crew.tech["mech"]][0][1].split()
    assert 'class="shift"' in after.text  # mech and elec work Mon-Fri 08-16

    closer = dana.get(PAGE, days=1).text  # the first day only (the axis: today and tomorrow, whole)
    assert re.findall(r'<span class="day[^"]*"[^>]*>([^<]+)</span>', closer) == ["Mon 05 Jan", "Tue 06 Jan"]
    assert pump_row.scheduled_start is not None
    (_, _, left), *_ = blocks_by_technician(closer)[crew.tech["mech"]]
    assert left == pytest.approx(Axis.of(NOW, 1).pct(pump_row.scheduled_start), abs=0.001)
    with transaction(crew.api.sessions) as s:  # the motor moved to Friday: past a two-day view
        moved = s.get_one(WorkOrderRow, motor)
        moved.scheduled_start, moved.planned_end = (
            NOW + timedelta(days=4, hours=1),
            NOW + timedelta(days=4, hours=4),
        )
    closer = dana.get(PAGE, days=1).text
    assert blocks_by_technician(closer)[crew.tech["elec"]] == []
    assert "site-b · 0 scheduled, 1 later" in closer
    assert dana.get(PAGE, days=0).status_code == 422


def test_a_viewer_sees_no_button_and_a_forged_post_is_refused(crew: Crew) -> None:
    vic = crew.user("vic", Role.VIEWER)
    page = vic.get(PAGE)
    assert page.status_code == 200, page.text
    assert "Re-plan" not in page.text
    assert 'action="/console/plan"' not in page.text
    forged = vic.post(PAGE)
    assert forged.status_code == 403
    assert "may not re-plan the crew" in forged.text
    dana = crew.user("dana", Role.DISPATCHER)
    assert dana.post(PAGE, csrf=False).status_code == 403  # a dispatcher's post without the token
    assert crew.plan_audits() == 0
    assert {crew.order(i).status for i in crew.orders} == {"approved"}
    anonymous = TestClient(crew.api.client.app).get(PAGE, follow_redirects=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"].startswith("/console/login")


def test_names_from_the_store_are_escaped(crew: Crew) -> None:
    with transaction(crew.api.sessions) as s:
        bad = service.add_technician(s, name=HOSTILE, skills=["bearing_wear"], site="site-a",
                                     territory=[], actor="t", now=NOW)  # fmt: skip
        crew_admin.set_shifts(s, bad.id, sc.MON_FRI, replace=False, actor="t", now=NOW)
        s.get_one(WorkOrderRow, crew.orders[2]).failure_mode = MODE
    dana = crew.user("dana", Role.DISPATCHER)
    assert dana.post(PAGE).status_code == 303
    page = dana.get(PAGE).text
    assert HOSTILE not in page
    assert "<img src=x" not in page
    assert str(escape(HOSTILE)) in page  # the technician's row
    assert str(escape(MODE)) in page  # the waiting list
    assert f'data-technician="{bad.id}"' in page


def test_the_axis_covers_whole_days_and_clamps() -> None:
    now = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
    axis = Axis.of(now, 2)
    assert (axis.start, axis.end) == (datetime(2026, 1, 5, tzinfo=UTC), datetime(2026, 1, 8, tzinfo=UTC))
    assert axis.pct(datetime(2026, 1, 6, 12, tzinfo=UTC)) == pytest.approx(50.0)
    assert axis.pct(now - timedelta(days=3)) == 0.0
    assert axis.pct(now + timedelta(days=30)) == 100.0
    assert axis.span(datetime(2026, 1, 4, tzinfo=UTC), datetime(2026, 1, 5, 18, tzinfo=UTC)) == (0.0, 25.0)
    assert [d.label for d in axis.days()] == ["Mon 05 Jan", "Tue 06 Jan", "Wed 07 Jan"]
    midnight = Axis.of(datetime(2026, 1, 5, tzinfo=UTC), 2)
    assert midnight.end == datetime(2026, 1, 7, tzinfo=UTC)


def test_a_start_is_late_after_the_latest_safe_start_or_the_due_time() -> None:
    start = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)
    hour = timedelta(hours=1)
    assert late_marks(start, None, start + hour) == ()
    assert late_marks(start, start, start) == ()
    assert late_marks(start, start - hour, start + hour) == ("after latest safe start",)
    assert late_marks(start, start + hour, start - hour) == ("after due",)
    assert late_marks(start, start - hour, start - hour) == ("after latest safe start", "after due")
