"""Small panel builders shared by every board: one InfluxDB datasource, raw InfluxQL targets.

Each function returns a foundation-SDK panel builder with its datasource, targets (ref ids A, B, …
in order), unit and size set; boards only choose titles and queries.
"""

from __future__ import annotations

from collections.abc import Iterable

from grafana_foundation_sdk.builders import bargauge, common, histogram, stat, table, timeseries
from grafana_foundation_sdk.builders import dashboard as dash
from grafana_foundation_sdk.cog import builder as cogbuilder
from grafana_foundation_sdk.cog import variants as cogvariants
from grafana_foundation_sdk.models import common as common_model
from grafana_foundation_sdk.models import dashboard as model

from dashboards.influxql import InfluxQL, datasource_ref

_REF_IDS = "ABCDEFGHIJ"

Item = cogbuilder.Builder[model.Panel] | dash.Row
"""What a board's row function returns: a row header followed by its panels."""


def layout(board: dash.Dashboard, rows: Iterable[list[Item]]) -> dash.Dashboard:
    """Add rows and panels in order; the SDK places them left to right, top to bottom."""
    for row in rows:
        for item in row:
            board = board.with_row(item) if isinstance(item, dash.Row) else board.with_panel(item)
    return board


def _targets(queries: tuple[InfluxQL, ...]) -> list[cogbuilder.Builder[cogvariants.Dataquery]]:
    if not queries:
        raise ValueError("a panel needs at least one query")
    return [query.ref_id(_REF_IDS[i]) for i, query in enumerate(queries)]


def thresholds(*steps: tuple[float | None, str]) -> dash.ThresholdsConfig:
    """Absolute thresholds: ``(None, "green"), (0.5, "orange"), (0.8, "red")``."""
    return (
        dash.ThresholdsConfig()
        .mode(model.ThresholdsMode.ABSOLUTE)
        .steps([model.Threshold(value=value, color=color) for value, color in steps])
    )


RISK_THRESHOLDS = ((None, "green"), (0.5, "orange"), (0.8, "red"))
"""Risk colouring shared by the boards (alert rules own the real thresholds)."""


def timeseries_panel(
    title: str,
    *queries: InfluxQL,
    unit: str = "none",
    description: str = "",
    span: int = 12,
    height: int = 8,
    bars: bool = False,
    stacked: bool = False,
) -> timeseries.Panel:
    """A time series of one or more InfluxQL series; bars for counts per interval."""
    panel = (
        timeseries.Panel()
        .title(title)
        .description(description)
        .datasource(datasource_ref())
        .targets(_targets(queries))
        .unit(unit)
        .span(span)
        .height(height)
        .legend(
            common.VizLegendOptions()
            .display_mode(common_model.LegendDisplayMode.LIST)
            .placement(common_model.LegendPlacement.BOTTOM)
            .show_legend(True)
        )
    )
    if bars:
        panel = panel.draw_style(common_model.GraphDrawStyle.BARS).fill_opacity(60)
    if stacked:
        panel = panel.stacking(common.StackingConfig().mode(common_model.StackingMode.NORMAL))
    return panel


def stat_panel(
    title: str,
    *queries: InfluxQL,
    unit: str = "none",
    description: str = "",
    span: int = 6,
    height: int = 5,
    steps: tuple[tuple[float | None, str], ...] = ((None, "blue"),),
    calc: str = "lastNotNull",
) -> stat.Panel:
    """A big number (the ``calc`` reduction of each series), coloured by ``steps``."""
    return (
        stat.Panel()
        .title(title)
        .description(description)
        .datasource(datasource_ref())
        .targets(_targets(queries))
        .unit(unit)
        .span(span)
        .height(height)
        .thresholds(thresholds(*steps))
        .color_mode(common_model.BigValueColorMode.BACKGROUND)
        .graph_mode(common_model.BigValueGraphMode.AREA)
        .reduce_options(common.ReduceDataOptions().calcs([calc]).values(False))
    )


def bar_gauge_panel(
    title: str,
    *queries: InfluxQL,
    unit: str = "none",
    description: str = "",
    span: int = 12,
    height: int = 8,
    steps: tuple[tuple[float | None, str], ...] = ((None, "blue"),),
    max_value: float | None = None,
) -> bargauge.Panel:
    """One horizontal bar per series (per tag value), last value, coloured by ``steps``."""
    panel = (
        bargauge.Panel()
        .title(title)
        .description(description)
        .datasource(datasource_ref())
        .targets(_targets(queries))
        .unit(unit)
        .span(span)
        .height(height)
        .min(0)
        .thresholds(thresholds(*steps))
        .orientation(common_model.VizOrientation.HORIZONTAL)
        .display_mode(common_model.BarGaugeDisplayMode.GRADIENT)
        .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]).values(False))
    )
    if max_value is not None:
        panel = panel.max(max_value)
    return panel


def table_panel(
    title: str, *queries: InfluxQL, description: str = "", span: int = 12, height: int = 8
) -> table.Panel:
    """Rows from table-format InfluxQL (each query is switched to table format)."""
    return (
        table.Panel()
        .title(title)
        .description(description)
        .datasource(datasource_ref())
        .targets(_targets(tuple(query.table() for query in queries)))
        .span(span)
        .height(height)
    )


def histogram_panel(
    title: str,
    *queries: InfluxQL,
    unit: str = "none",
    description: str = "",
    span: int = 12,
    height: int = 8,
    bucket_size: int | None = None,
) -> histogram.Panel:
    """The distribution of the values the queries return (table format: one value per row)."""
    panel = (
        histogram.Panel()
        .title(title)
        .description(description)
        .datasource(datasource_ref())
        .targets(_targets(tuple(query.table() for query in queries)))
        .unit(unit)
        .span(span)
        .height(height)
        .combine(True)
    )
    if bucket_size is not None:
        panel = panel.bucket_size(bucket_size)
    return panel
