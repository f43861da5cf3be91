"""Fleet overview: how risky each site and asset is, how much life is left, who is reporting.

Latest-per-asset values come from a ``last()`` per ``asset_id``; "reporting" counts assets with a
score in the last 10 minutes, "stale" the open stale-data alerts the alerts service raised.
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
    histogram_panel,
    layout,
    stat_panel,
    table_panel,
    timeseries_panel,
)

UID = "forewarn-fleet"
REPORTING_WINDOW = "10m"


def _assets_with_score(time_condition: str) -> InfluxQL:
    return InfluxQL(
        'SELECT count("risk") AS "assets" FROM ('
        f'SELECT last("risk") AS "risk" FROM "risk" WHERE {SITES_FILTER} AND {time_condition} '
        f'GROUP BY "asset_id") WHERE {time_condition}'
    )


def reporting_row() -> list[Item]:
    """Assets reporting vs stale."""
    return [
        dash.Row("Reporting"),
        stat_panel(
            f"Assets reporting (last {REPORTING_WINDOW})",
            _assets_with_score(f"time > now() - {REPORTING_WINDOW}"),
            steps=((None, "green"),),
            span=8,
        ),
        stat_panel(
            "Assets seen in the time range",
            _assets_with_score("$timeFilter"),
            span=8,
        ),
        stat_panel(
            "Stale assets (open stale-data alerts)",
            InfluxQL(
                'SELECT sum("open_alerts") AS "stale" FROM ('
                'SELECT last("open_alerts") AS "open_alerts" FROM "alert_counts" '
                f"WHERE \"kind\" = 'stale' AND \"state\" = 'ACTIVE' AND {SITES_FILTER} AND $timeFilter "
                'GROUP BY "site", "severity") WHERE $timeFilter'
            ),
            steps=((None, "green"), (1, "orange")),
            span=8,
        ),
    ]


def risk_row() -> list[Item]:
    """Risk by site over time and by asset now."""
    return [
        dash.Row("Risk"),
        timeseries_panel(
            "Mean risk by site",
            InfluxQL(
                f'SELECT mean("risk") FROM "risk" WHERE {SITES_FILTER} AND $timeFilter '
                'GROUP BY time($__interval), "site" fill(none)'
            ).alias("$tag_site"),
            unit="percentunit",
        ),
        timeseries_panel(
            "Highest risk by site",
            InfluxQL(
                f'SELECT max("risk") FROM "risk" WHERE {SITES_FILTER} AND $timeFilter '
                'GROUP BY time($__interval), "site" fill(none)'
            ).alias("$tag_site"),
            unit="percentunit",
        ),
        bar_gauge_panel(
            "Latest risk by asset",
            InfluxQL(
                f'SELECT last("risk") FROM "risk" WHERE {SITES_FILTER} AND $timeFilter GROUP BY "asset_id"'
            ).alias("$tag_asset_id"),
            unit="percentunit",
            steps=RISK_THRESHOLDS,
            max_value=1.0,
            span=24,
            height=10,
        ),
    ]


def rul_row() -> list[Item]:
    """Remaining useful life across the fleet."""
    return [
        dash.Row("Remaining useful life"),
        histogram_panel(
            "RUL distribution (latest per asset, cycles)",
            InfluxQL(
                'SELECT last("rul_cycles") AS "rul_cycles" FROM "risk" '
                f'WHERE {SITES_FILTER} AND $timeFilter GROUP BY "asset_id"'
            ),
            bucket_size=20,
        ),
        table_panel(
            "Latest score per asset",
            InfluxQL(
                'SELECT last("risk") AS "risk", last("rul_cycles") AS "rul_cycles" FROM "risk" '
                f'WHERE {SITES_FILTER} AND $timeFilter GROUP BY "site", "asset_id"'
            ),
        ),
    ]


def board() -> dash.Dashboard:
    """The fleet overview."""
    dashboard = (
        dash.Dashboard("forewarn · Fleet overview")
        .uid(UID)
        .description("Risk by site and asset, RUL distribution, assets reporting vs stale.")
        .tags(["forewarn", "fleet"])
        .time("now-6h", "now")
        .refresh("1m")
        .timezone("utc")
        .with_variable(sites(multi=True))
    )
    return layout(dashboard, [reporting_row(), risk_row(), rul_row()])
