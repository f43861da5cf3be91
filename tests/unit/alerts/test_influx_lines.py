"""InfluxDB points of alert and work-order changes: the InfluxDB contract, bounded tags, ms times."""

from __future__ import annotations

from datetime import timedelta

from alerts.config import RuleConfig
from alerts.influx_points import alert_lines, work_order_line
from forewarn.contracts.influx_schema import ALERTS, WORK_ORDERS
from tests.unit.alerts.helpers import at, run, series


def parse(point: str) -> tuple[str, dict[str, str], dict[str, str], int]:
    """(measurement, tags, raw field values, ms) of a point without escaped spaces or commas."""
    head, fields, ts = point.split(" ")
    measurement, *tag_parts = head.split(",")
    tags = dict(t.split("=", 1) for t in tag_parts)
    values = dict(f.split("=", 1) for f in fields.split(","))
    return measurement, tags, values, int(ts)


def test_alert_points_follow_the_dashboard_schema() -> None:
    _, changes = run(
        series([0.96] * 4 + [0.1] * 3, rul=None), RuleConfig(persistence_s=0, clear_s=0, stale_after_s=None)
    )
    points = [parse(p) for p in alert_lines(changes)]
    assert [t["change"] for _, t, _, _ in points] == ["raised", "cleared"]
    for (measurement, tags, fields, ts), change in zip(points, changes, strict=True):
        assert measurement == ALERTS.name
        assert set(tags) == set(ALERTS.tags)
        assert set(fields) <= set(ALERTS.field_names)
        assert "alert_id" not in tags  # ids grow without end: a field
        assert fields["alert_id"] == f'"{change.alert.alert_id}"'
        assert ts == int(change.at.timestamp() * 1000)
    assert points[0][1]["severity"] == "CRITICAL"
    assert points[0][2]["risk"] == "0.96"
    assert points[0][2]["occurrences"] == "1i"


def snapshot(status: str, **extra: object) -> dict[str, object]:
    base: dict[str, object] = {
        "id": 42,
        "site": "site-a",
        "asset_id": "pump-7",
        "status": status,
        "priority": "P1",
        "failure_mode": "bearing_wear",
        "model_version": "3",
        "due_by": at(4 * 3600).isoformat(),
        "alert_raised_at": at(0).isoformat(),
        "on_site_at": None,
        "fault_found": None,
        "failure_code": None,
        "time_on_site_min": None,
    }
    return base | extra


def test_work_order_points_on_open_and_status_changes_only() -> None:
    opened = work_order_line(None, snapshot("requested"), at(1))
    assert opened is not None
    measurement, tags, fields, ts = parse(opened)
    assert measurement == WORK_ORDERS.name
    assert set(tags) == set(WORK_ORDERS.tags)
    assert tags["status"] == "requested"
    assert tags["failure_mode"] == "bearing_wear"
    assert fields == {"work_order_id": '"42"', "sla_breached": "0i"}
    assert ts == int(at(1).timestamp() * 1000)
    # an assignment leaves the status alone: no point
    assert work_order_line(snapshot("approved"), snapshot("approved", technician_id=3), at(2)) is None


def test_work_order_point_fields_per_status() -> None:
    on_site = at(3600)
    started = work_order_line(
        snapshot("scheduled"), snapshot("in_progress", on_site_at=on_site.isoformat()), on_site
    )
    assert started is not None
    assert parse(started)[2]["response_s"] == "3600.0"
    late = on_site + timedelta(hours=5)
    done = work_order_line(
        snapshot("in_progress"),
        snapshot("completed", fault_found=True, failure_code="BRG-OUTER", time_on_site_min=90.0),
        late,
    )
    assert done is not None
    _, tags, fields, _ = parse(done)
    assert tags["status"] == "completed"
    assert fields == {
        "work_order_id": '"42"',
        "sla_breached": "1i",  # completed 5 h after the P1 deadline
        "fault_found": "1i",
        "failure_code": '"BRG-OUTER"',
        "time_on_site_min": "90.0",
    }
    assert set(fields) <= set(WORK_ORDERS.field_names)
