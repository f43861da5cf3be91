"""API scenarios run against every database backend (SQLite here, PostgreSQL in integration).

The client's default ``Authorization`` is an admin's token (:func:`user_auth` in the fixture); a
scenario acts as another user by passing ``auth=`` (a dispatcher approves, a technician starts).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from alerts.clock import ManualClock
from alerts.effects import store_changes
from alerts.identity import users
from alerts.identity.roles import Role
from alerts.state import Alert, AlertChange
from alerts.store.db import transaction
from alerts.workorders.service import NewWorkOrder, open_work_order
from forewarn.contracts.alert import AlertKind, AlertState, ChangeKind, Severity
from tests.unit.alerts.helpers import T0, at

PASSWORD = "correct horse battery staple"  # every test user's (only tokens are used here)
Auth = dict[str, str]


def user_auth(
    sessions: sessionmaker[Session], name: str, role: Role, *, technician_id: int | None = None
) -> Auth:
    """Create user ``name`` with ``role`` and an API token; the ``Authorization`` header of it."""
    with transaction(sessions) as session:
        users.add_user(session, name, role, PASSWORD, technician_id=technician_id, actor="test", now=T0)
        issued = users.issue_token(session, name, label="test", actor="test", now=T0)
    return {"Authorization": f"Bearer {issued.token}"}


def post(
    client: TestClient, path: str, body: dict[str, Any], expect: int = 200, *, auth: Auth | None = None
) -> dict[str, Any]:
    """POST as the client's user (or ``auth``'s); assert the status; the JSON body."""
    response = client.post(path, json=body, headers=auth)
    assert response.status_code == expect, response.text
    data: dict[str, Any] = response.json()
    return data


def put(client: TestClient, path: str, body: dict[str, Any], *, auth: Auth | None = None) -> dict[str, Any]:
    """PUT as the client's user (or ``auth``'s); 200 expected."""
    response = client.put(path, json=body, headers=auth)
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


def get(client: TestClient, path: str, **params: Any) -> Any:
    """GET as the client's user; 200 expected."""
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def raise_alert(
    sessions: sessionmaker[Session],
    *,
    asset: str = "pump-1",
    mode: str = "bearing",
    severity: Severity = Severity.CRITICAL,
    raised_s: float = 0,
    version: str = "3",
) -> AlertChange:
    """Store a raised risk alert the way the engine does (opening its work order)."""
    alert = Alert(
        alert_id=f"alert-{asset}-{mode}-{raised_s:g}",
        asset_id=asset,
        site="site-1",
        failure_mode=mode,
        kind=AlertKind.RISK,
        severity=severity,
        state=AlertState.ACTIVE,
        first_seen=at(raised_s),
        last_seen=at(raised_s),
        occurrence_count=1,
        trigger_risk=0.97,
        trigger_rul_cycles=9.0,
        model_name="rul-gbm",
        model_version=version,
        raised_at=at(raised_s),
        last_notified_at=at(raised_s),
    )
    with transaction(sessions) as session:
        (stored,) = store_changes(
            session, [AlertChange(ChangeKind.RAISED, alert, at(raised_s))], actor="engine", now=at(raised_s)
        )
    return stored


def seed_crew_and_parts(client: TestClient, *, stock: int = 5) -> dict[str, int]:
    """Two technicians at site-1, one elsewhere covering site-1; a bearing kit; stock at site-1."""
    ids = {}
    for name, skills, site, territory in [
        ("ana", ["bearing"], "site-1", []),
        ("ben", ["general"], "site-1", []),
        ("cy", ["bearing"], "site-2", ["site-1"]),
        ("dee", ["seal"], "site-1", []),
    ]:
        t = post(
            client,
            "/technicians",
            {"name": name, "skills": skills, "site": site, "territory": territory},
            201,
        )
        ids[name] = t["id"]
    put(client, "/parts/kits/bearing", {"parts": {"BRG-6205": 2, "SEAL-40": 1}})
    put(client, "/parts/stock", {"sku": "BRG-6205", "site": "site-1", "on_hand": stock})
    put(client, "/parts/stock", {"sku": "SEAL-40", "site": "site-1", "on_hand": stock})
    return ids


def full_lifecycle(client: TestClient, sessions: sessionmaker[Session], clock: ManualClock) -> None:
    """Alert → work order → approve → schedule (parts reserved) → start → complete → close, audited
    with the name of the user who acted (a dispatcher, then the assigned technician)."""
    ids = seed_crew_and_parts(client)
    sup = user_auth(sessions, "sup", Role.DISPATCHER)
    ana = user_auth(sessions, "ana", Role.TECHNICIAN, technician_id=ids["ana"])
    stored = raise_alert(sessions)
    wo_id = stored.alert.work_order_id
    assert wo_id is not None
    wo = get(client, f"/work-orders/{wo_id}")
    assert wo["status"] == "requested"
    assert wo["priority"] == "P1"
    assert wo["due_by"].startswith("2026-01-01T04:00:00")  # P1 SLA = 4 h after creation
    assert {p["sku"]: p["quantity"] for p in wo["parts"]} == {"BRG-6205": 2, "SEAL-40": 1}
    alert = get(client, f"/alerts/{stored.alert.alert_id}")
    assert alert["work_order_id"] == wo_id

    ranked = get(client, f"/work-orders/{wo_id}/suggestions")
    assert [s["technician_id"] for s in ranked] == [ids["ana"], ids["cy"], ids["ben"]]

    clock.set(at(600))
    assert post(client, f"/work-orders/{wo_id}/approve", {}, auth=sup)["status"] == "approved"
    wo = post(client, f"/work-orders/{wo_id}/schedule", {}, auth=sup)
    assert wo["status"] == "scheduled"
    assert wo["technician_id"] == ids["ana"]
    assert {p["sku"]: p["reserved_qty"] for p in wo["parts"]} == {"BRG-6205": 2, "SEAL-40": 1}
    stock = get(client, "/parts/stock", site="site-1", sku="BRG-6205")["items"][0]
    assert (stock["on_hand"], stock["reserved"]) == (5, 2)
    techs = get(client, "/technicians", site="site-1")["items"]
    assert {t["name"]: t["open_load"] for t in techs}["ana"] == 1

    clock.set(at(3600))
    wo = post(client, f"/work-orders/{wo_id}/start", {}, auth=ana)
    assert wo["status"] == "in_progress"
    assert wo["on_site_at"].startswith("2026-01-01T01:00:00")
    clock.set(at(3600 + 5400))
    wo = post(
        client,
        f"/work-orders/{wo_id}/complete",
        {
            "fault_found": True,
            "failure_code": "BRG-OUTER-RACE",
            "notes": "outer race spalling",
            "parts_used": {"BRG-6205": 2},
        },
        auth=ana,
    )
    assert wo["status"] == "completed"
    assert wo["time_on_site_min"] == 90.0
    assert {p["sku"]: (p["used_qty"], p["reserved_qty"]) for p in wo["parts"]} == {
        "BRG-6205": (2, 0),
        "SEAL-40": (0, 0),
    }
    stock = {
        s["sku"]: (s["on_hand"], s["reserved"]) for s in get(client, "/parts/stock", site="site-1")["items"]
    }
    assert stock == {"BRG-6205": (3, 0), "SEAL-40": (5, 0)}
    assert post(client, f"/work-orders/{wo_id}/close", {}, auth=sup)["status"] == "closed"

    trail = get(client, f"/work-orders/{wo_id}/audit")
    assert [e["action"] for e in trail] == [
        "create",
        "approve",
        "assign",
        "schedule",
        "start",
        "complete",
        "close",
    ]
    assert trail[1]["before"]["status"] == "requested"
    assert trail[1]["after"]["status"] == "approved"
    assert [e["actor"] for e in trail] == ["engine", "sup", "sup", "sup", "ana", "ana", "sup"]
    assert trail[-1]["at"].startswith("2026-01-01T02:30:00")


def illegal_transitions_answer_409(client: TestClient, sessions: sessionmaker[Session]) -> None:
    """Lifecycle steps out of order are refused with 409 and change nothing."""
    seed_crew_and_parts(client)
    wo_id = raise_alert(sessions).alert.work_order_id
    for action in ("start", "close", "schedule"):
        problem = post(client, f"/work-orders/{wo_id}/{action}", {}, 409)
        assert problem["code"] == "illegal_transition"
    problem = post(client, f"/work-orders/{wo_id}/complete", {"fault_found": False}, 409)
    assert "requested" in problem["detail"]
    assert get(client, f"/work-orders/{wo_id}")["status"] == "requested"
    post(client, f"/work-orders/{wo_id}/cancel", {"reason": "duplicate"})
    assert post(client, f"/work-orders/{wo_id}/approve", {}, 409)["code"] == "illegal_transition"
    assert post(client, "/work-orders/99999/approve", {}, 404)["code"] == "not_found"


def waiting_parts_then_scheduled(client: TestClient, sessions: sessionmaker[Session]) -> None:
    """A site short of the kit puts the order in waiting-parts; the delivery schedules it (released)."""
    seed_crew_and_parts(client, stock=1)
    wo_id = raise_alert(sessions).alert.work_order_id
    post(client, f"/work-orders/{wo_id}/approve", {})
    wo = post(client, f"/work-orders/{wo_id}/schedule", {})
    assert wo["status"] == "waiting_parts"
    assert all(p["reserved_qty"] == 0 for p in wo["parts"])
    delivered = put(client, "/parts/stock", {"sku": "BRG-6205", "site": "site-1", "on_hand": 4})
    assert delivered["released_work_orders"] == [wo_id]
    wo = get(client, f"/work-orders/{wo_id}")
    assert wo["status"] == "scheduled"
    assert {p["sku"]: p["reserved_qty"] for p in wo["parts"]} == {"BRG-6205": 2, "SEAL-40": 1}
    kpis = get(client, "/kpis")
    assert kpis["schedule_attempts"] == 1  # the dispatcher's one attempt found the site short
    assert kpis["parts_availability"] == 0.0
    cancelled = post(client, f"/work-orders/{wo_id}/cancel", {"reason": "asset replaced"})
    assert cancelled["status"] == "cancelled"
    stock = {s["sku"]: s["reserved"] for s in get(client, "/parts/stock", site="site-1")["items"]}
    assert stock == {"BRG-6205": 0, "SEAL-40": 0}


def concurrent_duplicates_open_one(
    sessions: sessionmaker[Session], *, threads: int = 8, rounds: int = 3
) -> None:
    """Many threads opening the same (asset, failure mode) at once get one work order."""
    for r in range(rounds):

        def open_one(i: int, r: int = r) -> tuple[int, bool] | BaseException:
            new = NewWorkOrder(
                asset_id=f"pump-{r}",
                site="site-1",
                failure_mode="bearing",
                severity=Severity.MAJOR,
                alert_id=f"alert-{r}-{i % 2}",  # two different alerts for the same incident
            )
            try:
                with transaction(sessions) as session:
                    row, created = open_work_order(session, new, actor=f"t{i}", now=at(r))
                    return (row.id, created)
            except Exception as exc:
                return exc

        results = run_in_threads(open_one, threads)
        assert [r for r in results if isinstance(r, BaseException)] == []
        assert len({wo_id for wo_id, _ in results}) == 1
        assert sum(created for _, created in results) == 1


def run_in_threads(fn: Callable[[int], Any], n: int) -> list[Any]:
    """Call ``fn(i)`` from ``n`` threads started together; results in order."""
    barrier = threading.Barrier(n)
    out: list[Any] = [None] * n

    def call(i: int) -> None:
        barrier.wait(timeout=10)
        out[i] = fn(i)

    pool = [threading.Thread(target=call, args=(i,)) for i in range(n)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=60)
    return out


def failure_time_at_completion(
    client: TestClient, sessions: sessionmaker[Session], clock: ManualClock
) -> None:
    """A crew may report when the fault happened: stored, shown, audited and the fault label's time; a
    time with no fault, after the completion (past the clock skew) or long before the order is refused.
    """
    from alerts.labels import from_store  # the label export's own reader, on this store

    seed_crew_and_parts(client, stock=20)
    clock.set(at(600))
    orders = []
    for asset in ("pump-1", "pump-2", "pump-3"):
        wo_id = raise_alert(sessions, asset=asset).alert.work_order_id
        for action in ("approve", "schedule", "start"):
            post(client, f"/work-orders/{wo_id}/{action}", {})
        orders.append(wo_id)
    one, two, three = orders
    clock.set(at(7200))
    done = {"fault_found": True, "failure_code": "BRG-OUTER-RACE", "notes": "spalling"}
    refused = [
        {"fault_found": False, "failed_at": at(1800).isoformat()},  # a sound asset did not fail
        {**done, "failed_at": at(7200 + 301).isoformat()},  # after the completion, beyond the skew
        {**done, "failed_at": at(-31 * 86_400).isoformat()},  # a month before the order
    ]
    for body in refused:
        assert post(client, f"/work-orders/{one}/complete", body, 422)["code"] == "invalid"
    post(client, f"/work-orders/{one}/complete", {**done, "failed_at": "2026-01-01T00:30:00"}, 422)  # naive
    assert get(client, f"/work-orders/{one}")["status"] == "in_progress"  # the refusals changed nothing

    wo = post(client, f"/work-orders/{one}/complete", {**done, "failed_at": "2026-01-01T01:30:00+01:00"})
    assert (wo["status"], wo["failed_at"][:19]) == ("completed", "2026-01-01T00:30:00")  # as UTC
    assert get(client, f"/work-orders/{one}")["failed_at"] == wo["failed_at"]
    assert get(client, f"/work-orders/{one}/audit")[-1]["after"]["failed_at"].startswith(
        "2026-01-01T00:30:00"
    )
    skewed = post(client, f"/work-orders/{two}/complete", {**done, "failed_at": at(7200 + 120).isoformat()})
    assert skewed["failed_at"] == skewed["completed_at"]  # a device clock ahead: the completion's time
    assert post(client, f"/work-orders/{three}/complete", done)["failed_at"] is None  # not reported

    with transaction(sessions) as session:
        labels = {lb.asset_id: (lb.ts, lb.failure_mode) for lb in from_store(session)}
    assert labels == {
        "pump-1": (at(1800), "BRG-OUTER-RACE"),  # when it failed, with the crew's code
        "pump-2": (at(7200), "BRG-OUTER-RACE"),
        "pump-3": (at(600), "BRG-OUTER-RACE"),  # no failure time: when the crew was on site
    }
