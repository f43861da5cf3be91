"""The work-order rules operators expect, on a real SQLite store (no API): priority follows the
alert's escalation, scheduling at a time, snoozes with a reason and a maximum, MTTR as reported."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from alerts import kpis
from alerts.config import RuleConfig
from alerts.effects import snooze_alert, store_changes
from alerts.engine.batch import EngineContext, RiskMessage, process_batch
from alerts.state import AlertChange
from alerts.store.db import make_engine, migrate, session_factory, transaction
from alerts.store.tables import AlertRow, AuditRow, InfluxOutboxRow, WorkOrderRow
from alerts.workorders import service
from alerts.workorders.errors import ErrorCode, WorkOrderError
from alerts.workorders.lifecycle import DEFAULT_MAX_SNOOZE_H, DEFAULT_SLA_H, escalated
from forewarn.contracts.alert import ChangeKind, Severity
from forewarn.contracts.work_order import Priority
from tests.unit.alerts.api_scenarios import raise_alert
from tests.unit.alerts.helpers import at, series

RULES = RuleConfig(persistence_s=120, clear_s=180, cooldown_s=0, stale_after_s=None, ack_timeout_s=300)


@pytest.fixture
def ctx(tmp_path: Path) -> Iterator[EngineContext]:
    engine = make_engine(f"sqlite:///{tmp_path / 'wo.db'}")
    migrate(engine)
    yield EngineContext(session_factory(engine), RULES, "alert-engine", DEFAULT_SLA_H)
    engine.dispose()


def _msgs(values: list[float], start_s: float, offset: int) -> list[RiskMessage]:
    return [
        RiskMessage(r.encode(), f"risk/0/{offset + i}") for i, r in enumerate(series(values, start_s=start_s))
    ]


# --- priority and due time follow the alert up --------------------------------------------------


@pytest.mark.parametrize(
    ("priority", "due_h", "severity", "expected"),
    [
        (Priority.P3, 72, Severity.CRITICAL, (Priority.P1, 1 + 4)),  # SLA from the escalation (t = 1 h)
        (Priority.P3, 2, Severity.CRITICAL, (Priority.P1, 2)),  # never later than it was
        (Priority.P2, 24, Severity.MAJOR, None),  # same priority: unchanged
        (Priority.P1, 4, Severity.MINOR, None),  # never lowered
    ],
)
def test_escalated_rule(
    priority: Priority, due_h: int, severity: Severity, expected: tuple[Priority, int] | None
) -> None:
    decision = escalated(priority, at(due_h * 3600), severity, at(3600))
    got = None if decision is None else (decision.priority, decision.due_by)
    assert got == (None if expected is None else (expected[0], at(expected[1] * 3600)))


def test_the_engine_escalation_raises_the_work_order_priority(ctx: EngineContext) -> None:
    # risk 0.86 (MINOR) persists → alert and a P3 work order; later 0.96 (CRITICAL) → severity_changed
    first = process_batch(ctx, _msgs([0.86, 0.86, 0.86], 0, 0), at(600))
    assert [c.kind for c in first.changes] == [ChangeKind.RAISED]
    with transaction(ctx.sessions) as s:
        wo = s.scalars(select(WorkOrderRow)).one()
        assert (wo.priority, wo.due_by) == ("P3", at(600) + timedelta(hours=72))
    second = process_batch(ctx, _msgs([0.96], 180, 3), at(3600))
    assert [c.kind for c in second.changes] == [ChangeKind.SEVERITY_CHANGED]
    with transaction(ctx.sessions) as s:
        wo = s.scalars(select(WorkOrderRow)).one()
        assert (wo.priority, wo.severity, wo.due_by) == ("P1", "CRITICAL", at(3600) + timedelta(hours=4))
        audit = s.scalars(select(AuditRow).where(AuditRow.action == "reprioritise")).one()
        assert audit.actor == "alert-engine"
        assert audit.before
        assert audit.after
        assert (audit.before["priority"], audit.after["priority"]) == ("P3", "P1")
        lines = [r.line for r in s.scalars(select(InfluxOutboxRow)) if r.line.startswith("work_orders,")]
        assert len(lines) == 2  # opened, reprioritised
        assert "priority=P1" in lines[1]
        assert "status=requested" in lines[1]


def test_a_severity_change_moves_only_open_work_orders_and_never_down(ctx: EngineContext) -> None:
    stored = raise_alert(ctx.sessions, severity=Severity.MINOR)
    wo_id = stored.alert.work_order_id
    assert wo_id is not None
    up = stored.alert.model_copy(update={"severity": Severity.MAJOR})
    with transaction(ctx.sessions) as s:
        store_changes(s, [AlertChange(ChangeKind.SEVERITY_CHANGED, up, at(60))], actor="eng", now=at(60))
        assert s.get(WorkOrderRow, wo_id).priority == "P2"  # type: ignore[union-attr]
    # an UPDATED change carrying a lower severity (any path): nothing moves back
    down = stored.alert.model_copy(update={"severity": Severity.WARNING})
    with transaction(ctx.sessions) as s:
        store_changes(s, [AlertChange(ChangeKind.UPDATED, down, at(120))], actor="eng", now=at(120))
        assert s.get(WorkOrderRow, wo_id).priority == "P2"  # type: ignore[union-attr]
    # any change that finds the stored alert less severe than itself counts as a rise
    crit = stored.alert.model_copy(update={"severity": Severity.CRITICAL})
    with transaction(ctx.sessions) as s:
        service.cancel(s, wo_id, actor="sup", now=at(150), reason="replaced")
        store_changes(s, [AlertChange(ChangeKind.UPDATED, crit, at(180))], actor="eng", now=at(180))
        assert s.get(WorkOrderRow, wo_id).priority == "P2"  # type: ignore[union-attr]  # cancelled: left
        actions = s.scalars(select(AuditRow.action).where(AuditRow.entity == "work_order")).all()
    assert actions.count("reprioritise") == 1


# --- scheduling at a time -----------------------------------------------------------------------


def _approved(ctx: EngineContext) -> int:
    stored = raise_alert(ctx.sessions)
    wo_id = stored.alert.work_order_id
    assert wo_id is not None
    with transaction(ctx.sessions) as s:
        service.add_technician(
            s, name="ana", skills=["bearing"], site="site-1", territory=[], actor="admin", now=at(0)
        )
        service.approve(s, wo_id, actor="sup", now=at(10))
    return wo_id


def test_schedule_keeps_the_planned_start_and_refuses_the_past(ctx: EngineContext) -> None:
    wo_id = _approved(ctx)
    with transaction(ctx.sessions) as s, pytest.raises(WorkOrderError) as refused:
        service.schedule(s, wo_id, actor="sup", now=at(3600), start_at=at(3599))
    assert refused.value.code is ErrorCode.INVALID
    assert "in the past" in refused.value.detail
    with transaction(ctx.sessions) as s:
        assert s.get(WorkOrderRow, wo_id).status == "approved"  # type: ignore[union-attr]
        row = service.schedule(s, wo_id, actor="sup", now=at(3600), start_at=at(7200))
        assert (row.status, row.scheduled_start) == ("scheduled", at(7200))  # no kit: nothing to wait for
        audit = s.scalars(select(AuditRow).where(AuditRow.action == "schedule")).one()
        assert audit.after
        assert audit.after["scheduled_start"] == at(7200).isoformat()


# --- snoozes: a reason and a maximum ------------------------------------------------------------


@pytest.mark.parametrize("reason", ["", "   ", "\t\n"])
def test_a_snooze_needs_a_reason(ctx: EngineContext, reason: str) -> None:
    alert_id = raise_alert(ctx.sessions, severity=Severity.MAJOR).alert.alert_id
    with transaction(ctx.sessions) as s, pytest.raises(WorkOrderError) as refused:
        snooze_alert(s, alert_id, by="ana", until=at(3600), now=at(0), reason=reason)
    assert refused.value.code is ErrorCode.INVALID


@pytest.mark.parametrize("severity", list(Severity))
def test_a_snooze_is_bounded_by_severity(ctx: EngineContext, severity: Severity) -> None:
    alert_id = raise_alert(ctx.sessions, severity=severity).alert.alert_id
    limit = at(60) + timedelta(hours=DEFAULT_MAX_SNOOZE_H[severity])
    with transaction(ctx.sessions) as s, pytest.raises(WorkOrderError) as refused:
        snooze_alert(s, alert_id, by="ana", until=limit + timedelta(seconds=1), now=at(60), reason="parts")
    assert f"at most {DEFAULT_MAX_SNOOZE_H[severity]:g} h" in refused.value.detail
    with transaction(ctx.sessions) as s:
        assert s.get(AlertRow, alert_id).state == "ACTIVE"  # type: ignore[union-attr]
        row = snooze_alert(s, alert_id, by="ana", until=limit, now=at(60), reason="waiting for parts")
        assert (row.state, row.snoozed_until) == ("SNOOZED", limit)


def test_the_maximum_comes_from_the_caller(ctx: EngineContext) -> None:
    alert_id = raise_alert(ctx.sessions, severity=Severity.MAJOR).alert.alert_id
    tight = {**DEFAULT_MAX_SNOOZE_H, Severity.MAJOR: 0.5}
    with transaction(ctx.sessions) as s, pytest.raises(WorkOrderError, match=r"at most 0\.5 h"):
        snooze_alert(s, alert_id, by="ana", until=at(3600), now=at(0), reason="x", max_snooze_h=tight)


# --- MTTR from the reported time on site --------------------------------------------------------


def test_mttr_uses_the_reported_time_on_site(ctx: EngineContext) -> None:
    wo_id = _approved(ctx)
    with transaction(ctx.sessions) as s:
        service.schedule(s, wo_id, actor="sup", now=at(20))
        service.start(s, wo_id, actor="ana", now=at(30))
        outcome = service.Outcome(True, "BRG-OUTER", "spalling", {}, time_on_site_min=95)
        service.complete(s, wo_id, outcome, actor="ana", now=at(30.2))  # both calls from the office
        assert kpis.from_store(s).mttr_h == pytest.approx(95 / 60)
