"""Where the console's pages read InfluxDB from, and what they say when they cannot.

The API has InfluxDB settings only when it was started with them (``app.state.report_sources``);
without them, or when InfluxDB does not answer, a page says so in a notice and shows what the store
has: a page never fails because of InfluxDB.
"""

from __future__ import annotations

from fastapi import Request

from alerts.report import ReportSources
from forewarn.influx import InfluxQueryError
from forewarn.settings import InfluxSettings

NOT_CONFIGURED = "InfluxDB is not configured for this API (FOREWARN_INFLUX_*): the time series are not shown."
MAX_NOTICE = 300  # an InfluxDB error can quote a whole statement: a notice stays short


def influx_of(request: Request) -> InfluxSettings | None:
    """The InfluxDB settings of the running app, None when it has none."""
    sources: ReportSources | None = getattr(request.app.state, "report_sources", None)
    return sources.influx if sources is not None else None


def unreachable(exc: InfluxQueryError) -> str:
    """The notice of a page whose InfluxDB did not answer or refused a query."""
    text = str(exc)
    if len(text) > MAX_NOTICE:
        text = text[:MAX_NOTICE] + "…"
    return f"InfluxDB gave no answer, so the time series are not shown: {text}"
