"""What the alert commands print and parse: durations, the alert table, one alert in full."""

from __future__ import annotations

from datetime import timedelta

import pytest

from alerts.api.schemas import AlertOut, PartLineOut, WorkOrderOut
from alerts.store.alert_repo import HistoryEntry
from alerts.views import alert_table, describe, parse_duration
from forewarn.contracts.alert import AlertState, ChangeKind, Severity
from forewarn.contracts.work_order import Priority, WorkOrderStatus
from tests.unit.alerts.helpers import at


@pytest.mark.parametrize(
    ("text", "expected"),
    [("90s", timedelta(seconds=90)), ("45m", timedelta(minutes=45)), ("2h", timedelta(hours=2)),
     ("1h30m", timedelta(minutes=90)), ("1.5h", timedelta(minutes=90)), ("3d", timedelta(days=3)),
     (" 1W ", timedelta(weeks=1))],
)  # fmt: skip
def test_durations(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "2", "2x", "h", "1h 30", "-1h", "0m", "2h!"])
def test_not_durations(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


ALERT = AlertOut(
    alert_id="a-1", asset_id="pump-7", site="site-1", failure_mode="bearing", kind="risk",
    severity=Severity.MAJOR, state=AlertState.ACKNOWLEDGED, first_seen=at(0), last_seen=at(60),
    occurrence_count=3, trigger_risk=0.912, trigger_rul_cycles=None, model_name="m", model_version="2",
    raised_at=at(0), acknowledged_by="ana", ack_comment="on it", acknowledged_at=at(120), work_order_id=4,
)  # fmt: skip


def test_alert_table_has_one_line_per_alert() -> None:
    header, row = alert_table([ALERT]).splitlines()
    assert header.split()[:2] == ["ALERT", "SEVERITY"]
    assert row.split() == ["a-1", "MAJOR", "ACKNOWLEDGED", "pump-7", "site-1", "bearing", "0.91", "-",
                           "2026-01-01T00:00:00Z", "4"]  # fmt: skip


def test_describe_shows_every_field_the_work_order_and_the_history() -> None:
    order = WorkOrderOut(
        id=4, asset_id="pump-7", site="site-1", failure_mode="bearing", status=WorkOrderStatus.SCHEDULED,
        severity=Severity.MAJOR, priority=Priority.P2, due_by=at(86400), source_alert_id="a-1",
        model_name="m", model_version="2", technician_id=3, created_by="engine", created_at=at(0),
        updated_at=at(300), on_site_at=None, completed_at=None, closed_at=None, fault_found=None,
        failure_code=None, notes=None, time_on_site_min=None,
        parts=[PartLineOut(sku="BRG-6205", quantity=2, reserved_qty=2, used_qty=0)],
    )  # fmt: skip
    history = [
        HistoryEntry(at=at(0), change=ChangeKind.RAISED, state=AlertState.ACTIVE, severity=Severity.MAJOR,
                     escalation_tier=0, tier=None, detail="", by="alert-engine", published_at=at(1)),
        HistoryEntry(at=at(120), change=ChangeKind.ACKNOWLEDGED, state=AlertState.ACKNOWLEDGED,
                     severity=Severity.MAJOR, escalation_tier=0, tier=None, detail="on it", by="ana",
                     published_at=None),
    ]  # fmt: skip
    text = describe(ALERT, order, history)
    for field in AlertOut.model_fields:
        assert field in text
    assert "  ack_comment         on it" in text.splitlines()
    assert "work order 4" in text
    assert "BRG-6205 x2 (reserved 2, used 0)" in text
    assert "history (2 changes, oldest first" in text
    last = text.splitlines()[-1].split()
    assert last[:6] == ["2026-01-01T00:02:00Z", "acknowledged", "ACKNOWLEDGED", "MAJOR", "ana", "pending"]
    assert last[6:] == ["on", "it"]
