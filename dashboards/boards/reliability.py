"""Reliability engineering: which model versions serve, how often they are right, whether inputs drift.

Predicted failures are risk alerts raised; actual failures are completed work orders that found a
fault. Precision and false-alarm rate per model version come from the work-order service's
``model_quality`` gauge; drift from ``feature_drift``, written by the drift check of
``forewarn models watch`` (``models.drift_job``) per site (``all`` = the fleet) and feature; its
alarm threshold is ``FOREWARN_DRIFT_PSI_THRESHOLD`` (2.0: measured, see models/README.md "Drift").
"""

# InfluxQL here is built from constants in this file, never from input: S608 does not apply.

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from dashboards.influxql import InfluxQL
from dashboards.panels import Item, bar_gauge_panel, layout, table_panel, timeseries_panel

UID = "forewarn-reliability"
PSI_STEPS = ((None, "green"), (1.0, "orange"), (2.0, "red"))


def models_row() -> list[Item]:
    """Model versions in service and promotions."""
    return [
        dash.Row("Models in service"),
        bar_gauge_panel(
            "Scores per model version",
            InfluxQL(
                'SELECT count("risk") AS "scores" FROM "risk" WHERE $timeFilter '
                'GROUP BY "model_name", "model_version", "model_alias"'
            ).alias("$tag_model_name v$tag_model_version ($tag_model_alias)"),
            description="How many scores each version produced in the time range.",
        ),
        timeseries_panel(
            "Scores per interval by model version",
            InfluxQL(
                'SELECT count("risk") AS "scores" FROM "risk" WHERE $timeFilter '
                'GROUP BY time($__interval), "model_version" fill(none)'
            ).alias("v$tag_model_version"),
            bars=True,
            stacked=True,
        ),
        table_panel(
            "Promotions and rollbacks",
            InfluxQL(
                'SELECT "model_name", "model_version", "action", "note" FROM "model_events" '
                "WHERE $timeFilter ORDER BY time DESC"
            ),
            span=24,
            height=6,
        ),
    ]


def outcomes_row() -> list[Item]:
    """Predicted vs actual failures, precision and false alarms."""
    return [
        dash.Row("Predictions vs outcomes"),
        timeseries_panel(
            "Predicted vs actual failures",
            InfluxQL(
                'SELECT count("alert_id") AS "predicted" FROM "alerts" '
                "WHERE \"change\" = 'raised' AND \"kind\" = 'risk' AND $timeFilter "
                "GROUP BY time($__interval) fill(none)"
            ).alias("predicted (risk alerts raised)"),
            InfluxQL(
                'SELECT sum("fault_found") AS "actual" FROM "work_orders" '
                "WHERE \"status\" = 'completed' AND $timeFilter GROUP BY time($__interval) fill(none)"
            ).alias("actual (fault found on completion)"),
            bars=True,
        ),
        bar_gauge_panel(
            "False-alarm rate by model version",
            InfluxQL(
                'SELECT last("false_alarm_rate") FROM "model_quality" '
                'WHERE $timeFilter GROUP BY "model_version"'
            ).alias("v$tag_model_version"),
            unit="percentunit",
            steps=((None, "green"), (0.2, "orange"), (0.4, "red")),
            max_value=1.0,
        ),
        timeseries_panel(
            "Alert precision by model version",
            InfluxQL(
                'SELECT last("precision") FROM "model_quality" WHERE $timeFilter '
                'GROUP BY time($__interval), "model_version" fill(none)'
            ).alias("v$tag_model_version"),
            unit="percentunit",
            span=24,
        ),
    ]


def drift_row() -> list[Item]:
    """Drift of the key features against the training reference."""
    return [
        dash.Row("Feature drift"),
        timeseries_panel(
            "Feature drift (PSI)",
            InfluxQL(
                'SELECT max("psi") FROM "feature_drift" WHERE $timeFilter '
                'GROUP BY time($__interval), "site", "feature" fill(none)'
            ).alias("$tag_site $tag_feature"),
            description="Population stability index against the champion's training reference, per site "
            "(all = the fleet); at the drift threshold (2.0 by default) the drift alarm fires.",
        ),
        bar_gauge_panel(
            "Latest PSI by feature",
            InfluxQL(
                'SELECT last("psi") FROM "feature_drift" '
                'WHERE $timeFilter GROUP BY "site", "feature", "model_version"'
            ).alias("$tag_site $tag_feature (v$tag_model_version)"),
            steps=PSI_STEPS,
        ),
    ]


def board() -> dash.Dashboard:
    """The reliability engineering board."""
    dashboard = (
        dash.Dashboard("forewarn · Reliability engineering")
        .uid(UID)
        .description("Model versions in service, predicted vs actual failures, false alarms, drift.")
        .tags(["forewarn", "reliability", "models"])
        .time("now-24h", "now")
        .refresh("5m")
        .timezone("utc")
    )
    return layout(dashboard, [models_row(), outcomes_row(), drift_row()])
