"""The fleet page (``/console/fleet``): sites and assets ranked by their latest risk, with the latest
RUL and open work, each asset linking to its page."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from alerts.api.deps import ConsolePrincipalDep, StoreDep
from alerts.console import fleet_view as fv
from alerts.console.influx_notice import NOT_CONFIGURED, influx_of, unreachable
from alerts.console.respond import message
from alerts.console.timeseries import WindowError, window_back
from alerts.console.web import PREFIX, page
from alerts.store.db import transaction
from forewarn.influx import InfluxQueryError

ACTIVE = "fleet"
DEFAULT_WINDOW = timedelta(days=7)
LONGEST_WINDOW = timedelta(days=90)
WINDOW_CHOICES = ("1h", "24h", "7d", "30d")
PAGE_SIZE = 200  # rows of the ranking per page (the site summaries count every asset)
router = APIRouter()


@router.get("/fleet", response_class=HTMLResponse)
def fleet_page(
    request: Request,
    principal: ConsolePrincipalDep,
    store: StoreDep,
    site: Annotated[str, Query(max_length=200)] = "",
    since: Annotated[str, Query(max_length=20)] = "",
    page_no: Annotated[int, Query(alias="page", ge=1, le=100_000)] = 1,
) -> HTMLResponse:
    """Every asset scored in the window (``since`` back from now, 7 days by default) or with open work."""
    now = store.clock.now()
    try:
        window = window_back(since, now, default=DEFAULT_WINDOW, longest=LONGEST_WINDOW)
    except WindowError as exc:
        return message(request, principal, status_code=422, title="Bad window", detail=str(exc),
                       back=f"{PREFIX}/fleet", active=ACTIVE)  # fmt: skip
    with transaction(store.sessions) as session:
        work = fv.read_open_work(session, now)
    influx, notice = influx_of(request), ""
    latest: dict[str, fv.Latest] = {}
    if influx is None:
        notice = NOT_CONFIGURED
    else:
        try:
            latest = fv.read_latest(influx, window)
        except InfluxQueryError as exc:
            notice = unreachable(exc)
    everything = fv.rank(latest, work)
    rows = [r for r in everything if r.site == site] if site else everything
    last_page = max(1, -(-len(rows) // PAGE_SIZE))
    page_no = min(page_no, last_page)
    first = (page_no - 1) * PAGE_SIZE
    here = f"{PREFIX}/fleet?" + urlencode({"site": site, "since": since or "7d"})
    return page(
        request,
        "fleet.html",
        principal,
        ACTIVE,
        rows=rows[first : first + PAGE_SIZE],
        first=first,
        total=len(rows),
        page_no=page_no,
        last_page=last_page,
        prev_url=f"{here}&page={page_no - 1}" if page_no > 1 else "",
        next_url=f"{here}&page={page_no + 1}" if page_no < last_page else "",
        sites=fv.summarize(rows),
        all_sites=sorted({r.site for r in everything if r.site}),
        site=site,
        since=since or "7d",
        choices=WINDOW_CHOICES,
        notice=notice,
    )
