"""``GET /plan/parts``: expected parts demand from the latest predictions, safety stock and purchase
suggestions (the same report as ``forewarn plan parts --json``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse

from alerts.api.deps import StoreDep
from alerts.console.influx_notice import influx_of
from alerts.planning.parts_inputs import build, report_json
from alerts.planning.settings import PlanSettings
from alerts.store.db import transaction
from forewarn.influx import InfluxQueryError
from forewarn.settings import load

router = APIRouter(prefix="/plan", tags=["planning"])


def _plan_settings(request: Request) -> PlanSettings:
    """The app's planning settings when it holds them, else read once from the environment."""
    found = getattr(request.app.state, "plan_settings", None)
    if not isinstance(found, PlanSettings):
        found = load(PlanSettings)
        request.app.state.plan_settings = found
    return found


@router.get("/parts", responses={503: {"description": "InfluxDB not configured or not answering"}})
def plan_parts(
    request: Request,
    store: StoreDep,
    service_level: Annotated[float | None, Query(ge=0.5, lt=1.0)] = None,
) -> Any:
    """Per SKU and site: expected demand over lead time + review period from the latest risk of every
    asset, its standard deviation, safety stock, free stock, and what to order by when."""
    influx = influx_of(request)
    if influx is None:
        detail = "InfluxDB is not configured for this API (FOREWARN_INFLUX_*): no predictions to plan from"
        return JSONResponse({"code": "influx_not_configured", "detail": detail}, status_code=503)
    try:
        with transaction(store.sessions) as session:
            report = build(session, influx, _plan_settings(request), store.clock.now(), service_level)
    except InfluxQueryError as exc:
        return JSONResponse({"code": "influx_unreachable", "detail": str(exc)[:300]}, status_code=503)
    data: dict[str, Any] = report_json(report)
    return data
