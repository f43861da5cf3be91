"""The FastAPI application: migrations at start, bearer-token auth, errors as reason codes.

``create_app`` takes settings and a clock (tests inject a manual one); ``forewarn api serve`` runs it
under uvicorn. OpenAPI docs at ``/docs``; ``/health`` answers without a token. With InfluxDB (and
MLflow) settings, each work order's report is served at ``/work-orders/{id}/report``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm.exc import StaleDataError

from alerts import kpis
from alerts.api import routes_alerts, routes_crew_parts, routes_work_orders
from alerts.api.deps import Store, StoreDep, require_token
from alerts.clock import Clock, SystemClock
from alerts.influx_outbox import Flusher
from alerts.report import ReportSources, mlflow_unit_of
from alerts.settings import ApiSettings, ensure_sqlite_dir
from alerts.store.db import make_engine, migrate, session_factory, transaction
from alerts.workorders.errors import ErrorCode, WorkOrderError
from forewarn.influx import InfluxWriter
from forewarn.settings import InfluxSettings, MlflowSettings

log = logging.getLogger(__name__)

_STATUS = {
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.ILLEGAL_TRANSITION: 409,
    ErrorCode.NO_TECHNICIAN: 409,
    ErrorCode.INVALID: 422,
}


def _flush_loop(flusher: Flusher, stop: threading.Event) -> None:
    """Write the InfluxDB outbox until ``stop``; a failure only delays the next attempt."""
    while not stop.wait(0.5):
        flusher.maybe_flush()
    flusher.flush()  # last points of this run, if InfluxDB answers
    flusher.writer.close()


def create_app(
    settings: ApiSettings,
    clock: Clock | None = None,
    influx: InfluxSettings | None = None,
    mlflow: MlflowSettings | None = None,
) -> FastAPI:
    """Build the app on ``settings.database_url``, upgrading its schema first.

    With ``settings.write_influx`` and ``influx``, a background thread writes the InfluxDB outbox
    (work-order and alert change points) while the app runs; requests never wait on InfluxDB.
    With ``influx``, work orders' reports read it (and ``mlflow``'s registry for the RUL unit).
    """
    ensure_sqlite_dir(settings.database_url)
    engine = make_engine(settings.database_url)
    migrate(engine)
    sessions = session_factory(engine)
    the_clock = clock or SystemClock()
    flusher = None
    if settings.write_influx and influx is not None:
        writer = InfluxWriter(influx, retry_budget_s=settings.influx_retry_budget_s)
        flusher = Flusher(sessions, writer, the_clock, interval_s=settings.influx_flush_interval_s)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        stop = threading.Event()
        worker = None
        if flusher is not None:
            worker = threading.Thread(target=_flush_loop, args=(flusher, stop), name="influx-outbox")
            worker.start()
        log.info(
            "work-order API started: store %s, InfluxDB outbox %s",
            engine.url.render_as_string(hide_password=True), "on" if flusher else "off",
        )  # fmt: skip
        try:
            yield
        finally:
            stop.set()
            if worker is not None:
                worker.join(timeout=30)
            log.info("work-order API stopped")

    app = FastAPI(
        title="forewarn work orders",
        version="1",
        description="Alerts, proactive work orders with crew and parts, and service KPIs.",
        lifespan=lifespan,
    )
    app.state.store = Store(sessions, the_clock, settings)
    app.state.flusher = flusher
    app.state.engine = engine
    app.state.report_sources = (
        ReportSources(influx, mlflow_unit_of(mlflow) if mlflow else None) if influx is not None else None
    )

    @app.exception_handler(WorkOrderError)
    async def _refused(_request: Request, exc: WorkOrderError) -> JSONResponse:
        return JSONResponse({"code": exc.code.value, "detail": exc.detail}, status_code=_STATUS[exc.code])

    @app.exception_handler(StaleDataError)
    async def _raced(_request: Request, _exc: StaleDataError) -> JSONResponse:
        return JSONResponse(
            {
                "code": "conflict",
                "detail": "changed by someone else at the same time; read it again and retry",
            },
            status_code=409,
        )

    @app.get("/health", tags=["meta"])
    def health() -> dict[str, str]:
        """Liveness (no token needed)."""
        return {"status": "ok"}

    auth = [Depends(require_token)]
    app.include_router(routes_alerts.router, dependencies=auth)
    app.include_router(routes_work_orders.router, dependencies=auth)
    app.include_router(routes_crew_parts.technicians, dependencies=auth)
    app.include_router(routes_crew_parts.parts, dependencies=auth)

    @app.get("/kpis", tags=["kpis"], dependencies=auth)
    def get_kpis(store: StoreDep) -> kpis.Kpis:
        """MTBF, MTTR, first-time fix, response times, precision per model version, parts availability."""
        with transaction(store.sessions) as session:
            return kpis.from_store(session)

    return app
