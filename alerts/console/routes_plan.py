"""The crew plan page (``/console/plan``): each technician's schedule over the planning horizon as a
timeline, the work orders waiting for a place, and a dispatcher's "Re-plan" button.

Re-planning runs exactly what ``POST /plan/crew?apply=true`` runs (the same settings, the CP-SAT
solver, :func:`alerts.planning.crew_store.plan_crew` with the logged-in user as the actor) and comes
back here (303) with how many work orders were placed. A role without ``Action.SCHEDULE`` sees no
button, and its forged post gets 403 before anything is read or planned.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm.exc import StaleDataError

from alerts.api import routes_plan_crew
from alerts.api.deps import ConsolePrincipalDep, StoreDep
from alerts.console.plan_view import load_plan
from alerts.console.respond import conflict, forbidden, refused, see_other, url
from alerts.console.web import PREFIX, page
from alerts.identity.roles import Action
from alerts.planning import crew_store
from alerts.planning.crew_solvers import SolverName, solver_of
from alerts.store.db import transaction
from alerts.workorders.errors import WorkOrderError

ACTIVE = "plan"
PAGE = f"{PREFIX}/plan"
Count = Annotated[int | None, Query(ge=0, le=1_000_000)]
router = APIRouter()


@router.get("/plan", response_class=HTMLResponse)
def plan_page(
    request: Request,
    store: StoreDep,
    principal: ConsolePrincipalDep,
    days: Annotated[int | None, Query(ge=1, le=92)] = None,
    placed: Count = None,
    unplaced: Count = None,
) -> HTMLResponse:
    """The current schedule per technician over the horizon (or its first ``days``, to look closer),
    and the work orders waiting for a plan."""
    settings = routes_plan_crew.plan_settings()
    shown = min(days or settings.horizon_days, settings.horizon_days)
    with transaction(store.sessions) as session:
        data = load_plan(
            session, store.clock.now(), horizon_days=shown, default_repair_min=settings.default_repair_min
        )
    return page(
        request,
        "plan.html",
        principal,
        ACTIVE,
        plan=data,
        shown_days=shown,
        horizon_days=settings.horizon_days,
        zooms=[(n, url(PAGE, {"days": str(n)})) for n in (1, 3, 7) if n < settings.horizon_days],
        may_plan=principal.may(Action.SCHEDULE),
        result=(placed, unplaced) if placed is not None and unplaced is not None else None,
    )


@router.post("/plan")
def replan(request: Request, store: StoreDep, principal: ConsolePrincipalDep) -> Response:
    """Plan the open work orders and write the plan (a dispatcher's), then back to the page."""
    if not principal.may(Action.SCHEDULE):  # before planning anything
        return forbidden(request, principal, "re-plan the crew", back=PAGE, active=ACTIVE)
    settings = routes_plan_crew.plan_settings()
    # the API's own settings and solver, so the button and ``POST /plan/crew?apply=true`` plan alike
    solve = solver_of(SolverName.CP_SAT, settings.time_limit_s, settings.workers)
    try:
        with transaction(store.sessions) as session:
            run = crew_store.plan_crew(
                session, settings, solve, now=store.clock.now(), actor=principal.actor, apply_plan=True
            )
    except WorkOrderError as exc:
        return refused(request, principal, exc, back=PAGE, active=ACTIVE)
    except StaleDataError:
        return conflict(request, principal, back=PAGE, active=ACTIVE)
    counts = {"placed": str(len(run.plan.assignments)), "unplaced": str(len(run.plan.unplaced))}
    return see_other(url(PAGE, counts))
