"""The parts plan's edges: the fleet page's latest scores as predictions in days, and its points."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from alerts.console.fleet_view import Latest
from alerts.planning.parts_demand import Prediction, StockLevel, plan_parts
from alerts.planning.parts_inputs import parts_points, predictions_from_latest
from forewarn.contracts.influx_schema import PARTS_PLAN

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_latest_scores_become_predictions_in_days_and_unusable_ones_are_named() -> None:
    latest = {
        "p1": Latest("s1", 0.7, "seal_leak", 1440.0, "pumps v3", 0, horizon_cycles=2880.0),
        "p2": Latest("s1", 0.2, "cavitation", None, "pumps v3", 0, horizon_cycles=None),  # old point
        "p3": Latest("s2", None, "", 10.0, "-", 0, horizon_cycles=30.0),
    }
    preds, skipped = predictions_from_latest(latest, rul_step_s=60.0)
    assert preds == [Prediction("p1", "s1", "seal_leak", 0.7, 2.0, 1.0)]  # 1440 and 2880 minutes
    assert skipped == ("p2", "p3")


def test_one_declared_point_per_sku_and_site_zeros_included() -> None:
    plan = plan_parts(
        [Prediction("p1", "s1", "seal_leak", 0.9, 14.0)],
        {"seal_leak": {"SEAL": 1}, "cavitation": {"IMP": 1}},
        [StockLevel("SEAL", "s1", 1), StockLevel("IMP", "s1", 2)],
        [],
        now=NOW,
        service_level=0.95,
        default_lead_time_days=14.0,
    )
    points = sorted(parts_points(plan))
    assert len(points) == 2
    assert points[0].startswith("parts_plan,site=s1,sku=IMP ")
    assert "suggested_qty=0i" in points[0]
    assert "suggested_qty=1i" in points[1]
    assert points[1].endswith(f" {int(NOW.timestamp() * 1000)}")
    for text in points:
        fields = dict(pair.split("=") for pair in text.split(" ")[1].split(","))
        assert PARTS_PLAN.undeclared(["sku", "site"], fields) == []
        assert set(fields) == set(PARTS_PLAN.field_names)
    assert pytest.approx(0.9) == plan.lines[1].expected_demand
