"""The pipeline health page (``/console/pipeline``): throughput per hop, consumer lag, spool depth
and dead letters by reason from InfluxDB ``pipeline``; the alert engine's rejections and backlogs
from the store."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from alerts.api.deps import ConsolePrincipalDep, StoreDep
from alerts.console import pipeline_view as pv
from alerts.console.influx_notice import NOT_CONFIGURED, influx_of, unreachable
from alerts.console.respond import message
from alerts.console.timeseries import WindowError, window_back
from alerts.console.web import PREFIX, page
from alerts.store.db import transaction
from forewarn.influx import InfluxQueryError

ACTIVE = "pipeline"
DEFAULT_WINDOW = timedelta(hours=1)
LONGEST_WINDOW = timedelta(days=7)
WINDOW_CHOICES = ("15m", "1h", "6h", "24h", "7d")
router = APIRouter()


@router.get("/pipeline", response_class=HTMLResponse)
def pipeline_page(
    request: Request,
    principal: ConsolePrincipalDep,
    store: StoreDep,
    since: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    """The pipeline over the window ``since`` back from now (the last hour by default)."""
    try:
        window = window_back(since, store.clock.now(), default=DEFAULT_WINDOW, longest=LONGEST_WINDOW)
    except WindowError as exc:
        return message(request, principal, status_code=422, title="Bad window", detail=str(exc),
                       back=f"{PREFIX}/pipeline", active=ACTIVE)  # fmt: skip
    with transaction(store.sessions) as session:
        stored = pv.read_store(session, window)
    influx, notice = influx_of(request), ""
    found = pv.PipelineInflux()
    if influx is None:
        notice = NOT_CONFIGURED
    else:
        try:
            found = pv.read_influx(influx, window)
        except InfluxQueryError as exc:
            notice = unreachable(exc)
    return page(
        request,
        "pipeline.html",
        principal,
        ACTIVE,
        influx=found,
        store=stored,
        notice=notice,
        since=since or "1h",
        choices=WINDOW_CHOICES,
    )
