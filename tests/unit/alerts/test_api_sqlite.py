"""The work-order API on a real SQLite file: lifecycle, 409s, auth, filters, concurrency."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from alerts.identity.roles import Role
from tests.unit.alerts import api_scenarios as sc
from tests.unit.alerts.conftest import Api


def test_full_lifecycle(sqlite_api: Api) -> None:
    sc.full_lifecycle(sqlite_api.client, sqlite_api.sessions, sqlite_api.clock)


def test_completion_records_when_the_fault_happened(sqlite_api: Api) -> None:
    sc.failure_time_at_completion(sqlite_api.client, sqlite_api.sessions, sqlite_api.clock)


def test_illegal_transitions_answer_409(sqlite_api: Api) -> None:
    sc.illegal_transitions_answer_409(sqlite_api.client, sqlite_api.sessions)


def test_waiting_parts_then_scheduled(sqlite_api: Api) -> None:
    sc.waiting_parts_then_scheduled(sqlite_api.client, sqlite_api.sessions)


def test_concurrent_duplicates_open_one_work_order(sqlite_api: Api) -> None:
    sc.concurrent_duplicates_open_one(sqlite_api.sessions)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/alerts"),
        ("get", "/work-orders"),
        ("get", "/technicians"),
        ("get", "/parts/stock"),
        ("get", "/kpis"),
        ("post", "/work-orders/1/approve"),
    ],
)
@pytest.mark.parametrize("header", [None, "Bearer wrong-token-wrong-token", "Basic abc"])
def test_auth_required(sqlite_api: Api, method: str, path: str, header: str | None) -> None:
    headers = {"Authorization": header} if header else {}
    bare = TestClient(sqlite_api.client.app)  # without the admin's token
    response = bare.request(method, path, headers=headers, json={})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["code"] == "unauthenticated"


def test_health_and_openapi_need_no_token(sqlite_api: Api) -> None:
    assert sqlite_api.client.get("/health").json() == {"status": "ok"}
    spec = sqlite_api.client.get("/openapi.json").json()
    assert {"/alerts", "/work-orders", "/technicians", "/parts/stock", "/kpis"} <= set(spec["paths"])


def test_open_by_hand_is_idempotent_and_filters_paginate(sqlite_api: Api) -> None:
    c = sqlite_api.client
    body = {"asset_id": "pump-1", "site": "site-1", "failure_mode": "seal", "severity": "MAJOR"}
    first = sc.post(c, "/work-orders", body, 201)
    assert first["created_by"] == "admin"  # the token's user, not a name from the body
    again = sc.post(c, "/work-orders", body, 200)
    assert again["id"] == first["id"]
    assert first["priority"] == "P2"
    for i in range(5):
        sc.post(c, "/work-orders", {**body, "asset_id": f"fan-{i}"}, 201)
    page = sc.get(c, "/work-orders", limit=2, offset=0)
    assert (page["total"], len(page["items"]), page["limit"]) == (6, 2, 2)
    ids = [wo["id"] for off in (0, 2, 4) for wo in sc.get(c, "/work-orders", limit=2, offset=off)["items"]]
    assert len(set(ids)) == 6
    only = sc.get(c, "/work-orders", asset_id="pump-1")
    assert [wo["id"] for wo in only["items"]] == [first["id"]]
    assert sc.get(c, "/work-orders", status="closed")["total"] == 0


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"asset_id": "a", "site": "s", "failure_mode": "f"},
        {"alert_id": "x", "asset_id": "a"},
        {"asset_id": "a", "site": "s", "failure_mode": "f", "severity": "HUGE"},
        {"asset_id": "a", "site": "s", "failure_mode": "f", "severity": "MAJOR", "x": 1},
        # who acts comes from the identity: a name in the body is refused, never recorded
        {"by": "ops", "asset_id": "a", "site": "s", "failure_mode": "f", "severity": "MAJOR"},
    ],
)
def test_bad_work_order_requests_are_422(sqlite_api: Api, body: dict[str, object]) -> None:
    response = sqlite_api.client.post("/work-orders", json=body)
    assert response.status_code == 422


def test_unknown_alert_is_404(sqlite_api: Api) -> None:
    assert sc.post(sqlite_api.client, "/work-orders", {"alert_id": "nope"}, 404)["code"] == "not_found"
    assert sqlite_api.client.get("/alerts/nope").status_code == 404


def test_ack_and_snooze_alert(sqlite_api: Api) -> None:
    c = sqlite_api.client
    stored = sc.raise_alert(sqlite_api.sessions, severity=sc.Severity.WARNING)
    alert_id = stored.alert.alert_id
    assert stored.alert.work_order_id is None  # WARNING is below the work-order severity
    sqlite_api.clock.set(sc.at(60))
    ana = sc.user_auth(sqlite_api.sessions, "ana", Role.DISPATCHER)
    snoozed = sc.post(
        c, f"/alerts/{alert_id}/snooze", {"until": "2026-01-01T01:00:00Z", "reason": "crew busy"}, auth=ana
    )
    assert snoozed["state"] == "SNOOZED"
    problem = sc.post(
        c, f"/alerts/{alert_id}/snooze", {"until": "2025-01-01T00:00:00Z", "reason": "x"}, 409, auth=ana
    )
    assert problem["detail"].endswith("snooze_in_past")
    acked = sc.post(c, f"/alerts/{alert_id}/ack", {"comment": "on it"}, auth=ana)
    assert (acked["state"], acked["acknowledged_by"], acked["ack_comment"]) == (
        "ACKNOWLEDGED",
        "ana",
        "on it",
    )
    assert sc.get(c, "/alerts", state="ACKNOWLEDGED")["total"] == 1
    assert sc.get(c, "/alerts", asset_id="other")["total"] == 0


def test_completing_with_unknown_or_missing_part_is_422(sqlite_api: Api) -> None:
    c = sqlite_api.client
    sc.seed_crew_and_parts(c)
    wo_id = sc.raise_alert(sqlite_api.sessions).alert.work_order_id
    for action in ("approve", "schedule", "start"):
        sc.post(c, f"/work-orders/{wo_id}/{action}", {})
    body = {"fault_found": True, "failure_code": "X", "parts_used": {"NOPE-1": 1}}
    assert sc.post(c, f"/work-orders/{wo_id}/complete", body, 422)["code"] == "invalid"
    no_code = {"fault_found": True}
    assert sc.post(c, f"/work-orders/{wo_id}/complete", no_code, 422)["code"] == "invalid"
    assert sc.get(c, f"/work-orders/{wo_id}")["status"] == "in_progress"
