"""Operations alert board: what needs a person now.

Active and unacknowledged alerts by severity, work orders by status, SLA breaches, and the assets
whose latest risk is above the alerting band. Counts come from the services' one-minute snapshots
(``alert_counts``, ``work_order_counts``); lists come from the event measurements.
"""

# InfluxQL here is built from constants in this file, never from input: S608 does not apply.
# ruff: noqa: S608

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from dashboards.boards.variables import SITES_FILTER, sites
from dashboards.influxql import InfluxQL
from dashboards.panels import (
    RISK_THRESHOLDS,
    Item,
    bar_gauge_panel,
    layout,
    stat_panel,
    table_panel,
    timeseries_panel,
)

UID = "forewarn-operations"
AT_RISK = 0.5
"""Latest risk at or above this lists an asset under "at risk now" (the alert rules' lower band)."""


def _open_alerts(state: str, group_by: str = "") -> InfluxQL:
    """Sum over sites and kinds of the latest snapshot of alerts in ``state``."""
    outer_group = f' GROUP BY "{group_by}"' if group_by else ""
    return InfluxQL(
        'SELECT sum("open_alerts") AS "alerts" FROM ('
        'SELECT last("open_alerts") AS "open_alerts" FROM "alert_counts" '
        f"WHERE \"state\" = '{state}' AND {SITES_FILTER} AND $timeFilter "
        'GROUP BY "site", "severity", "kind") WHERE $timeFilter' + outer_group
    )


def alerts_row() -> list[Item]:
    """Alert counts now and over time."""
    return [
        dash.Row("Alerts"),
        stat_panel(
            "Active, unacknowledged",
            _open_alerts("ACTIVE"),
            steps=((None, "green"), (1, "orange"), (5, "red")),
            description="Open alerts nobody has acknowledged yet, all severities.",
        ),
        stat_panel(
            "Acknowledged, in work",
            _open_alerts("ACKNOWLEDGED"),
            steps=((None, "blue"),),
        ),
        bar_gauge_panel(
            "Active alerts by severity",
            _open_alerts("ACTIVE", "severity").alias("$tag_severity"),
            steps=((None, "green"), (1, "orange"), (5, "red")),
        ),
        timeseries_panel(
            "Active alerts by severity over time",
            InfluxQL(
                'SELECT sum("n") AS "alerts" FROM ('
                'SELECT max("open_alerts") AS "n" FROM "alert_counts" '
                f"WHERE \"state\" = 'ACTIVE' AND {SITES_FILTER} AND $timeFilter "
                'GROUP BY time($__interval), "site", "severity", "kind" fill(none)) '
                'WHERE $timeFilter GROUP BY time($__interval), "severity" fill(none)'
            ).alias("$tag_severity"),
            span=24,
            stacked=True,
        ),
    ]


def _open_work_orders(field: str, group_by: str = "") -> InfluxQL:
    outer_group = f' GROUP BY "{group_by}"' if group_by else ""
    return InfluxQL(
        f'SELECT sum("{field}") AS "{field}" FROM ('
        f'SELECT last("{field}") AS "{field}" FROM "work_order_counts" '
        f"WHERE {SITES_FILTER} AND $timeFilter "
        'GROUP BY "site", "status", "priority") WHERE $timeFilter' + outer_group
    )


def work_orders_row() -> list[Item]:
    """Open work orders, where they wait, and SLA breaches."""
    return [
        dash.Row("Work orders and SLA"),
        bar_gauge_panel(
            "Open work orders by status", _open_work_orders("open_work_orders", "status").alias("$tag_status")
        ),
        stat_panel(
            "SLA breaches now",
            _open_work_orders("sla_breached"),
            steps=((None, "green"), (1, "red")),
            description="Open work orders past their SLA deadline.",
        ),
        stat_panel("Open work orders", _open_work_orders("open_work_orders")),
        timeseries_panel(
            "SLA breaches by priority",
            InfluxQL(
                'SELECT sum("n") AS "breached" FROM ('
                'SELECT max("sla_breached") AS "n" FROM "work_order_counts" '
                f"WHERE {SITES_FILTER} AND $timeFilter "
                'GROUP BY time($__interval), "site", "status", "priority" fill(none)) '
                'WHERE $timeFilter GROUP BY time($__interval), "priority" fill(none)'
            ).alias("$tag_priority"),
            stacked=True,
        ),
        table_panel(
            "Work-order changes after their SLA deadline",
            InfluxQL(
                'SELECT "work_order_id", "asset_id", "status", "priority", "failure_mode" '
                f'FROM "work_orders" WHERE "sla_breached" = 1 AND {SITES_FILTER} AND $timeFilter '
                "ORDER BY time DESC LIMIT 50"
            ),
        ),
    ]


def at_risk_row() -> list[Item]:
    """Assets whose latest score is in the alerting band, and the latest alert changes."""
    return [
        dash.Row("Assets at risk now"),
        table_panel(
            f"Assets with latest risk ≥ {AT_RISK:.0%}",
            InfluxQL(
                'SELECT "risk", "rul_cycles" FROM ('
                'SELECT last("risk") AS "risk", last("rul_cycles") AS "rul_cycles" FROM "risk" '
                f'WHERE {SITES_FILTER} AND $timeFilter GROUP BY "site", "asset_id") '
                f'WHERE "risk" >= {AT_RISK} AND $timeFilter GROUP BY "site", "asset_id"'
            ),
        ),
        table_panel(
            "Latest alert changes",
            InfluxQL(
                'SELECT "alert_id", "asset_id", "severity", "state", "change", "risk", "rul_cycles" '
                f'FROM "alerts" WHERE {SITES_FILTER} AND $timeFilter ORDER BY time DESC LIMIT 50'
            ),
        ),
        bar_gauge_panel(
            "Highest latest risk by asset",
            InfluxQL(
                f'SELECT last("risk") FROM "risk" WHERE {SITES_FILTER} AND $timeFilter GROUP BY "asset_id"'
            ).alias("$tag_asset_id"),
            unit="percentunit",
            steps=RISK_THRESHOLDS,
            max_value=1.0,
            span=24,
        ),
    ]


def board() -> dash.Dashboard:
    """The operations alert board."""
    dashboard = (
        dash.Dashboard("forewarn · Operations alerts")
        .uid(UID)
        .description("Active alerts, work orders, SLA breaches and assets at risk now.")
        .tags(["forewarn", "operations"])
        .time("now-6h", "now")
        .refresh("1m")
        .timezone("utc")
        .with_variable(sites(multi=True))
    )
    return layout(dashboard, [alerts_row(), work_orders_row(), at_risk_row()])
