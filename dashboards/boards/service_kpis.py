"""Service KPIs: how well the after-sales loop performs (MTBF, MTTR, first-time fix, response, parts).

Values are the work-order service's ``service_kpis`` gauge per site (definitions in
``alerts.kpis``); response times per repair come from the ``work_orders`` events.
"""

# InfluxQL here is built from constants in this file, never from input: S608 does not apply.
# ruff: noqa: S608

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from dashboards.boards.variables import SITES_FILTER, sites
from dashboards.influxql import InfluxQL
from dashboards.panels import Item, histogram_panel, layout, stat_panel, timeseries_panel

UID = "forewarn-service-kpis"


def _kpi_now(field: str) -> InfluxQL:
    """The mean over the chosen sites of each site's latest value of ``field``."""
    return InfluxQL(
        f'SELECT mean("{field}") AS "{field}" FROM ('
        f'SELECT last("{field}") AS "{field}" FROM "service_kpis" WHERE {SITES_FILTER} AND $timeFilter '
        'GROUP BY "site") WHERE $timeFilter'
    )


def _kpi_trend(field: str) -> InfluxQL:
    return InfluxQL(
        f'SELECT mean("{field}") FROM "service_kpis" WHERE {SITES_FILTER} AND $timeFilter '
        'GROUP BY time($__interval), "site" fill(none)'
    ).alias("$tag_site")


def now_row() -> list[Item]:
    """The KPIs now."""
    return [
        dash.Row("Now"),
        stat_panel("MTBF", _kpi_now("mtbf_h"), unit="h", span=5),
        stat_panel("MTTR", _kpi_now("mttr_h"), unit="h", steps=((None, "green"), (8, "orange")), span=5),
        stat_panel(
            "First-time fix rate",
            _kpi_now("first_time_fix_rate"),
            unit="percentunit",
            steps=((None, "red"), (0.7, "orange"), (0.85, "green")),
            span=5,
        ),
        stat_panel(
            "Response: alert → on site",
            _kpi_now("alert_to_on_site_s"),
            unit="s",
            steps=((None, "green"), (14400, "orange")),
            span=5,
        ),
        stat_panel(
            "Parts availability",
            _kpi_now("parts_availability"),
            unit="percentunit",
            steps=((None, "red"), (0.8, "orange"), (0.95, "green")),
            span=4,
        ),
    ]


def trends_row() -> list[Item]:
    """The KPIs over time, per site."""
    return [
        dash.Row("Trends by site"),
        timeseries_panel("MTBF (hours)", _kpi_trend("mtbf_h"), unit="h"),
        timeseries_panel("MTTR (hours)", _kpi_trend("mttr_h"), unit="h"),
        timeseries_panel("First-time fix rate", _kpi_trend("first_time_fix_rate"), unit="percentunit"),
        timeseries_panel("Parts availability", _kpi_trend("parts_availability"), unit="percentunit"),
        timeseries_panel("Alert → work order", _kpi_trend("alert_to_work_order_s"), unit="s"),
        histogram_panel(
            "Response per repair: alert → on site",
            InfluxQL(
                'SELECT "response_s" FROM "work_orders" '
                f"WHERE \"status\" = 'in_progress' AND {SITES_FILTER} AND $timeFilter"
            ),
            unit="s",
        ),
    ]


def board() -> dash.Dashboard:
    """The service KPI board."""
    dashboard = (
        dash.Dashboard("forewarn · Service KPIs")
        .uid(UID)
        .description("MTBF, MTTR, first-time fix, response time and parts availability.")
        .tags(["forewarn", "service", "kpi"])
        .time("now-7d", "now")
        .refresh("5m")
        .timezone("utc")
        .with_variable(sites(multi=True))
    )
    return layout(dashboard, [now_row(), trends_row()])
