"""The dispatch board and a work order's page, through the real app, store and login (SQLite).

A dispatcher approves and schedules, the assigned technician starts and completes, the dispatcher
closes: each action goes through the page's forms and is checked in the store with its actor.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, select

from alerts.identity.roles import Role
from alerts.store.db import transaction
from alerts.store.tables import AuditRow, PartStockRow, WorkOrderPartRow, WorkOrderRow
from alerts.workorders import service
from forewarn.contracts.alert import Severity
from tests.unit.alerts.api_scenarios import put, seed_crew_and_parts
from tests.unit.alerts.conftest import Api, make_api
from tests.unit.alerts.console_helpers import Browser, browser
from tests.unit.alerts.test_console_board import raise_alert

BOARD = "/console/work-orders"


@dataclass
class Dispatch:
    """The app with technicians (ana: bearing specialist at site-1), a bearing kit, and users."""

    api: Api
    tech: dict[str, int]

    def user(self, name: str, role: Role, technician_id: int | None = None) -> Browser:
        return browser(self.api.sessions, TestClient(self.api.client.app), name, role, technician_id)

    def order(self, work_order_id: int) -> WorkOrderRow:
        with transaction(self.api.sessions) as session:
            return service.get(session, work_order_id)

    def actors(self, work_order_id: int) -> list[tuple[str, str]]:
        with transaction(self.api.sessions) as session:
            rows = session.execute(
                select(AuditRow.action, AuditRow.actor)
                .where(AuditRow.entity == "work_order", AuditRow.entity_id == str(work_order_id))
                .order_by(AuditRow.id)
            ).all()
        return [(action, actor) for action, actor in rows]


@pytest.fixture
def dispatch(tmp_path: Path) -> Iterator[Dispatch]:
    api = make_api(f"sqlite:///{tmp_path / 'wo.db'}")
    tech = seed_crew_and_parts(api.client)
    yield Dispatch(api, tech)
    api.client.close()
    api.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def ids_in_order(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'<td><a href="/console/work-orders/\d+">#(\d+)</a></td>', page)]


def test_the_dispatch_board_shows_parts_status_and_technicians(dispatch: Dispatch) -> None:
    raise_alert(dispatch.api.sessions, "pump-1")  # #1: bearing kit, stock at site-1
    raise_alert(dispatch.api.sessions, "pump-2", mode="seal", severity=Severity.MAJOR)  # #2: no kit
    dana = dispatch.user("dana", Role.DISPATCHER)
    assert dana.post(f"{BOARD}/1/approve").status_code == 303
    start = {"start_at": "2026-01-01T08:00"}
    assert (
        dana.post(f"{BOARD}/1/schedule", start | {"technician_id": str(dispatch.tech["ana"])}).status_code
        == 303
    )
    page = dana.get(BOARD).text
    assert ids_in_order(page) == [1, 2]
    first = page[page.index("#1</a>") : page.index("#2</a>")]
    assert "ana" in first
    assert 'class="parts parts-reserved">reserved' in first
    assert "scheduled" in first
    assert "no parts" in page[page.index("#2</a>") :]
    assert 'class="active" aria-current="page">Work orders</a>' in page


def test_a_short_site_shows_waiting_parts_with_the_missing_lines(dispatch: Dispatch) -> None:
    put(dispatch.api.client, "/parts/stock", {"sku": "BRG-6205", "site": "site-1", "on_hand": 1})
    raise_alert(dispatch.api.sessions, "pump-1")
    dana = dispatch.user("dana", Role.DISPATCHER)
    dana.post(f"{BOARD}/1/approve")
    dana.post(f"{BOARD}/1/schedule", {"start_at": "2026-01-01T08:00", "technician_id": ""})
    assert dispatch.order(1).status == "waiting_parts"
    page = dana.get(BOARD).text
    assert "waiting: BRG-6205, SEAL-40" in page
    assert "parts-waiting" in page


def test_filters_sorting_and_pages(dispatch: Dispatch) -> None:
    s = dispatch.api.sessions
    raise_alert(s, "pump-1", severity=Severity.MINOR)  # #1 P3, due in 72 h
    raise_alert(s, "pump-2", site="site-2", severity=Severity.CRITICAL, raised_s=10)  # #2 P1, due in 4 h
    raise_alert(s, "pump-3", severity=Severity.MAJOR, raised_s=20)  # #3 P2, due in 24 h
    dana = dispatch.user("dana", Role.DISPATCHER)
    assert ids_in_order(dana.get(BOARD).text) == [2, 3, 1]  # priority first
    assert ids_in_order(dana.get(BOARD, sort="priority", dir="desc").text) == [1, 3, 2]
    assert ids_in_order(dana.get(BOARD, sort="site").text) == [3, 1, 2]
    assert ids_in_order(dana.get(BOARD, site="site-2").text) == [2]
    assert ids_in_order(dana.get(BOARD, due_before="2026-01-02").text) == [2]  # #3 is due at Jan 2, 00:00
    assert ids_in_order(dana.get(BOARD, due_before="2026-01-03").text) == [2, 3]
    assert ids_in_order(dana.get(BOARD, status="requested", size="2").text) == [2, 3]
    assert ids_in_order(dana.get(BOARD, status="requested", size="2", page="2").text) == [1]
    assert ids_in_order(dana.get(BOARD, overdue="1").text) == []
    dispatch.api.clock.advance(5 * 3600)  # the P1's 4 h are up
    assert ids_in_order(dana.get(BOARD, overdue="1").text) == [2]
    assert "overdue</b>" in dana.get(BOARD).text
    dana.post(f"{BOARD}/3/cancel", {"reason": "duplicate"})
    assert ids_in_order(dana.get(BOARD).text) == [2, 1]  # open ones by default
    assert ids_in_order(dana.get(BOARD, status="cancelled").text) == [3]
    assert ids_in_order(dana.get(BOARD, status="all", sort="created", dir="desc").text) == [3, 2, 1]


def test_the_board_reads_a_fixed_number_of_queries_whatever_its_size(dispatch: Dispatch) -> None:
    dana = dispatch.user("dana", Role.DISPATCHER)
    engine = dispatch.api.client.app.state.engine  # type: ignore[attr-defined]
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    def queries() -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert dana.get(BOARD, status="all", size="500").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return len(statements)

    def add(first: int, last: int) -> None:
        for i in range(first, last + 1):
            raise_alert(dispatch.api.sessions, f"pump-{i}")  # work order #i
        dana.post(f"{BOARD}/{last}/approve")
        dana.post(f"{BOARD}/{last}/schedule", {"start_at": "2026-01-01T08:00", "technician_id": ""})

    add(1, 2)
    few = queries()
    add(3, 40)
    assert queries() == few


def test_a_dispatcher_and_the_assigned_technician_take_a_work_order_through(dispatch: Dispatch) -> None:
    raise_alert(dispatch.api.sessions, "pump-1")
    dana = dispatch.user("dana", Role.DISPATCHER)
    ana = dispatch.user("ana.t", Role.TECHNICIAN, dispatch.tech["ana"])
    detail = dana.get(f"{BOARD}/1").text
    assert 'action="/console/work-orders/1/approve"' in detail
    assert 'href="/work-orders/1/report"' in detail
    dana.post(f"{BOARD}/1/approve", {"by": "mallory"})
    schedule_form = dana.get(f"{BOARD}/1").text
    assert 'type="datetime-local" name="start_at"' in schedule_form
    assert "read as UTC" in schedule_form
    options = re.findall(r'<option value="(\d+)"( selected)?>', schedule_form)
    assert options[0] == (str(dispatch.tech["ana"]), " selected")  # the best suggestion, preselected
    assert {int(o) for o, _ in options} == set(dispatch.tech.values())  # the others selectable
    form = {"start_at": "2026-01-01T09:30", "technician_id": str(dispatch.tech["ana"])}
    response = dana.post(f"{BOARD}/1/schedule", form)
    assert response.headers["location"] == f"{BOARD}/1"
    order = dispatch.order(1)
    assert (order.status, order.technician_id) == ("scheduled", dispatch.tech["ana"])
    assert order.scheduled_start == datetime(2026, 1, 1, 9, 30, tzinfo=UTC)
    assert 'action="/console/work-orders/1/start"' in ana.get(f"{BOARD}/1").text
    assert ana.post(f"{BOARD}/1/start").status_code == 303
    complete = ana.get(f"{BOARD}/1").text
    assert 'name="part_sku" value="BRG-6205"' in complete
    assert 'name="part_sku" value="SEAL-40"' in complete
    assert "/close" not in complete
    assert "/approve" not in complete
    outcome = {
        "fault_found": "yes", "failure_code": "bearing", "time_on_site_min": "95", "notes": "pitted race",
        "part_sku": ["BRG-6205", "SEAL-40"], "part_used": ["2", ""],
    }  # fmt: skip
    response = ana.post(f"{BOARD}/1/complete", outcome)
    assert response.status_code == 303, response.text
    order = dispatch.order(1)
    assert (order.status, order.fault_found, order.failure_code) == ("completed", True, "bearing")
    assert (order.time_on_site_min, order.notes) == (95, "pitted race")
    with transaction(dispatch.api.sessions) as session:
        used = {sku: n for sku, n in session.execute(select(WorkOrderPartRow.sku, WorkOrderPartRow.used_qty))}
        on_hand = session.scalar(select(PartStockRow.on_hand).where(PartStockRow.sku == "BRG-6205"))
    assert used == {"BRG-6205": 2, "SEAL-40": 0}
    assert on_hand == 3
    assert dana.post(f"{BOARD}/1/close").status_code == 303
    assert dispatch.order(1).status == "closed"
    assert dispatch.actors(1) == [
        ("create", "engine"), ("approve", "dana"), ("assign", "dana"), ("schedule", "dana"),
        ("start", "ana.t"), ("complete", "ana.t"), ("close", "dana"),
    ]  # fmt: skip
    trail = dana.get(f"{BOARD}/1").text
    assert "status: in_progress → completed" in trail
    assert "ana.t" in trail


def scheduled_for_ana(dispatch: Dispatch) -> Browser:
    raise_alert(dispatch.api.sessions, "pump-1")
    dana = dispatch.user("dana", Role.DISPATCHER)
    dana.post(f"{BOARD}/1/approve")
    dana.post(
        f"{BOARD}/1/schedule", {"start_at": "2026-01-01T08:00", "technician_id": str(dispatch.tech["ana"])}
    )
    assert dispatch.order(1).status == "scheduled"
    return dana


def test_a_technician_records_when_the_fault_happened(dispatch: Dispatch) -> None:
    scheduled_for_ana(dispatch)
    ana = dispatch.user("ana.t", Role.TECHNICIAN, dispatch.tech["ana"])
    ana.post(f"{BOARD}/1/start")
    form = ana.get(f"{BOARD}/1").text
    assert 'type="datetime-local" name="failed_at"' in form
    dispatch.api.clock.advance(3 * 3600)  # completed at 03:00 UTC
    found = {"fault_found": "yes", "failure_code": "bearing"}
    for refused, status, says in (
        ({**found, "failed_at": "last night"}, 422, "Give the failure time as a date and time"),  # the form
        ({**found, "failed_at": "2026-01-01T04:00"}, 422, "is after the completion"),  # the service's rules
        ({**found, "failed_at": "2025-11-01T00:00"}, 422, "days before the work order was opened"),
        ({"fault_found": "no", "failed_at": "2026-01-01T01:00"}, 422, "needs a found fault"),
    ):
        response = ana.post(f"{BOARD}/1/complete", refused)
        assert (response.status_code, "Traceback" in response.text) == (status, False), refused
        assert says in response.text, refused
        assert 'href="/console/work-orders/1"' in response.text  # back to the work order
        assert dispatch.order(1).status == "in_progress"  # nothing changed
    response = ana.post(f"{BOARD}/1/complete", {**found, "failed_at": "2026-01-01T01:30"})
    assert response.status_code == 303, response.text
    order = dispatch.order(1)
    assert (order.status, order.failed_at) == ("completed", datetime(2026, 1, 1, 1, 30, tzinfo=UTC))
    shown = re.search(r"<dt>Failed at</dt><dd>([^<]*)</dd>", ana.get(f"{BOARD}/1").text)
    assert shown is not None
    assert shown.group(1) == "2026-01-01T01:30Z"  # on the order page, in UTC


def test_a_technician_cannot_act_on_another_technicians_work_order(dispatch: Dispatch) -> None:
    scheduled_for_ana(dispatch)
    ben = dispatch.user("ben.t", Role.TECHNICIAN, dispatch.tech["ben"])
    page = ben.get(f"{BOARD}/1").text
    assert '<form method="post" action="/console/work-orders/1/' not in page
    assert ben.post(f"{BOARD}/1/start").status_code == 403
    assert dispatch.order(1).status == "scheduled"
    ana = dispatch.user("ana.t", Role.TECHNICIAN, dispatch.tech["ana"])
    ana.post(f"{BOARD}/1/start")
    refused = ben.post(f"{BOARD}/1/complete", {"fault_found": "no"})
    assert refused.status_code == 403
    assert "may not complete this work order" in refused.text
    assert dispatch.order(1).status == "in_progress"
    assert ben.post(f"{BOARD}/1/cancel", {"reason": "mine now"}).status_code == 403


def test_a_viewer_sees_no_action_and_a_forged_post_gets_403(dispatch: Dispatch) -> None:
    raise_alert(dispatch.api.sessions, "pump-1")
    vic = dispatch.user("vic", Role.VIEWER)
    page = vic.get(f"{BOARD}/1").text
    assert '<form method="post" action="/console/work-orders/1/' not in page
    assert "Nothing you may do" in page
    for action, form in (
        ("approve", {}),
        ("cancel", {"reason": "x"}),
        ("complete", {"fault_found": "bogus"}),
    ):
        response = vic.post(f"{BOARD}/1/{action}", form)
        assert response.status_code == 403, action  # before the form is even read
    assert dispatch.order(1).status == "requested"


def test_a_post_without_the_csrf_token_is_refused(dispatch: Dispatch) -> None:
    raise_alert(dispatch.api.sessions, "pump-1")
    dana = dispatch.user("dana", Role.DISPATCHER)
    assert dana.post(f"{BOARD}/1/approve", csrf=False).status_code == 403
    assert dispatch.order(1).status == "requested"


@pytest.mark.parametrize(
    ("action", "form", "status", "says"),
    [
        ("start", {}, 409, "is requested; start"),  # the lifecycle refuses
        ("close", {}, 409, "not allowed from there"),
        ("cancel", {"reason": " "}, 422, "A reason is required"),
        ("schedule", {"start_at": "tomorrow"}, 422, "date and time"),
        ("complete", {"fault_found": "maybe"}, 422, "whether a fault was found"),
    ],
)
def test_a_refused_action_is_a_message_with_its_reason(
    dispatch: Dispatch, action: str, form: dict[str, str], status: int, says: str
) -> None:
    raise_alert(dispatch.api.sessions, "pump-1")
    dana = dispatch.user("dana", Role.DISPATCHER)
    response = dana.post(f"{BOARD}/1/{action}", form)
    assert response.status_code == status
    assert says in response.text
    assert "Traceback" not in response.text
    assert 'href="/console/work-orders/1"' in response.text  # back to the work order
    assert dispatch.order(1).status == "requested"


def test_scheduling_in_the_past_is_refused_by_the_service(dispatch: Dispatch) -> None:
    raise_alert(dispatch.api.sessions, "pump-1")
    dana = dispatch.user("dana", Role.DISPATCHER)
    dana.post(f"{BOARD}/1/approve")
    response = dana.post(f"{BOARD}/1/schedule", {"start_at": "2025-12-31T23:00", "technician_id": ""})
    assert response.status_code == 422
    assert "in the past" in response.text
    assert dispatch.order(1).status == "approved"


def test_unknown_work_orders_are_404(dispatch: Dispatch) -> None:
    dana = dispatch.user("dana", Role.DISPATCHER)
    assert dana.get(f"{BOARD}/99").status_code == 404
    assert dana.post(f"{BOARD}/99/approve").status_code == 404
