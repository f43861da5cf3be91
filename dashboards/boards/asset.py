"""Asset drill-down: one asset's sensors, risk and RUL over time, with its alerts and model changes.

Variables ``site`` then ``asset`` (the assets of that site) come from ``SHOW TAG VALUES``.
Annotations mark when an alert was raised for the asset and when a model version was promoted or
rolled back, so a jump in risk can be read against the version that produced it.
"""

# InfluxQL here is built from constants in this file, never from input: S608 does not apply.
# ruff: noqa: S608

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from dashboards.boards.variables import ONE_ASSET_FILTER, assets, sites
from dashboards.influxql import InfluxAnnotation, InfluxQL
from dashboards.panels import RISK_THRESHOLDS, Item, layout, stat_panel, table_panel, timeseries_panel
from forewarn.contracts.influx_schema import SENSOR_FIELD_REGEX

UID = "forewarn-asset"


def alert_annotation() -> InfluxAnnotation:
    """A red marker when an alert was raised for the asset."""
    return InfluxAnnotation(
        "Alerts raised",
        'SELECT "alert_id", "severity", "state" FROM "alerts" '
        f"WHERE {ONE_ASSET_FILTER} AND \"change\" = 'raised' AND $timeFilter",
        text_column="alert_id",
        tags_column="severity,state",
        color="red",
    )


def model_annotation() -> InfluxAnnotation:
    """A blue marker when a model version was promoted or rolled back."""
    return InfluxAnnotation(
        "Model versions",
        'SELECT "note", "model_version", "action" FROM "model_events" WHERE $timeFilter',
        text_column="note",
        tags_column="model_version,action",
        color="blue",
    )


def now_row() -> list[Item]:
    """The asset's latest numbers."""
    return [
        dash.Row("Now"),
        stat_panel(
            "Latest risk",
            InfluxQL(f'SELECT last("risk") FROM "risk" WHERE {ONE_ASSET_FILTER} AND $timeFilter'),
            unit="percentunit",
            steps=RISK_THRESHOLDS,
            span=8,
        ),
        stat_panel(
            "Latest RUL (cycles)",
            InfluxQL(f'SELECT last("rul_cycles") FROM "risk" WHERE {ONE_ASSET_FILTER} AND $timeFilter'),
            steps=((None, "red"), (30, "orange"), (60, "green")),
            span=8,
        ),
        table_panel(
            "Model serving this asset",
            InfluxQL(
                'SELECT last("risk") AS "risk" FROM "risk" '
                f"WHERE {ONE_ASSET_FILTER} AND $timeFilter "
                'GROUP BY "model_name", "model_version", "model_alias"'
            ),
            span=8,
            height=5,
        ),
    ]


def trends_row() -> list[Item]:
    """Risk, RUL and sensors over time."""
    return [
        dash.Row("Over time"),
        timeseries_panel(
            "Failure risk",
            InfluxQL(
                f'SELECT mean("risk") FROM "risk" WHERE {ONE_ASSET_FILTER} AND $timeFilter '
                'GROUP BY time($__interval), "model_version" fill(none)'
            ).alias("risk (model v$tag_model_version)"),
            unit="percentunit",
        ),
        timeseries_panel(
            "Remaining useful life (cycles)",
            InfluxQL(
                f'SELECT mean("rul_cycles") FROM "risk" WHERE {ONE_ASSET_FILTER} AND $timeFilter '
                'GROUP BY time($__interval), "model_version" fill(none)'
            ).alias("RUL (model v$tag_model_version)"),
        ),
        timeseries_panel(
            "Sensors",
            InfluxQL(
                f'SELECT mean({SENSOR_FIELD_REGEX}) FROM "telemetry" WHERE {ONE_ASSET_FILTER} '
                "AND $timeFilter GROUP BY time($__interval) fill(none)"
            ).alias("$col"),
            span=24,
            height=10,
        ),
    ]


def history_row() -> list[Item]:
    """What happened to the asset: alerts and work orders."""
    return [
        dash.Row("Alerts and work orders"),
        table_panel(
            "Alert changes",
            InfluxQL(
                'SELECT "alert_id", "severity", "state", "change", "risk", "rul_cycles" FROM "alerts" '
                f"WHERE {ONE_ASSET_FILTER} AND $timeFilter ORDER BY time DESC"
            ),
        ),
        table_panel(
            "Work-order changes",
            InfluxQL(
                'SELECT "work_order_id", "status", "priority", "failure_mode", "sla_breached", "fault_found" '
                f'FROM "work_orders" WHERE {ONE_ASSET_FILTER} AND $timeFilter ORDER BY time DESC'
            ),
        ),
    ]


def board() -> dash.Dashboard:
    """The asset drill-down."""
    dashboard = (
        dash.Dashboard("forewarn · Asset drill-down")
        .uid(UID)
        .description("One asset: sensors, risk and RUL over time, alerts and model-version changes.")
        .tags(["forewarn", "asset"])
        .time("now-6h", "now")
        .refresh("1m")
        .timezone("utc")
        .with_variable(sites(multi=False))
        .with_variable(assets())
        .annotation(alert_annotation())
        .annotation(model_annotation())
    )
    return layout(dashboard, [now_row(), trends_row(), history_row()])
