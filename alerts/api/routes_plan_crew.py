"""``/plan/crew``: the crew schedule (propose, apply, show) and what it is planned from (shifts,
exceptions, travel times, repair durations, pins).

A plan is proposed by default; ``POST /plan/crew?apply=true`` writes it (a dispatcher). Shifts,
travel and durations are an admin's; exceptions (leave, extra hours) and pins a dispatcher's. Bad
input is a 4xx with ``code``/``detail`` and changes nothing (one transaction per request).
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from fastapi import Path as FPath
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from alerts.api.deps import StoreDep, allowed
from alerts.api.schemas import Code, Name, Text
from alerts.identity.roles import Action, Principal
from alerts.planning import crew_admin, crew_kpis, crew_render, crew_store
from alerts.planning.crew_calendar import (
    WEEKDAYS,
    CalendarError,
    ExceptionKind,
    WeeklyShift,
    clock_text,
    parse_clock,
    parse_weekdays,
)
from alerts.planning.crew_solvers import SolverName, solver_of
from alerts.planning.settings import PlanSettings
from alerts.store.db import transaction
from alerts.store.tables import ShiftRow, TechnicianRow
from alerts.workorders.errors import ErrorCode, WorkOrderError
from forewarn.settings import load

router = APIRouter(prefix="/plan/crew", tags=["planning"])
Minutes = Annotated[int, Field(ge=0, le=crew_admin.MAX_MINUTES)]


@lru_cache(maxsize=1)
def plan_settings() -> PlanSettings:
    """The planning settings (``FOREWARN_PLAN_*``), read once per process."""
    return load(PlanSettings)


@router.post("")
def plan_crew(
    store: StoreDep,
    principal: Annotated[Principal, Depends(allowed(Action.SCHEDULE))],
    apply: Annotated[bool, Query(description="Write the plan (default: propose only).")] = False,
    horizon_days: Annotated[int | None, Query(ge=1, le=92)] = None,
    solver: SolverName = SolverName.CP_SAT,
    time_limit_s: Annotated[float | None, Query(gt=0, le=120)] = None,
) -> crew_render.CrewPlanOut:
    """Plan the open work orders (technician and start within shifts, skills, travel, parts dates,
    pins); with ``apply=true`` write technicians, starts and planned ends (audited ``plan``)."""
    settings = plan_settings()
    solve = solver_of(solver, time_limit_s or settings.time_limit_s, settings.workers)
    now = store.clock.now()
    with transaction(store.sessions) as session:
        run = crew_store.plan_crew(
            session,
            settings,
            solve,
            now=now,
            actor=principal.actor,
            apply_plan=apply,
            horizon_days=horizon_days,
        )
        kpis = crew_kpis.crew_kpis(crew_store.facts(session, settings), run.problem, run.plan)
    return crew_render.document(run.problem, run.plan, kpis, run.applied)


class ScheduledOut(BaseModel):
    """A work order in a technician's current schedule."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    status: str
    site: str
    failure_mode: str
    priority: str
    scheduled_start: datetime | None
    planned_end: datetime | None
    latest_safe_start: datetime | None
    due_by: datetime
    pinned: bool | None


class ScheduleOut(BaseModel):
    """One technician's current schedule, by start."""

    technician_id: int
    name: str
    work_orders: list[ScheduledOut]


@router.get("")
def current_schedule(store: StoreDep) -> list[ScheduleOut]:
    """The schedule in the store now, per technician (every active one, with or without work)."""
    with transaction(store.sessions) as session:
        by_tech = crew_store.current_schedule(session, since=store.clock.now())
        techs = session.scalars(select(TechnicianRow).where(TechnicianRow.active).order_by(TechnicianRow.id))
        return [
            ScheduleOut(
                technician_id=t.id,
                name=t.name,
                work_orders=[ScheduledOut.model_validate(r) for r in by_tech.get(t.id, [])],
            )
            for t in techs
        ]


class ShiftIn(BaseModel):
    """A weekly shift: ``weekday`` mon..sun (or a range, mon-fri), ``from``/``to`` HH:MM."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    weekday: Annotated[str, Field(min_length=3, max_length=30)]
    start: Annotated[str, Field(alias="from", min_length=4, max_length=5)]
    end: Annotated[str, Field(alias="to", min_length=4, max_length=5)]
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = "UTC"


class ShiftsIn(BaseModel):
    """Shifts to add to a technician's weekly calendar (``replace``: instead of those weekdays')."""

    model_config = ConfigDict(extra="forbid")

    shifts: Annotated[list[ShiftIn], Field(min_length=1, max_length=100)]
    replace: bool = False


class ShiftOut(BaseModel):
    """A weekly shift as stored."""

    weekday: str
    start: str = Field(serialization_alias="from")
    end: str = Field(serialization_alias="to")
    timezone: str


def _shift_out(rows: list[ShiftRow]) -> list[ShiftOut]:
    return [ShiftOut(weekday=WEEKDAYS[r.weekday], start=clock_text(r.start_min), end=clock_text(r.end_min),
                     timezone=r.timezone) for r in rows]  # fmt: skip


def _weekly(body: ShiftsIn) -> list[WeeklyShift]:
    try:
        return [
            WeeklyShift(day, parse_clock(s.start), parse_clock(s.end, end=True), s.timezone)
            for s in body.shifts
            for day in parse_weekdays(s.weekday)
        ]
    except CalendarError as exc:
        raise WorkOrderError(ErrorCode.INVALID, str(exc)) from None


@router.put("/shifts/{technician_id}", response_model_by_alias=True)
def set_shifts(
    store: StoreDep,
    technician_id: Annotated[int, FPath(ge=1, le=2_147_483_647)],
    body: ShiftsIn,
    principal: Annotated[Principal, Depends(allowed(Action.ADD_TECHNICIAN))],
) -> list[ShiftOut]:
    """Add shifts to a technician's weekly calendar; 422 when one overlaps another of its day."""
    shifts = _weekly(body)
    with transaction(store.sessions) as session:
        rows = crew_admin.set_shifts(
            session, technician_id, shifts, replace=body.replace, actor=principal.actor, now=store.clock.now()
        )
        return _shift_out(rows)


@router.get("/shifts/{technician_id}", response_model_by_alias=True)
def get_shifts(
    store: StoreDep, technician_id: Annotated[int, FPath(ge=1, le=2_147_483_647)]
) -> list[ShiftOut]:
    """A technician's weekly calendar."""
    with transaction(store.sessions) as session:
        tech = crew_admin.technician(session, technician_id)
        return _shift_out(crew_admin.weekly_of(session, tech.id))


class ExceptionIn(BaseModel):
    """An exception to a technician's calendar."""

    model_config = ConfigDict(extra="forbid")

    technician_id: Annotated[int, Field(ge=1, le=2_147_483_647)]
    kind: ExceptionKind = ExceptionKind.UNAVAILABLE
    start: AwareDatetime
    end: AwareDatetime
    reason: Annotated[Text, Field(min_length=1, max_length=2000)]


class ExceptionOut(BaseModel):
    """An exception as stored."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    technician_id: int
    kind: str
    start: datetime
    end: datetime
    reason: str
    created_by: str


@router.post("/exceptions", status_code=status.HTTP_201_CREATED)
def add_exception(
    store: StoreDep, body: ExceptionIn, principal: Annotated[Principal, Depends(allowed(Action.SCHEDULE))]
) -> ExceptionOut:
    """Mark a technician unavailable (or working extra hours) in an interval; the next plan uses it."""
    new = crew_admin.NewException(body.kind, body.start, body.end, body.reason)
    with transaction(store.sessions) as session:
        row = crew_admin.add_exception(
            session, body.technician_id, new, actor=principal.actor, now=store.clock.now()
        )
        return ExceptionOut.model_validate(row)


@router.get("/exceptions")
def list_exceptions(
    store: StoreDep, technician_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None
) -> list[ExceptionOut]:
    """Calendar exceptions, by start."""
    with transaction(store.sessions) as session:
        return [ExceptionOut.model_validate(r) for r in crew_admin.exceptions_of(session, technician_id)]


@router.delete("/exceptions/{exception_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_exception(
    store: StoreDep,
    exception_id: Annotated[int, FPath(ge=1, le=2_147_483_647)],
    principal: Annotated[Principal, Depends(allowed(Action.SCHEDULE))],
) -> None:
    """Remove an exception."""
    with transaction(store.sessions) as session:
        crew_admin.remove_exception(session, exception_id, actor=principal.actor, now=store.clock.now())


class TravelIn(BaseModel):
    """The drive between two sites, either way."""

    model_config = ConfigDict(extra="forbid")

    site_a: Name
    site_b: Name
    minutes: Minutes


class TravelOut(TravelIn):
    """A travel time as stored (``site_a`` < ``site_b``)."""

    model_config = ConfigDict(from_attributes=True)


@router.put("/travel")
def set_travel(
    store: StoreDep, body: TravelIn, principal: Annotated[Principal, Depends(allowed(Action.ADD_TECHNICIAN))]
) -> TravelOut:
    """Set the travel minutes between two sites."""
    with transaction(store.sessions) as session:
        row = crew_admin.set_travel(
            session, body.site_a, body.site_b, body.minutes, actor=principal.actor, now=store.clock.now()
        )
        return TravelOut.model_validate(row)


@router.get("/travel")
def list_travel(store: StoreDep) -> list[TravelOut]:
    """Every travel time."""
    with transaction(store.sessions) as session:
        table = crew_admin.travel_table(session)
    return [TravelOut(site_a=a, site_b=b, minutes=m) for (a, b), m in sorted(table.items())]


class DurationIn(BaseModel):
    """How long a repair of a failure mode takes on site."""

    model_config = ConfigDict(extra="forbid")

    minutes: Annotated[int, Field(ge=1, le=crew_admin.MAX_MINUTES)]


@router.put("/durations/{failure_mode}")
def set_duration(
    store: StoreDep,
    failure_mode: Annotated[Code, FPath()],
    body: DurationIn,
    principal: Annotated[Principal, Depends(allowed(Action.ADD_TECHNICIAN))],
) -> dict[str, int]:
    """Set a failure mode's repair minutes."""
    with transaction(store.sessions) as session:
        row = crew_admin.set_duration(
            session, failure_mode, body.minutes, actor=principal.actor, now=store.clock.now()
        )
        return {row.failure_mode: row.minutes}


@router.get("/durations")
def list_durations(store: StoreDep) -> dict[str, int]:
    """Every repair duration, failure mode → minutes."""
    with transaction(store.sessions) as session:
        return crew_admin.durations(session)


class PinIn(BaseModel):
    """Pin (True) or unpin (False) a work order where it is scheduled."""

    model_config = ConfigDict(extra="forbid")

    pinned: bool


@router.put("/pins/{work_order_id}")
def set_pin(
    store: StoreDep,
    work_order_id: Annotated[int, FPath(ge=1, le=2_147_483_647)],
    body: PinIn,
    principal: Annotated[Principal, Depends(allowed(Action.SCHEDULE))],
) -> ScheduledOut:
    """Pin a scheduled work order (re-planning never moves it) or unpin it."""
    with transaction(store.sessions) as session:
        row = crew_admin.pin(
            session, work_order_id, body.pinned, actor=principal.actor, now=store.clock.now()
        )
        return ScheduledOut.model_validate(row)
