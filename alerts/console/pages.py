"""Every page router of the console, in menu order (``web.install`` mounts them)."""

from __future__ import annotations

from fastapi import APIRouter

from alerts.console import (
    routes_alerts,
    routes_assets,
    routes_fleet,
    routes_kpis,
    routes_login,
    routes_pipeline,
    routes_plan,
    routes_work_orders,
)

ROUTERS: list[APIRouter] = []
ROUTERS.append(routes_login.router)  # /console/login, /console/logout (outside the menu)
ROUTERS.append(routes_alerts.router)  # /console/ (→ alerts), /console/alerts[/rows|/{id}[/ack|/snooze]]
ROUTERS.append(routes_work_orders.router)  # /console/work-orders[/{id}[/approve|/schedule|…]]
ROUTERS.append(routes_fleet.router)  # /console/fleet
ROUTERS.append(routes_assets.router)  # /console/assets/{asset_id}
ROUTERS.append(routes_kpis.router)  # /console/kpis
ROUTERS.append(routes_pipeline.router)  # /console/pipeline
ROUTERS.append(routes_plan.router)  # /console/plan (the crew's timeline, re-plan)
