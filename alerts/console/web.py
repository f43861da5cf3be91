"""The console's shared pieces: the template environment, the static files, and ``install``.

Pages are server-rendered Jinja2 (autoescaped) with small JS libraries vendored from npm under
``static/vendor`` (pinned in ``static/vendor/VENDOR.json``, each with its licence): nothing is fetched
from outside the machine. Page modules (``routes_*.py``) each define an ``APIRouter`` listed in
:data:`PAGE_ROUTERS`; ``install`` mounts them under ``/console``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from alerts.identity.roles import Principal

HERE = Path(__file__).parent
STATIC = HERE / "static"
PREFIX = "/console"

templates = Jinja2Templates(directory=HERE / "templates")


def install(app: FastAPI) -> None:
    """Mount the console's static files and pages on the API app."""
    from alerts.console import pages, routes_alerts  # the page modules import this one

    app.mount(f"{PREFIX}/static", StaticFiles(directory=STATIC), name="console-static")
    for router in pages.ROUTERS:
        app.include_router(router, prefix=PREFIX, include_in_schema=False)
    app.include_router(routes_alerts.root, include_in_schema=False)  # GET / → the console


NAV = (
    ("alerts", "Alerts", f"{PREFIX}/alerts"),
    ("work-orders", "Work orders", f"{PREFIX}/work-orders"),
    ("plan", "Crew plan", f"{PREFIX}/plan"),
    ("fleet", "Fleet", f"{PREFIX}/fleet"),
    ("kpis", "KPIs", f"{PREFIX}/kpis"),
    ("pipeline", "Pipeline", f"{PREFIX}/pipeline"),
)


def page(
    request: Request, name: str, principal: Principal | None, active: str, **context: Any
) -> HTMLResponse:
    """Render template ``name`` inside ``base.html``'s layout.

    Every page gets ``principal`` (None on the login page), ``nav`` and ``active`` (the menu), and
    ``csrf_token`` (the session's, echoed by forms and htmx requests).
    """
    return templates.TemplateResponse(
        request,
        name,
        {
            "principal": principal,
            "nav": NAV,
            "active": active,
            "csrf_token": principal.csrf_token if principal else None,
            "prefix": PREFIX,
            **context,
        },
    )
