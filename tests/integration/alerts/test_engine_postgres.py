"""The engine's store effects on PostgreSQL: one work order per incident across a restart."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from alerts.config import RuleConfig
from alerts.engine.batch import EngineContext, RiskMessage, process_batch
from alerts.store.db import make_engine, migrate, session_factory, transaction
from alerts.store.tables import AlertRow, OutboxRow, WorkOrderRow
from alerts.workorders.lifecycle import DEFAULT_SLA_H
from forewarn.contracts.alert import ChangeKind
from tests.unit.alerts.helpers import at, series

pytestmark = pytest.mark.integration

RULES = RuleConfig(persistence_s=120, clear_s=180, cooldown_s=0, stale_after_s=None)


def test_restart_on_postgres_adds_no_work_order(postgres_url: str) -> None:
    records = series([0.96] * 6 + [0.3] * 5)
    messages = [RiskMessage(r.encode(), f"risk/0/{i}") for i, r in enumerate(records)]
    first = make_engine(postgres_url)
    migrate(first)
    ctx = EngineContext(session_factory(first), RULES, "engine", DEFAULT_SLA_H)
    raised = process_batch(ctx, messages[:5], at(300))
    assert [c.kind for c in raised.changes] == [ChangeKind.RAISED]
    first.dispose()

    second = make_engine(postgres_url)
    migrate(second)  # a restart migrates again: nothing to do
    ctx = EngineContext(session_factory(second), RULES, "engine", DEFAULT_SLA_H)
    again = process_batch(ctx, messages, at(900))
    assert [c.kind for c in again.changes] == [ChangeKind.CLEARED]
    assert again.ignored == {"duplicate": 1, "out_of_order": 4}
    with transaction(ctx.sessions) as s:
        assert s.scalar(select(func.count()).select_from(WorkOrderRow)) == 1
        assert s.scalar(select(func.count()).select_from(OutboxRow)) == 2
        alert = s.scalars(select(AlertRow)).one()
        assert (alert.state, alert.last_seen, alert.work_order_id is not None) == ("CLEARED", at(300), True)
    second.dispose()


def test_tick_lease_on_postgres_has_one_holder_under_contention(postgres_url: str) -> None:
    import threading

    from alerts.engine.batch import TickLease, process_tick
    from alerts.store.lease import TICK_LEASE, holder_of, try_acquire

    engine = make_engine(postgres_url)
    migrate(engine)
    sessions = session_factory(engine)
    barrier = threading.Barrier(8)
    won: dict[int, bool] = {}

    def contend(i: int, t_s: float) -> None:
        barrier.wait()
        with transaction(sessions) as s:
            won[i] = try_acquire(s, TICK_LEASE, f"h{i}", at(t_s), 30)

    for t_s in (0, 31, 62):  # the first insert, then two expiries: each time exactly one winner
        won.clear()
        threads = [threading.Thread(target=contend, args=(i, t_s)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(won.values()) == [False] * 7 + [True], t_s
        (winner,) = [i for i, ok in won.items() if ok]
        with transaction(sessions) as s:
            assert holder_of(s, TICK_LEASE, at(t_s)) == f"h{winner}"

    ctx = EngineContext(sessions, RULES, "engine", DEFAULT_SLA_H)
    holder = TickLease(f"h{winner}", 30)
    other = TickLease("someone-else", 30)
    assert process_tick(ctx, at(70), other) is None
    assert process_tick(ctx, at(70), holder) == []
    engine.dispose()
