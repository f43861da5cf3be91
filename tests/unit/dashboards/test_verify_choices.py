"""`dashboards verify` judges a single-value variable's panels by the best option, not the first.

The InfluxDB here is a dict of answers (fast); tests/integration/dashboards runs the same checks on the
real InfluxDB.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from dashboards.macros import TimeRange
from dashboards.verify import check_board_any_choice

NOW = datetime(2026, 12, 1, tzinfo=UTC)
RANGE = TimeRange(NOW - timedelta(hours=1), NOW)
RISK = """SELECT "risk" FROM "risk" WHERE "asset_id" = '$asset'"""
ALERTS = """SELECT "risk" FROM "alerts" WHERE "asset_id" = '$asset'"""
BOARD: dict[str, Any] = {
    "uid": "asset",
    "templating": {"list": [{"name": "asset", "query": 'SHOW TAG VALUES WITH KEY = "asset_id"'}]},
    "panels": [
        {"title": "Risk", "targets": [{"refId": "A", "query": RISK}]},
        {"title": "Alerts", "targets": [{"refId": "A", "query": ALERTS}]},
    ],
}


class Answers:
    """InfluxQL answers by query text: every asset has risk; only ``alerting`` has alerts."""

    def __init__(self, assets: list[str], alerting: str | None) -> None:
        self.assets = assets
        self.alerting = alerting
        self.sent: list[str] = []

    def series(self, query: str) -> list[dict[str, Any]]:
        self.sent.append(query)
        if query.startswith("SHOW TAG VALUES"):
            return [{"columns": ["key", "value"], "values": [["asset_id", a] for a in self.assets]}]
        measurement = "alerts" if 'FROM "alerts"' in query else "risk"
        asset = next(a for a in self.assets if f"'{a}'" in query)
        if measurement == "alerts" and asset != self.alerting:
            return []
        return [{"columns": ["time", "risk"], "values": [[1, 0.9]]}]


def test_a_panel_passes_when_some_asset_answers() -> None:
    client = Answers(["pump-1", "pump-2", "pump-3"], alerting="pump-3")
    results, variables = check_board_any_choice(BOARD, client, RANGE)  # type: ignore[arg-type]
    assert [(r.query.title, r.ok) for r in results] == [("Risk", True), ("Alerts", True)]
    assert variables["asset"].values == ("pump-3",)  # it stopped at the first asset that fills every panel


def test_a_panel_no_asset_fills_stays_empty_after_every_option() -> None:
    client = Answers(["pump-1", "pump-2"], alerting=None)
    results, _ = check_board_any_choice(BOARD, client, RANGE)  # type: ignore[arg-type]
    assert [(r.query.title, r.ok) for r in results] == [("Risk", True), ("Alerts", False)]
    assert sum('FROM "alerts"' in q for q in client.sent) == 2  # each option tried once, then it stops


def test_the_options_tried_are_bounded() -> None:
    client = Answers([f"pump-{i:03d}" for i in range(100)], alerting=None)
    check_board_any_choice(BOARD, client, RANGE, tries=5)  # type: ignore[arg-type]
    assert sum('FROM "alerts"' in q for q in client.sent) == 5
