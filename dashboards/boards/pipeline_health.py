"""Pipeline health: throughput per hop, consumer lag, dead letters by reason, gateway spool depth.

Counters in ``pipeline`` are cumulative since each producer started, so rates are
``non_negative_derivative`` (a restart resets the counter without a negative spike). Points with a
``reason`` tag carry only per-reason dead-letter counts; the rest filter them out with
``"reason" = ''`` (InfluxQL's "tag absent").
"""

# InfluxQL here is built from constants in this file, never from input: S608 does not apply.
# ruff: noqa: S608

from __future__ import annotations

from grafana_foundation_sdk.builders import dashboard as dash

from dashboards.influxql import InfluxQL
from dashboards.panels import Item, bar_gauge_panel, layout, stat_panel, timeseries_panel

UID = "forewarn-pipeline"
NO_REASON = "\"reason\" = ''"
HAS_REASON = "\"reason\" != ''"


def _rate(field: str, label: str) -> InfluxQL:
    return InfluxQL(
        f'SELECT non_negative_derivative(last("{field}"), 1s) FROM "pipeline" '
        f'WHERE {NO_REASON} AND $timeFilter GROUP BY time($__interval), "component", "gateway_id" fill(none)'
    ).alias(f"$tag_component $tag_gateway_id {label}")


def throughput_row() -> list[Item]:
    """Readings per second through each hop, and the lag of each consumer."""
    return [
        dash.Row("Throughput"),
        timeseries_panel(
            "Readings/s per hop",
            _rate("readings_in", "in"),
            _rate("readings_out", "out"),
            unit="rps",
            span=24,
        ),
        timeseries_panel(
            "Consumer lag (records)",
            InfluxQL(
                'SELECT max("consumer_lag") FROM "pipeline" WHERE $timeFilter '
                'GROUP BY time($__interval), "component" fill(none)'
            ).alias("$tag_component"),
        ),
        timeseries_panel(
            "Produce latency",
            InfluxQL(
                'SELECT mean("produce_latency_ms_avg") FROM "pipeline" '
                f"WHERE \"component\" = 'gateway' AND {NO_REASON} AND $timeFilter "
                'GROUP BY time($__interval), "gateway_id" fill(none)'
            ).alias("$tag_gateway_id mean"),
            InfluxQL(
                'SELECT max("produce_latency_ms_p99") FROM "pipeline" '
                f"WHERE \"component\" = 'gateway' AND {NO_REASON} AND $timeFilter "
                'GROUP BY time($__interval), "gateway_id" fill(none)'
            ).alias("$tag_gateway_id p99"),
            unit="ms",
        ),
    ]


def dead_letters_row() -> list[Item]:
    """Dead letters by reason: per interval and in the whole range."""
    return [
        dash.Row("Dead letters"),
        timeseries_panel(
            "Dead letters per interval by reason",
            InfluxQL(
                'SELECT non_negative_difference(last("dead_letters")) FROM "pipeline" '
                f"WHERE {HAS_REASON} AND $timeFilter "
                'GROUP BY time($__interval), "reason", "gateway_id" fill(none)'
            ).alias("$tag_reason ($tag_gateway_id)"),
            bars=True,
            stacked=True,
        ),
        bar_gauge_panel(
            "Dead letters in the range by reason",
            InfluxQL(
                'SELECT spread("dead_letters") AS "dead_letters" FROM "pipeline" '
                f'WHERE {HAS_REASON} AND $timeFilter GROUP BY "reason"'
            ).alias("$tag_reason"),
            steps=((None, "green"), (1, "orange")),
        ),
    ]


def gateway_row() -> list[Item]:
    """Store-and-forward: how much each gateway holds back, and failed produces."""
    return [
        dash.Row("Gateways"),
        timeseries_panel(
            "Gateway spool depth (records)",
            InfluxQL(
                'SELECT max("spool_depth") FROM "pipeline" '
                f"WHERE \"component\" = 'gateway' AND {NO_REASON} AND $timeFilter "
                'GROUP BY time($__interval), "gateway_id" fill(none)'
            ).alias("$tag_gateway_id"),
            span=16,
        ),
        stat_panel(
            "Failed produce attempts in the range",
            InfluxQL(
                'SELECT sum("failures") FROM ('
                'SELECT spread("produce_failures") AS "failures" FROM "pipeline" '
                f'WHERE "component" = \'gateway\' AND {NO_REASON} AND $timeFilter GROUP BY "gateway_id") '
                "WHERE $timeFilter"
            ),
            steps=((None, "green"), (1, "orange")),
            span=8,
            height=8,
        ),
    ]


def board() -> dash.Dashboard:
    """The pipeline health board."""
    dashboard = (
        dash.Dashboard("forewarn · Pipeline health")
        .uid(UID)
        .description("Readings/s per hop, consumer lag, dead letters by reason, gateway spool depth.")
        .tags(["forewarn", "pipeline"])
        .time("now-1h", "now")
        .refresh("30s")
        .timezone("utc")
    )
    return layout(dashboard, [throughput_row(), dead_letters_row(), gateway_row()])
