"""The KPI page (``/console/kpis?site=&since=&until=``): MTBF, MTTR, first-time fix, response times
and the false-alarm rate per model version, per site and for the fleet, over a period."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from alerts.api.deps import ConsolePrincipalDep, StoreDep
from alerts.console import kpi_view as kv
from alerts.console.respond import message, number
from alerts.console.timeseries import WindowError
from alerts.console.web import PREFIX, page
from alerts.store.db import transaction

ACTIVE = "kpis"
router = APIRouter()


@router.get("/kpis", response_class=HTMLResponse)
def kpis_page(
    request: Request,
    principal: ConsolePrincipalDep,
    store: StoreDep,
    site: Annotated[str, Query(max_length=200)] = "",
    since: Annotated[str, Query(max_length=40)] = "",
    until: Annotated[str, Query(max_length=40)] = "",
) -> HTMLResponse:
    """The KPIs of the work orders opened in the period (the last 30 days by default)."""
    try:
        period = kv.parse_period(since, until, store.clock.now())
    except WindowError as exc:
        return message(request, principal, status_code=422, title="Bad period", detail=str(exc),
                       back=f"{PREFIX}/kpis", active=ACTIVE)  # fmt: skip
    with transaction(store.sessions) as session:
        facts = kv.read_store(session, period, site)
    per_site = kv.site_kpis(
        facts.rows, period, alerts_open=facts.alerts_open, attempts=facts.attempts, site=site
    )
    return page(
        request,
        "kpis.html",
        principal,
        ACTIVE,
        per_site=per_site,
        sites=facts.sites,
        site=site,
        since=since or period.since.date().isoformat(),
        until=until,
        period=period,
        duration=kv.duration_text,
        share=kv.share_text,
        number=number,
    )
