"""The engine's batch and tick steps on a real SQLite store (no Kafka): effects, restarts, bad input."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from alerts.config import RuleConfig
from alerts.engine.batch import EngineContext, RiskMessage, process_batch, process_tick
from alerts.rules import EngineState, evaluate
from alerts.state import AlertChange
from alerts.store import alert_repo
from alerts.store.db import make_engine, migrate, session_factory, transaction
from alerts.store.tables import AlertRow, OutboxRow, RiskRejectionRow, WorkOrderRow
from alerts.workorders.lifecycle import DEFAULT_SLA_H
from forewarn.contracts.alert import ChangeKind, Severity, decode_alert_event
from tests.unit.alerts.helpers import at, risk, series

RULES = RuleConfig(persistence_s=120, clear_s=180, cooldown_s=0, stale_after_s=900, ack_timeout_s=300)


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[EngineContext]:
    engine = make_engine(f"sqlite:///{tmp_path / 'engine.db'}")
    migrate(engine)
    migrate(engine)  # idempotent at every start
    yield EngineContext(session_factory(engine), RULES, "engine", DEFAULT_SLA_H)
    engine.dispose()


def msgs(records: list, start_offset: int = 0) -> list[RiskMessage]:  # type: ignore[type-arg]
    return [RiskMessage(r.encode(), f"risk/0/{start_offset + i}") for i, r in enumerate(records)]


def count(ctx: EngineContext, table: type) -> int:
    with transaction(ctx.sessions) as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def test_incident_opens_one_work_order_and_publishes_changes(ctx: EngineContext) -> None:
    records = series([0.3, 0.96, 0.96, 0.96, 0.97, 0.4, 0.4, 0.4, 0.4])
    result = process_batch(ctx, msgs(records), at(600))
    assert [c.kind for c in result.changes] == [ChangeKind.RAISED, ChangeKind.CLEARED]
    assert result.changes[0].alert.work_order_id is not None
    assert count(ctx, WorkOrderRow) == 1
    with transaction(ctx.sessions) as s:
        wo = s.scalars(select(WorkOrderRow)).one()
        assert (wo.asset_id, wo.failure_mode, wo.priority, wo.severity) == (
            "pump-1",
            "bearing",
            "P1",
            "CRITICAL",
        )
        assert wo.source_alert_id == result.changes[0].alert.alert_id
        events = [decode_alert_event(r.payload) for r in alert_repo.pending_outbox(s)]
    assert [(e.change, e.state, e.work_order_id) for e in events] == [
        (ChangeKind.RAISED, "ACTIVE", wo.id),
        (ChangeKind.CLEARED, "CLEARED", wo.id),
    ]
    assert events[0].trigger_risk == 0.96
    assert events[0].model_version == "3"


def test_redelivered_batch_after_restart_changes_nothing(ctx: EngineContext, tmp_path: Path) -> None:
    records = series([0.96] * 6)
    process_batch(ctx, msgs(records[:4]), at(300))
    # a new engine on the same store (restart) gets the batch again plus the rest
    engine = make_engine(f"sqlite:///{tmp_path / 'engine.db'}")
    ctx2 = EngineContext(session_factory(engine), RULES, "engine", DEFAULT_SLA_H)
    again = process_batch(ctx2, msgs(records), at(400))
    assert again.changes == []
    assert sum(again.ignored.values()) == 4
    assert count(ctx2, WorkOrderRow) == 1
    assert count(ctx2, OutboxRow) == 1
    with transaction(ctx2.sessions) as s:
        alert = s.scalars(select(AlertRow)).one()
        assert alert.last_seen == at(300)
    engine.dispose()


def test_bad_messages_are_kept_with_reason_and_source(ctx: EngineContext) -> None:
    good = series([0.2])
    batch = [RiskMessage(b"{oops", "risk/2/7"), *msgs(good, 8), RiskMessage(b'{"schema": 9}', "risk/2/9")]
    result = process_batch(ctx, batch, at(0))
    assert (result.records, result.rejected) == (1, 2)
    with transaction(ctx.sessions) as s:
        rows = s.scalars(select(RiskRejectionRow).order_by(RiskRejectionRow.id)).all()
        assert [(r.reason, r.source, r.raw) for r in rows] == [
            ("not_json", "risk/2/7", b"{oops"),
            ("unknown_schema", "risk/2/9", b'{"schema": 9}'),
        ]


def test_warning_alert_opens_no_work_order(ctx: EngineContext) -> None:
    result = process_batch(ctx, msgs(series([0.82] * 4)), at(300))
    assert [c.alert.severity for c in result.changes] == [Severity.WARNING]
    assert count(ctx, WorkOrderRow) == 0


def test_severity_upgrade_opens_the_work_order_later(ctx: EngineContext) -> None:
    process_batch(ctx, msgs(series([0.82] * 4)), at(300))
    result = process_batch(ctx, msgs(series([0.97], start_s=240), 4), at(400))
    assert [c.kind for c in result.changes] == [ChangeKind.SEVERITY_CHANGED]
    assert result.changes[0].alert.work_order_id is not None
    assert count(ctx, WorkOrderRow) == 1


def test_tick_escalates_and_flags_stale_assets_in_the_store(ctx: EngineContext) -> None:
    process_batch(ctx, msgs(series([0.96] * 3)), at(120))
    changes = process_tick(ctx, at(120 + 300))
    assert changes is not None
    assert [(c.kind, c.tier) for c in changes] == [(ChangeKind.ESCALATED, "supervisor")]
    assert process_tick(ctx, at(120 + 301)) == []
    stale = process_tick(ctx, at(120 + 900))
    assert stale is not None
    assert (ChangeKind.RAISED, "stale") in [(c.kind, c.alert.failure_mode) for c in stale]
    assert count(ctx, WorkOrderRow) == 1  # a stale asset gets an alert, not a work order
    with transaction(ctx.sessions) as s:
        tiers = [decode_alert_event(r.payload).tier for r in alert_repo.pending_outbox(s)]
    assert "supervisor" in tiers


READING = st.tuples(
    st.sampled_from(["pump-1", "pump-2", "pump-3"]),
    st.sampled_from(["bearing", "seal"]),
    st.integers(min_value=0, max_value=40),  # event time, minutes (repeats: duplicates, out of order)
    st.sampled_from([0.1, 0.5, 0.96, 0.99]),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    readings=st.lists(READING, min_size=1, max_size=60),
    cuts=st.lists(st.integers(min_value=1, max_value=60), max_size=4),
    one_per_asset=st.booleans(),
    in_order=st.booleans(),
)
# an alert raised in one batch and still open in the next (its asset's part must carry it)
@example([("pump-1", "bearing", m, 0.96) for m in range(4)] + [("pump-2", "seal", 5, 0.1)], [3], False, True)
def test_a_batch_evaluates_as_the_whole_state_would(
    tmp_path_factory: pytest.TempPathFactory,
    readings: list[tuple[str, str, int, float]],
    cuts: list[int],
    one_per_asset: bool,
    in_order: bool,
) -> None:
    """The batch evaluates each record against its asset's part of the state only: the changes and
    the stored state are those of ``evaluate`` over the whole state, record by record."""
    if in_order:  # mostly later readings: alerts open, persist and clear (unordered: mostly ignored)
        readings = sorted(readings, key=lambda r: r[2])
    rules = RuleConfig(persistence_s=60, clear_s=120, cooldown_s=300, stale_after_s=None,
                       one_alert_per_asset=one_per_asset)  # fmt: skip
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('batch') / 'engine.db'}")
    migrate(engine)
    ctx = EngineContext(session_factory(engine), rules, "engine", DEFAULT_SLA_H)
    records = [risk(minute * 60, value, asset=asset, mode=mode) for asset, mode, minute, value in readings]
    bounds = [0, *sorted({c for c in cuts if c < len(records)}), len(records)]
    whole = EngineState()
    for n, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        now = at(3000 + n)
        got = process_batch(ctx, msgs(records[lo:hi], lo), now)
        expected: list[AlertChange] = []
        for record in records[lo:hi]:
            outcome = evaluate(whole, record, now, rules)
            whole = outcome.state
            expected.extend(outcome.changes)
        assert [(c.kind, c.alert.alert_id, c.alert.state) for c in got.changes] == [
            (c.kind, c.alert.alert_id, c.alert.state) for c in expected
        ]
    with transaction(ctx.sessions) as s:
        stored = alert_repo.load_state(s)
    assert stored.tracks == whole.tracks
    assert {k: (a.alert_id, a.state, a.last_seen, a.occurrence_count) for k, a in stored.alerts.items()} == {
        k: (a.alert_id, a.state, a.last_seen, a.occurrence_count) for k, a in whole.alerts.items()
    }
    engine.dispose()
