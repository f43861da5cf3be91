"""Parts-inventory scenarios run against every database backend (SQLite here, PostgreSQL in
integration): movements sum to stock, concurrent issues and reservations never overdraw, the
refusals change nothing, a receipt releases waiting work orders most urgent first."""

from __future__ import annotations

import random
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from alerts.identity.roles import Role
from alerts.store.db import transaction
from alerts.store.tables import PartKitRow, PartMovementRow, PartStockRow, WorkOrderPartRow, WorkOrderRow
from alerts.workorders import service, stock
from alerts.workorders.errors import WorkOrderError
from forewarn.contracts.alert import Severity
from tests.unit.alerts.api_scenarios import (
    get,
    post,
    put,
    raise_alert,
    run_in_threads,
    seed_crew_and_parts,
    user_auth,
)
from tests.unit.alerts.helpers import T0, at

SITES = ("site-1", "site-2")


def assert_books_agree(session: Session) -> None:
    """Every balance is the sum of its movements, and never negative nor over-reserved."""
    pairs = {(sku, site) for sku, site in session.execute(select(PartStockRow.sku, PartStockRow.site))}
    moved = select(PartMovementRow.sku, PartMovementRow.site).distinct()
    pairs |= {(sku, site) for sku, site in session.execute(moved)}
    for sku, site in sorted(pairs):
        kept = stock.balance(session, sku, site)
        assert stock.balance_from_movements(session, sku, site) == kept, (sku, site)
        assert 0 <= kept.reserved <= kept.on_hand, kept


def seed_orders(sessions: sessionmaker[Session], n: int, *, on_hand: int) -> list[int]:
    """``n`` approved work orders at site-1 (kit: 1 BRG), BRG known by its kit, ``on_hand`` in stock."""
    with transaction(sessions) as session:
        service.set_kit(session, "bearing", {"BRG": 1}, actor="test", now=T0)
        ids = []
        for i in range(n):
            row = WorkOrderRow(
                asset_id=f"pump-{i}",
                site="site-1",
                failure_mode="bearing",
                status="approved",
                severity="MINOR",
                priority="P3",
                due_by=at(86_400),
                created_by="test",
                created_at=T0,
                updated_at=T0,
            )
            session.add(row)
            session.flush()
            session.add(WorkOrderPartRow(work_order_id=row.id, sku="BRG", quantity=1))
            ids.append(row.id)
        if on_hand:
            stock.receive(session, "BRG", "site-1", on_hand, actor="test", now=T0)
    return ids


def concurrent_movements_never_overdraw(sessions: sessionmaker[Session], *, threads: int = 6) -> None:
    """Threads reserve, release, issue and receive at random on one part: the stock never goes
    negative, reservations never exceed what is on hand, and the books still sum up."""
    orders = seed_orders(sessions, threads, on_hand=5)
    refused: list[str] = []

    def worker(i: int) -> int:
        rng = random.Random(i)
        done = 0
        for step in range(12):
            wo = orders[i]
            op = rng.choice(("reserve", "reserve", "issue", "issue", "unreserve", "receive"))
            qty = rng.randint(1, 3)
            try:
                with transaction(sessions) as session:
                    now = at(step)
                    if op == "reserve":
                        stock.reserve(session, "BRG", "site-1", qty, wo, actor=f"t{i}", now=now)
                    elif op == "issue":
                        stock.issue_to_work_order(session, "BRG", "site-1", qty, wo, actor=f"t{i}", now=now)
                    elif op == "unreserve":
                        stock.unreserve(session, "BRG", "site-1", qty, wo, actor=f"t{i}", now=now)
                    else:
                        stock.receive(session, "BRG", "site-1", 1, actor=f"t{i}", now=now)
                done += 1
            except WorkOrderError as exc:
                refused.append(exc.detail)
            except OperationalError:  # a deadlock victim (none expected: one row is locked)
                refused.append("operational")
        return done

    results = run_in_threads(worker, threads)
    assert all(isinstance(r, int) for r in results), results
    assert sum(results) > 0
    assert refused
    with transaction(sessions) as session:
        assert_books_agree(session)
        for wo in orders:  # no work order holds a negative reservation
            held = session.scalar(
                select(func.coalesce(func.sum(PartMovementRow.quantity), 0)).where(
                    PartMovementRow.work_order_id == wo, PartMovementRow.kind.in_(["reserve", "unreserve"])
                )
            )
            assert held is not None
            assert held >= 0


def concurrent_schedules_reserve_once(sessions: sessionmaker[Session], *, threads: int = 6) -> None:
    """Several dispatchers schedule the same work orders at once, with stock for only some of them:
    each order's kit is reserved at most once and the stock never goes negative."""
    with transaction(sessions) as session:
        service.add_technician(
            session, name="ana", skills=["bearing"], site="site-1", territory=[], actor="t", now=T0
        )
    orders = seed_orders(sessions, 4, on_hand=3)  # stock for three of the four

    def worker(i: int) -> list[str]:
        outcomes = []
        for wo in orders if i % 2 else reversed(orders):
            try:
                with transaction(sessions) as session:
                    outcomes.append(service.schedule(session, wo, actor=f"d{i}", now=at(i)).status)
            except (WorkOrderError, StaleDataError, OperationalError) as exc:
                outcomes.append(type(exc).__name__)
        return outcomes

    results = run_in_threads(worker, threads)
    assert all(isinstance(r, list) for r in results), results
    with transaction(sessions) as session:
        assert_books_agree(session)
        reserve_moves = session.execute(
            select(PartMovementRow.work_order_id, func.sum(PartMovementRow.quantity))
            .where(PartMovementRow.kind == "reserve")
            .group_by(PartMovementRow.work_order_id)
        ).all()
        assert all(total == 1 for _, total in reserve_moves)  # never twice for one order
        statuses = [session.get(WorkOrderRow, wo).status for wo in orders]  # type: ignore[union-attr]
        assert statuses.count("scheduled") == 3 == len(reserve_moves)
        assert stock.balance(session, "BRG", "site-1").reserved == 3


def api_movements_and_refusals(client: TestClient, sessions: sessionmaker[Session]) -> None:
    """Receipts, transfers, returns and stock takes through the API; bad input is a 4xx that changes
    nothing; a dispatcher moves stock but sets no policy; a receipt releases most urgent first."""
    seed_crew_and_parts(client, stock=0)
    dispatcher = user_auth(sessions, "dee-d", Role.DISPATCHER)
    ids = {}
    for asset, severity in (("pump-a", Severity.MINOR), ("pump-b", Severity.CRITICAL)):
        wo_id = raise_alert(sessions, asset=asset, severity=severity).alert.work_order_id
        post(client, f"/work-orders/{wo_id}/approve", {})
        assert post(client, f"/work-orders/{wo_id}/schedule", {})["status"] == "waiting_parts"
        ids[severity] = wo_id

    def movements() -> int:
        return int(get(client, "/parts/movements", limit=1)["total"])

    before = movements()
    bad: list[tuple[str, dict[str, Any], int]] = [
        ("/parts/receipts", {"sku": "BRG-6205", "site": "site-1", "quantity": -3}, 422),
        ("/parts/receipts", {"sku": "BRG-6205", "site": "site-1", "quantity": 0}, 422),
        ("/parts/receipts", {"sku": "NOPE-1", "site": "site-1", "quantity": 3}, 422),
        (
            "/parts/transfers",
            {"sku": "BRG-6205", "from_site": "site-1", "to_site": "site-2", "quantity": 1},
            422,
        ),
        (
            "/parts/transfers",
            {"sku": "BRG-6205", "from_site": "site-1", "to_site": "site-1", "quantity": 1},
            422,
        ),
        (
            "/parts/returns",
            {"sku": "BRG-6205", "site": "site-1", "quantity": 1, "work_order_id": ids[Severity.MINOR]},
            422,
        ),
        (
            "/parts/returns",
            {"sku": "BRG-6205", "site": "site-1", "quantity": 1, "work_order_id": 999_999},
            404,
        ),
        ("/parts/adjustments", {"sku": "BRG-6205", "site": "site-1", "counted": -1, "reason": "count"}, 422),
        ("/parts/adjustments", {"sku": "BRG-6205", "site": "site-1", "counted": 1, "reason": " "}, 422),
    ]
    for path, body, code in bad:
        refused = client.post(path, json=body, headers=dispatcher)
        assert refused.status_code == code, (path, body, refused.text)
    assert movements() == before
    # a policy needs an admin; with one, a new SKU becomes known and can be received
    policy = {"sku": "GREASE-1", "site": "site-1", "lead_time_days": 7, "reorder_point": 2}
    assert client.put("/parts/policies", json=policy, headers=dispatcher).status_code == 403
    assert client.put("/parts/policies", json=policy | {"lead_time_days": -1}).status_code == 422
    assert put(client, "/parts/policies", policy)["lead_time_days"] == 7
    post(
        client, "/parts/receipts", {"sku": "GREASE-1", "site": "site-1", "quantity": 5}, 201, auth=dispatcher
    )
    # bearings for both, a seal for one: the CRITICAL order goes first
    post(
        client, "/parts/receipts", {"sku": "BRG-6205", "site": "site-1", "quantity": 4}, 201, auth=dispatcher
    )
    out = post(
        client, "/parts/receipts", {"sku": "SEAL-40", "site": "site-1", "quantity": 1}, 201, auth=dispatcher
    )
    assert out["released_work_orders"] == [ids[Severity.CRITICAL]]
    assert [(m["kind"], m["quantity"]) for m in out["movements"]] == [("receipt", 1)]
    # a transfer: two legs, one transfer id, stock moves
    moved = post(
        client,
        "/parts/transfers",
        {"sku": "BRG-6205", "from_site": "site-1", "to_site": "site-2", "quantity": 1},
        201,
        auth=dispatcher,
    )
    legs = moved["movements"]
    assert [(m["kind"], m["site"], m["quantity"]) for m in legs] == [
        ("transfer_out", "site-1", -1),
        ("transfer_in", "site-2", 1),
    ]
    assert legs[0]["transfer_id"] == legs[1]["transfer_id"] is not None
    # reserved parts cannot leave: 4 on hand - 2 reserved - 1 transferred = 1 free
    over = client.post(
        "/parts/transfers",
        json={"sku": "BRG-6205", "from_site": "site-1", "to_site": "site-2", "quantity": 2},
        headers=dispatcher,
    )
    assert over.status_code == 422
    assert "1 of part 'BRG-6205' free" in over.json()["detail"]
    # issue one to the waiting order, return it: back where we were
    minor = ids[Severity.MINOR]
    line = {"sku": "BRG-6205", "site": "site-1", "quantity": 1, "work_order_id": minor}
    post(client, "/parts/issues", line, 201, auth=dispatcher)
    post(client, "/parts/returns", line, 201, auth=dispatcher)
    assert client.post("/parts/returns", json=line, headers=dispatcher).status_code == 422  # once only
    take = post(
        client,
        "/parts/adjustments",
        {"sku": "BRG-6205", "site": "site-1", "counted": 2, "reason": "count"},
        201,
    )
    assert take["stock"] == [{"sku": "BRG-6205", "site": "site-1", "on_hand": 2, "reserved": 2}]
    assert (
        client.post(
            "/parts/adjustments", json={"sku": "BRG-6205", "site": "site-1", "counted": 1, "reason": "count"}
        ).status_code
        == 422
    )  # below what is reserved
    listed = get(client, "/parts/movements", sku="BRG-6205", site="site-1")["items"]
    assert listed[0]["kind"] == "adjust"
    assert listed[0]["quantity"] == -1
    kpis = get(client, "/parts/kpis")
    assert kpis["delayed_by_parts"] == 2
    assert kpis["still_waiting"] == 1
    assert kpis["kit_lines_scheduled"] == 4
    assert kpis["kit_lines_filled"] == 0
    with transaction(sessions) as session:
        assert_books_agree(session)
        assert session.scalar(select(func.count()).select_from(PartKitRow)) == 2
