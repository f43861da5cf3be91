"""The engine's store effects on PostgreSQL: one work order per incident across a restart."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from alerts.config import RuleConfig
from alerts.engine.batch import EngineContext, RiskMessage, process_batch
from alerts.state import ChangeKind
from alerts.store.db import make_engine, migrate, session_factory, transaction
from alerts.store.tables import AlertRow, OutboxRow, WorkOrderRow
from alerts.workorders.lifecycle import DEFAULT_SLA_H
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
