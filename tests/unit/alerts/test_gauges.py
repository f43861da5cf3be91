"""The boards' gauges from a real SQLite store: every combination with zeros, SLA breaches, the schema."""

from __future__ import annotations

from alerts.gauges import alert_count_lines, count_lines, kpi_snapshot_lines, work_order_count_lines
from alerts.store.db import transaction
from forewarn.contracts.influx_schema import BY_NAME
from tests.unit.alerts.api_scenarios import raise_alert
from tests.unit.alerts.conftest import Api
from tests.unit.alerts.helpers import at
from tests.unit.alerts.test_influx_lines import parse


def test_every_combination_is_written_with_zeros() -> None:
    points = [parse(p) for p in alert_count_lines([("s1", "MAJOR", "ACTIVE", "risk")], ["s1", "s2"], at(0))]
    assert len(points) == 2 * 4 * 3 * 2  # sites x severities x open states x kinds
    nonzero = [(t, f) for _, t, f, _ in points if f["open_alerts"] != "0i"]
    assert nonzero == [
        ({"kind": "risk", "severity": "MAJOR", "site": "s1", "state": "ACTIVE"}, {"open_alerts": "1i"})
    ]


def test_work_order_counts_flag_sla_breaches() -> None:
    orders = [("s1", "requested", "P1", at(100)), ("s1", "requested", "P1", at(300))]
    points = [parse(p) for p in work_order_count_lines(orders, ["s1"], at(200))]
    assert len(points) == 5 * 4  # open statuses x priorities
    (p1,) = [f for _, t, f, _ in points if t["status"] == "requested" and t["priority"] == "P1"]
    assert p1 == {"open_work_orders": "2i", "sla_breached": "1i"}
    assert {t["status"] for _, t, _, _ in points} == {
        "requested",
        "approved",
        "waiting_parts",
        "scheduled",
        "in_progress",
    }


def test_store_snapshot_follows_the_dashboard_schema(sqlite_api: Api) -> None:
    raise_alert(sqlite_api.sessions)
    with transaction(sqlite_api.sessions) as s:
        points = [parse(p) for p in count_lines(s, at(5 * 3600)) + kpi_snapshot_lines(s, at(5 * 3600))]
    for measurement, tags, fields, _ in points:
        schema = BY_NAME[measurement]
        assert set(tags) <= set(schema.tags), measurement
        assert set(fields) <= set(schema.field_names), measurement
    (active,) = [f for m, t, f, _ in points if m == "alert_counts" and f["open_alerts"] != "0i"]
    assert active == {"open_alerts": "1i"}
    (order,) = [f for m, _, f, _ in points if m == "work_order_counts" and f["open_work_orders"] != "0i"]
    assert order == {"open_work_orders": "1i", "sla_breached": "1i"}  # P1, 4 h SLA, 5 h later
    (kpi,) = [f for m, _, f, _ in points if m == "service_kpis"]
    assert (kpi["work_orders_open"], kpi["alerts_open"]) == ("1i", "1i")
