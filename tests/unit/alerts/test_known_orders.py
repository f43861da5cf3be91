"""``KnownOrders`` (a batch's work orders read up front) answers what the per-change queries would.

The engine stores a batch of alert changes with the index; the API opens and reprioritises one
order at a time with the queries. Both must find the same order, also for orders opened earlier in
the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from alerts.store.db import make_engine, migrate, session_factory
from alerts.workorders import service
from alerts.workorders.lifecycle import DEFAULT_SLA_H
from alerts.workorders.service import KnownOrders, NewWorkOrder
from forewarn.contracts.alert import Severity
from tests.unit.alerts.helpers import T0

ASSETS = ("a", "b", "c")
MODES = ("bearing", "seal")
ALERTS = ("al-1", "al-2", "al-3", None)

new_orders = st.builds(
    NewWorkOrder,
    asset_id=st.sampled_from(ASSETS),
    site=st.just("site-1"),
    failure_mode=st.sampled_from(MODES),
    severity=st.sampled_from(list(Severity)),
    alert_id=st.sampled_from(ALERTS),
)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    """One migrated store for the module; each example works in a transaction it rolls back."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('known') / 'wo.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


@settings(max_examples=60, deadline=None)
@given(
    stored=st.lists(st.tuples(new_orders, st.booleans()), max_size=8),
    asked=st.lists(new_orders, min_size=1, max_size=8),
)
def test_the_index_finds_what_the_queries_find(
    sessions: sessionmaker[Session], stored: list[tuple[NewWorkOrder, bool]], asked: list[NewWorkOrder]
) -> None:
    """Stored orders, some closed (cancelled); then a batch opens ``asked`` in order: the index and
    the queries agree on every one, and on the order each call returns."""
    with sessions() as session:
        for new, closed in stored:
            row, created = service.open_work_order(session, new, actor="t", now=T0)
            if created and closed:
                service.cancel(session, row.id, actor="t", now=T0, reason="test")
        session.flush()
        known = KnownOrders(
            session,
            alert_ids=[n.alert_id for n in asked if n.alert_id is not None],
            keys={(n.asset_id, n.failure_mode) for n in asked},
            order_ids=[],
        )
        for new in asked:
            expected = service._find_existing(session, new)
            assert known.find(new) is expected
            row, created = service.open_work_order(
                session, new, actor="t", now=T0, sla_h=DEFAULT_SLA_H, known=known
            )
            assert created == (expected is None)
            assert row is (expected if expected is not None else row)
            assert service._find_existing(session, new) is row
        session.rollback()
