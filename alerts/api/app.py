"""The FastAPI application: migrations at start, named users and roles, errors as reason codes.

``create_app`` takes settings and a clock (tests inject a manual one); ``forewarn api serve`` runs it
under uvicorn. Every route but ``/health`` needs a user (a per-user API token or a console session,
:mod:`alerts.api.deps`) whose role may take the route's action. OpenAPI docs at ``/docs``. With InfluxDB (and
MLflow) settings, each work order's report is served at ``/work-orders/{id}/report``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import quote

from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm.exc import StaleDataError

from alerts import kpis
from alerts.api import routes_alerts, routes_assets, routes_crew_parts, routes_plan, routes_work_orders
from alerts.api.deps import AccessError, LoginRequiredError, Store, StoreDep, allowed
from alerts.api.limits import install_limits
from alerts.clock import Clock, SystemClock
from alerts.console import web as console
from alerts.console.docs import swagger_ui
from alerts.console.respond import message as console_message
from alerts.identity.roles import Action
from alerts.identity.users import active_users
from alerts.influx_outbox import Flusher
from alerts.report import ReportSources, mlflow_unit_of
from alerts.settings import ApiSettings, ensure_sqlite_dir
from alerts.store.db import make_engine, migrate, session_factory, transaction
from alerts.workorders.errors import WorkOrderError
from forewarn.influx import InfluxWriter
from forewarn.settings import InfluxRole, InfluxSettings, MlflowRole, MlflowSettings

log = logging.getLogger(__name__)


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
        outbox = influx.for_role(InfluxRole.WRITER)  # the outbox writes; the pages below only read
        writer = InfluxWriter(outbox, retry_budget_s=settings.influx_retry_budget_s)
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
        with transaction(sessions) as session:
            if not active_users(session):
                log.warning("no users yet: create one with `forewarn users add`")
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
        docs_url=None,  # served below from the vendored Swagger UI: nothing from a CDN
        redoc_url=None,
    )
    app.state.store = Store(sessions, the_clock, settings)
    app.state.flusher = flusher
    app.state.engine = engine
    app.state.report_sources = (
        ReportSources(
            influx.for_role(InfluxRole.READER),
            mlflow_unit_of(mlflow.for_role(MlflowRole.READER)) if mlflow else None,
        )
        if influx is not None
        else None
    )

    install_limits(app, settings)  # body size limit (413), 422s that do not echo large inputs

    @app.exception_handler(WorkOrderError)
    async def _refused(_request: Request, exc: WorkOrderError) -> JSONResponse:
        return JSONResponse({"code": exc.code.value, "detail": exc.detail}, status_code=exc.code.http_status)

    @app.exception_handler(AccessError)
    async def _access(request: Request, exc: AccessError) -> Response:
        if request.url.path.startswith(console.PREFIX) and not request.headers.get("HX-Request"):
            # a plain form post of the console: a page saying why, not raw JSON
            return console_message(request, None, status_code=exc.status_code, title="Refused",
                                   detail=exc.detail, back=f"{console.PREFIX}/", active="")  # fmt: skip
        return JSONResponse(
            {"code": exc.code, "detail": exc.detail}, status_code=exc.status_code, headers=exc.headers
        )

    @app.exception_handler(OperationalError)
    async def _store_trouble(_request: Request, exc: OperationalError) -> JSONResponse:
        # PostgreSQL aborts one of two transactions that deadlock (40P01) or cannot be serialised
        # (40001): the caller may simply retry. Anything else: the store is not answering.
        if getattr(exc.orig, "sqlstate", None) in ("40P01", "40001"):
            detail = "a concurrent change got in the way; retry"
            return JSONResponse({"code": "conflict", "detail": detail}, status_code=409)
        log.warning("the store failed a request: %s", str(exc).splitlines()[0])
        detail = "the work-order store did not answer; retry later"
        return JSONResponse({"code": "store_unavailable", "detail": detail}, status_code=503)

    @app.exception_handler(LoginRequiredError)
    async def _login(request: Request, exc: LoginRequiredError) -> Response:
        login = f"{console.PREFIX}/login?next={quote(exc.next_path, safe='/')}"
        if request.headers.get("HX-Request"):  # htmx would swap the login page into a fragment
            body = {"code": "unauthenticated", "detail": "log in again"}
            return JSONResponse(body, status_code=401, headers={"HX-Redirect": login})
        return RedirectResponse(login, 303)

    @app.exception_handler(StaleDataError)
    async def _raced(_request: Request, _exc: StaleDataError) -> JSONResponse:
        return JSONResponse(
            {
                "code": "conflict",
                "detail": "changed by someone else at the same time; read it again and retry",
            },
            status_code=409,
        )

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """Swagger UI from the console's vendored copy (works offline)."""
        return swagger_ui(app.openapi_url or "/openapi.json", app.title)

    @app.get("/health", tags=["meta"])
    def health() -> dict[str, str]:
        """Liveness (no token needed)."""
        return {"status": "ok"}

    # Every route needs a user (401 without one) who may at least read; acting routes ask for more.
    auth = [Depends(allowed(Action.READ))]
    app.include_router(routes_alerts.router, dependencies=auth)
    app.include_router(routes_work_orders.router, dependencies=auth)
    app.include_router(routes_crew_parts.technicians, dependencies=auth)
    app.include_router(routes_crew_parts.parts, dependencies=auth)
    for router in routes_plan.ROUTERS:
        app.include_router(router, dependencies=auth)
    routes_assets.install(app, None, auth)  # the register FOREWARN_ASSETS_* names (admins change it)

    @app.get("/kpis", tags=["kpis"], dependencies=auth)
    def get_kpis(store: StoreDep) -> kpis.Kpis:
        """MTBF, MTTR, first-time fix, response times, precision per model version, parts availability."""
        with transaction(store.sessions) as session:
            return kpis.from_store(session)

    console.install(app)
    return app
