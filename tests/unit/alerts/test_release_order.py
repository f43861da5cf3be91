"""A restock releases waiting work orders most urgent first: the pure rule, then on the real store.

The rule (``alerts.workorders.release``): walking the tried orders by (priority, due, id), an order
is released when, for every part it needs, the running total of that part over the orders up to and
including it fits what is free. The tests state that rule directly (not incrementally) and check
the implementation against it for any set of waiting orders, kits and stock.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from alerts.store.db import make_engine, migrate, session_factory
from alerts.store.tables import AuditRow, PartStockRow, TechnicianRow, WorkOrderPartRow, WorkOrderRow
from alerts.workorders import service
from alerts.workorders.release import Waiting, release_plan, urgency
from forewarn.contracts.work_order import Priority, WorkOrderStatus
from tests.unit.alerts.helpers import at

SKUS = ("BRG", "SEAL", "GASKET")


def fits_rule(waiting: list[Waiting], free: dict[str, int]) -> list[int]:
    """The rule as stated: released iff, per part it needs, the running total up to it fits."""
    walk = sorted(waiting, key=urgency)
    out = []
    for i, order in enumerate(walk):
        needs = {s: q for s, q in order.needs.items() if q > 0}
        if all(
            sum(o.needs.get(sku, 0) for o in walk[: i + 1] if o.needs.get(sku, 0) > 0) <= free.get(sku, 0)
            for sku in needs
        ):
            out.append(order.work_order_id)
    return out


kits = st.dictionaries(st.sampled_from(SKUS), st.integers(0, 4), min_size=1, max_size=3)
waiting_orders = st.lists(
    st.tuples(st.sampled_from(list(Priority)), st.integers(0, 3), kits), max_size=12
).map(
    lambda rows: [
        Waiting(i + 1, priority, at(3600 * due_h), needs) for i, (priority, due_h, needs) in enumerate(rows)
    ]
)
stock = st.dictionaries(st.sampled_from(SKUS), st.integers(0, 10))


@given(waiting_orders, stock)
def test_plan_is_the_rule_and_never_overdraws(waiting: list[Waiting], free: dict[str, int]) -> None:
    released = release_plan(waiting, free)
    assert released == fits_rule(waiting, free)
    by_id = {w.work_order_id: w for w in waiting}
    assert released == sorted(released, key=lambda i: urgency(by_id[i]))  # most urgent first
    for sku in SKUS:
        assert sum(by_id[i].needs.get(sku, 0) for i in released) <= free.get(sku, 0)


@given(waiting_orders, stock, st.sampled_from(SKUS), st.integers(1, 5))
def test_more_stock_never_releases_fewer(
    waiting: list[Waiting], free: dict[str, int], sku: str, more: int
) -> None:
    richer = {**free, sku: free.get(sku, 0) + more}
    assert set(release_plan(waiting, free)) <= set(release_plan(waiting, richer))


def test_a_more_urgent_order_keeps_its_claim() -> None:
    p1 = Waiting(1, Priority.P1, at(0), {"BRG": 5})  # short: 3 free
    p3 = Waiting(2, Priority.P3, at(0), {"BRG": 2})  # would fit alone
    p3_other = Waiting(3, Priority.P3, at(0), {"SEAL": 1})  # needs nothing P1 needs
    assert release_plan([p3, p1, p3_other], {"BRG": 3, "SEAL": 1}) == [3]
    assert release_plan([p3, p1, p3_other], {"BRG": 7, "SEAL": 1}) == [1, 2, 3]
    # same priority: the earlier due time first, then the lower id
    a, b = Waiting(7, Priority.P2, at(60), {"BRG": 2}), Waiting(5, Priority.P2, at(0), {"BRG": 2})
    c = Waiting(4, Priority.P2, at(60), {"BRG": 2})
    assert release_plan([a, b, c], {"BRG": 4}) == [5, 4]


# --- the same rule on the real store: set_stock reserves, schedules and audits -----------------


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('release') / 'wo.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


def _order(
    session: Session, n: int, site: str, status: WorkOrderStatus, priority: Priority, due_h: int
) -> int:
    row = WorkOrderRow(
        asset_id=f"pump-{n}",
        site=site,
        failure_mode="bearing",
        status=status.value,
        severity="MINOR",
        priority=priority.value,
        due_by=at(3600 * due_h),
        technician_id=session.scalars(select(TechnicianRow.id)).first(),
        created_by="test",
        created_at=at(0),
        updated_at=at(0),
    )
    session.add(row)
    session.flush()
    return row.id


held_orders = st.lists(kits, max_size=3)  # already scheduled, their kits reserved
other_site = st.lists(kits, max_size=2)  # waiting at another site: never released by this restock


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    waiting=st.lists(st.tuples(st.sampled_from(list(Priority)), st.integers(0, 3), kits), max_size=8),
    held=held_orders,
    elsewhere=other_site,
    start=stock,
    sku=st.sampled_from(SKUS),
    delivered=st.integers(0, 12),
)
def test_restock_on_the_store_releases_exactly_the_rule(
    sessions: sessionmaker[Session],
    waiting: list[tuple[Priority, int, dict[str, int]]],
    held: list[dict[str, int]],
    elsewhere: list[dict[str, int]],
    start: dict[str, int],
    sku: str,
    delivered: int,
) -> None:
    session = sessions()
    tx = session.begin()
    try:
        session.add(TechnicianRow(name="ana", skills=["bearing"], site="site-1", territory=[], active=True))
        session.flush()
        # stock: what is free at the start plus what the held orders reserve
        for s in SKUS:
            reserved = sum(k.get(s, 0) for k in held)
            session.add(
                PartStockRow(sku=s, site="site-1", on_hand=start.get(s, 0) + reserved, reserved=reserved)
            )
            session.add(PartStockRow(sku=s, site="site-2", on_hand=0, reserved=0))
        n = 0
        for kit in held:
            n += 1
            wid = _order(session, n, "site-1", WorkOrderStatus.SCHEDULED, Priority.P1, 0)
            session.add_all(
                WorkOrderPartRow(work_order_id=wid, sku=s, quantity=q, reserved_qty=q) for s, q in kit.items()
            )
        plan_input = []
        for priority, due_h, kit in waiting:
            n += 1
            wid = _order(session, n, "site-1", WorkOrderStatus.WAITING_PARTS, priority, due_h)
            session.add_all(WorkOrderPartRow(work_order_id=wid, sku=s, quantity=q) for s, q in kit.items())
            if sku in kit:  # tried: the orders whose kit names the restocked part
                plan_input.append(Waiting(wid, priority, at(3600 * due_h), kit))
        for kit in elsewhere:
            n += 1
            wid = _order(session, n, "site-2", WorkOrderStatus.WAITING_PARTS, Priority.P1, 0)
            session.add_all(WorkOrderPartRow(work_order_id=wid, sku=s, quantity=q) for s, q in kit.items())
        session.flush()
        before_on_hand = session.get(PartStockRow, (sku, "site-1"))
        assert before_on_hand is not None
        new_on_hand = before_on_hand.on_hand + delivered

        result = service.set_stock(session, sku, "site-1", new_on_hand, actor="stores", now=at(60))

        free = {s: start.get(s, 0) for s in SKUS} | {sku: start.get(sku, 0) + delivered}
        expected = fits_rule(plan_input, free) if delivered > 0 else []
        assert result.released == expected
        orders = {o.id: o for o in session.scalars(select(WorkOrderRow))}
        lines = list(session.scalars(select(WorkOrderPartRow)))
        for wid, order in orders.items():
            mine = [line for line in lines if line.work_order_id == wid]
            if wid in expected:
                assert order.status == WorkOrderStatus.SCHEDULED.value
                assert all(line.reserved_qty == line.quantity for line in mine)
            elif order.status == WorkOrderStatus.WAITING_PARTS.value:
                assert all(line.reserved_qty == 0 for line in mine)
        # no double reservation, no negative stock: reserved is exactly the lines' reservations
        for row in session.scalars(select(PartStockRow)):
            reserved = sum(
                line.reserved_qty
                for line in lines
                if line.sku == row.sku and orders[line.work_order_id].site == row.site
            )
            assert row.reserved == reserved
            assert 0 <= row.reserved <= row.on_hand
        audits = session.scalars(
            select(AuditRow).where(AuditRow.action == "release").order_by(AuditRow.id)
        ).all()
        assert [int(a.entity_id) for a in audits] == expected
        assert all(a.actor == "stores" and a.after and a.after["status"] == "scheduled" for a in audits)
    finally:
        tx.rollback()
        session.close()


def test_a_stock_take_that_lowers_stock_releases_nothing(sessions: sessionmaker[Session]) -> None:
    session = sessions()
    tx = session.begin()
    try:
        session.add(TechnicianRow(name="ana", skills=["bearing"], site="site-1", territory=[], active=True))
        session.add(PartStockRow(sku="BRG", site="site-1", on_hand=5, reserved=0))
        session.flush()
        wid = _order(session, 1, "site-1", WorkOrderStatus.WAITING_PARTS, Priority.P1, 0)
        session.add(WorkOrderPartRow(work_order_id=wid, sku="BRG", quantity=2))
        session.flush()
        assert service.set_stock(session, "BRG", "site-1", 4, actor="stores", now=at(60)).released == []
        assert session.get(WorkOrderRow, wid).status == WorkOrderStatus.WAITING_PARTS.value  # type: ignore[union-attr]
    finally:
        tx.rollback()
        session.close()
