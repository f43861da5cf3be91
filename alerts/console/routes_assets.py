"""The asset page (``/console/assets/{asset_id}``): risk, RUL and trending sensors over a window,
the latest sensors and scores, the model versions behind them, the asset's alerts and work orders.

InfluxDB is optional: without it (or when it does not answer) the page says so and still shows the
store's alerts and work orders. An asset neither the store nor InfluxDB knows is a 404 page.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse

from alerts.api.deps import ConsolePrincipalDep, StoreDep
from alerts.console import asset_view as av
from alerts.console.influx_notice import NOT_CONFIGURED, influx_of, unreachable
from alerts.console.respond import message
from alerts.console.timeseries import WindowError, window_back
from alerts.console.web import PREFIX, page
from alerts.store.db import transaction
from forewarn.influx import InfluxQueryError

ACTIVE = "fleet"
DEFAULT_WINDOW = timedelta(days=7)
LONGEST_WINDOW = timedelta(days=90)
WINDOW_CHOICES = ("6h", "24h", "7d", "30d", "90d")
router = APIRouter()


@router.get("/assets/{asset_id:path}", response_class=HTMLResponse)
def asset_page(
    request: Request,
    asset_id: str,
    principal: ConsolePrincipalDep,
    store: StoreDep,
    since: Annotated[str, Query(max_length=20)] = "",
) -> HTMLResponse:
    """One asset over the window ``since`` back from now (``6h``, ``7d``…; 7 days by default)."""
    back = f"{PREFIX}/fleet"
    now = store.clock.now()
    try:
        window = window_back(since, now, default=DEFAULT_WINDOW, longest=LONGEST_WINDOW)
    except WindowError as exc:
        return message(request, principal, status_code=422, title="Bad window", detail=str(exc),
                       back=back, active=ACTIVE)  # fmt: skip
    if not asset_id or len(asset_id) > av.MAX_ASSET_ID:
        return _unknown(request, principal, asset_id, back)
    with transaction(store.sessions) as session:
        stored = av.read_store(session, asset_id, now)
    influx, notice = influx_of(request), ""
    found = av.AssetInflux()
    if influx is None:
        notice = NOT_CONFIGURED
    else:
        try:
            found = av.read_influx(influx, asset_id, window)
        except InfluxQueryError as exc:
            notice = unreachable(exc)
    if not stored.seen and not found.seen and not (influx is not None and notice):
        return _unknown(request, principal, asset_id, back, influx_known=influx is not None)
    return page(
        request,
        "asset.html",
        principal,
        ACTIVE,
        asset_id=asset_id,
        site=found.site or stored.site,
        influx=found,
        store=stored,
        notice=notice,
        since=since or "7d",
        choices=WINDOW_CHOICES,
        window=window,
    )


def _unknown(
    request: Request, principal: ConsolePrincipalDep, asset_id: str, back: str, *, influx_known: bool = True
) -> HTMLResponse:
    shown = asset_id if len(asset_id) <= 80 else asset_id[:80] + "…"
    influx = "no readings or scores in InfluxDB" if influx_known else "InfluxDB is not configured"
    detail = f"No asset {shown!r}: no alerts or work orders, and {influx}."
    return message(request, principal, status_code=404, title="No such asset", detail=detail, back=back,
                   active=ACTIVE)  # fmt: skip
