"""``/plan/crew``, ``/plan/parts`` and the parts movements: the planning endpoints.

Each router lives beside its code; they are collected here so ``create_app`` mounts one list.
"""

from __future__ import annotations

from fastapi import APIRouter

ROUTERS: list[APIRouter] = []

from alerts.api.routes_plan_parts import router as _plan_parts  # noqa: E402 (P3: GET /plan/parts)

ROUTERS.append(_plan_parts)

from alerts.api.routes_parts_movements import router as _parts_movements  # noqa: E402 (P2: /parts/…)

ROUTERS.append(_parts_movements)

from alerts.api.routes_plan_crew import router as _plan_crew  # noqa: E402 (P1b: /plan/crew…)

ROUTERS.append(_plan_crew)
