"""The work-order rules operators expect, through the API, run against every database backend
(SQLite in ``test_work_order_rules_api.py``, PostgreSQL in ``test_work_order_rules_postgres.py``)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from alerts.clock import ManualClock
from alerts.effects import store_changes
from alerts.state import AlertChange
from alerts.store.db import transaction
from forewarn.contracts.alert import ChangeKind, Severity
from tests.unit.alerts.api_scenarios import get, post, put, raise_alert, seed_crew_and_parts
from tests.unit.alerts.helpers import at


def escalation_raises_priority(
    client: TestClient, sessions: sessionmaker[Session], clock: ManualClock
) -> None:
    """MINOR → CRITICAL: the work order goes P3 → P1, due 4 h after the escalation, audited."""
    stored = raise_alert(sessions, severity=Severity.MINOR)
    wo_id = stored.alert.work_order_id
    assert get(client, f"/work-orders/{wo_id}")["priority"] == "P3"
    clock.set(at(7200))
    critical = stored.alert.model_copy(update={"severity": Severity.CRITICAL})
    with transaction(sessions) as session:
        change = AlertChange(ChangeKind.SEVERITY_CHANGED, critical, at(7200))
        store_changes(session, [change], actor="alert-engine", now=at(7200))
    wo = get(client, f"/work-orders/{wo_id}")
    assert (wo["priority"], wo["severity"]) == ("P1", "CRITICAL")
    assert wo["due_by"].startswith("2026-01-01T06:00:00")  # escalation at 02:00 + the P1 SLA of 4 h
    trail = get(client, f"/work-orders/{wo_id}/audit")
    assert [(e["action"], e["actor"]) for e in trail] == [
        ("create", "engine"),
        ("reprioritise", "alert-engine"),
    ]
    assert (trail[1]["before"]["priority"], trail[1]["after"]["priority"]) == ("P3", "P1")


def schedule_at_a_time(client: TestClient, sessions: sessionmaker[Session], clock: ManualClock) -> None:
    """``start_at`` is kept and served; a start in the past or without a time zone is refused."""
    seed_crew_and_parts(client)
    wo_id = raise_alert(sessions).alert.work_order_id
    post(client, f"/work-orders/{wo_id}/approve", {})
    clock.set(at(3600))
    past = post(client, f"/work-orders/{wo_id}/schedule", {"start_at": "2026-01-01T00:30:00Z"}, 422)
    assert past["code"] == "invalid"
    assert "in the past" in past["detail"]
    post(client, f"/work-orders/{wo_id}/schedule", {"start_at": "2026-01-01T08:00:00"}, 422)  # naive
    assert get(client, f"/work-orders/{wo_id}")["status"] == "approved"
    wo = post(client, f"/work-orders/{wo_id}/schedule", {"start_at": "2026-01-01T09:00:00+01:00"})
    assert wo["status"] == "scheduled"
    assert wo["scheduled_start"].startswith("2026-01-01T08:00:00")
    assert get(client, f"/work-orders/{wo_id}")["scheduled_start"].startswith("2026-01-01T08:00:00")


def restock_releases_by_priority(client: TestClient, sessions: sessionmaker[Session]) -> None:
    """Three orders wait for the kit (2 bearings + 1 seal); deliveries go to the most urgent first."""
    seed_crew_and_parts(client, stock=0)
    ids = {}
    for asset, severity in (
        ("pump-a", Severity.MINOR),
        ("pump-b", Severity.CRITICAL),
        ("pump-c", Severity.MAJOR),
    ):
        wo_id = raise_alert(sessions, asset=asset, severity=severity).alert.work_order_id
        post(client, f"/work-orders/{wo_id}/approve", {})
        assert post(client, f"/work-orders/{wo_id}/schedule", {})["status"] == "waiting_parts"
        ids[severity] = wo_id
    # bearings for two, no seals yet: nothing can go
    assert (
        put(client, "/parts/stock", {"sku": "BRG-6205", "site": "site-1", "on_hand": 4})[
            "released_work_orders"
        ]
        == []
    )
    # two seals: the CRITICAL (P1) then the MAJOR (P2) order; the MINOR one keeps waiting
    out = put(client, "/parts/stock", {"sku": "SEAL-40", "site": "site-1", "on_hand": 2})
    assert out["released_work_orders"] == [ids[Severity.CRITICAL], ids[Severity.MAJOR]]
    assert (out["on_hand"], out["reserved"]) == (2, 2)
    statuses = {s: get(client, f"/work-orders/{i}")["status"] for s, i in ids.items()}
    assert statuses == {
        Severity.CRITICAL: "scheduled",
        Severity.MAJOR: "scheduled",
        Severity.MINOR: "waiting_parts",
    }
    released = get(client, f"/work-orders/{ids[Severity.CRITICAL]}")
    assert {p["sku"]: p["reserved_qty"] for p in released["parts"]} == {"BRG-6205": 2, "SEAL-40": 1}
    trail = get(client, f"/work-orders/{ids[Severity.MAJOR]}/audit")
    assert trail[-1]["action"] == "release"
    assert trail[-1]["actor"] == "admin"  # who restocked
    # cancelling a scheduled order returns its kit: the MINOR order takes it
    post(client, f"/work-orders/{ids[Severity.CRITICAL]}/cancel", {"reason": "asset replaced"})
    assert get(client, f"/work-orders/{ids[Severity.MINOR]}")["status"] == "scheduled"
    stock = {
        s["sku"]: (s["on_hand"], s["reserved"]) for s in get(client, "/parts/stock", site="site-1")["items"]
    }
    assert stock == {"BRG-6205": (4, 4), "SEAL-40": (2, 2)}


def snooze_needs_reason_and_has_a_maximum(client: TestClient, sessions: sessionmaker[Session]) -> None:
    """A blank reason is 422; a MAJOR alert snoozed until 9999-12-31 is 422 naming the maximum."""
    alert_id = raise_alert(sessions, severity=Severity.MAJOR).alert.alert_id
    path = f"/alerts/{alert_id}/snooze"
    post(client, path, {"until": "2026-01-01T01:00:00Z"}, 422)
    post(client, path, {"until": "2026-01-01T01:00:00Z", "reason": "  "}, 422)
    forever = post(client, path, {"until": "9999-12-31T23:59:59Z", "reason": "later"}, 422)
    assert forever["code"] == "invalid"
    assert "at most 24 h" in forever["detail"]
    assert get(client, f"/alerts/{alert_id}")["state"] == "ACTIVE"
    ok = post(client, path, {"until": "2026-01-02T00:00:00Z", "reason": "bearing on order"})
    assert (ok["state"], ok["snoozed_until"][:19]) == ("SNOOZED", "2026-01-02T00:00:00")


def mttr_from_reported_time(client: TestClient, sessions: sessionmaker[Session], clock: ManualClock) -> None:
    """95 minutes reported on site is an MTTR of 95 minutes, however close the API calls were."""
    seed_crew_and_parts(client)
    wo_id = raise_alert(sessions).alert.work_order_id
    for action in ("approve", "schedule", "start"):
        post(client, f"/work-orders/{wo_id}/{action}", {})
    clock.set(at(0.2))
    body = {
        "fault_found": True,
        "failure_code": "BRG-OUTER",
        "time_on_site_min": 95,
        "parts_used": {"BRG-6205": 2},
    }
    post(client, f"/work-orders/{wo_id}/complete", body)
    assert abs(get(client, "/kpis")["mttr_h"] - 95 / 60) < 1e-9
