"""A crew plan as the API's JSON shape and as the text ``forewarn plan crew`` prints: the figures a
plan is judged by, the unplaced jobs with their reasons, and a timeline per technician."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel

from alerts.planning.crew_kpis import CrewKpis
from alerts.planning.crew_model import Plan, Problem
from alerts.planning.crew_store import Applied


class PlacedOut(BaseModel):
    """One job in a technician's timeline."""

    work_order_id: int
    site: str
    failure_mode: str
    priority: int
    start: datetime
    end: datetime
    travel_min: int
    overtime_min: int
    before_latest_safe_start: bool | None
    before_due: bool
    fixed: bool  # started or pinned: the plan did not move it


class UnplacedOut(BaseModel):
    """A job without a place, and why."""

    work_order_id: int
    reason: str


class TimelineOut(BaseModel):
    """A technician's jobs in the plan, by start."""

    technician_id: int
    name: str
    jobs: list[PlacedOut]


class Figures(BaseModel):
    """The plan's figures (issue #17: placed, before latest safe start, before due, travel, overtime)."""

    jobs: int
    placed: int
    unplaced: int
    with_latest_safe_start: int
    before_latest_safe_start: int
    before_due: int
    travel_min: int
    overtime_min: int


class CrewPlanOut(BaseModel):
    """A planning run: proposed, or applied (``applied`` lists what was written)."""

    status: str
    solve_s: float
    now: datetime
    horizon_end: datetime
    figures: Figures
    unplaced: list[UnplacedOut]
    timeline: list[TimelineOut]
    kpis: CrewKpis
    applied: bool
    planned_work_orders: list[int]
    unplanned_work_orders: list[int]
    skipped_work_orders: list[int]


def document(problem: Problem, plan: Plan, kpis: CrewKpis, applied: Applied | None) -> CrewPlanOut:
    """The plan as data."""
    jobs = {j.work_order_id: j for j in problem.jobs}
    a = plan.assignments
    figures = Figures(
        jobs=len(problem.jobs) + sum(1 for u in plan.unplaced if u.work_order_id not in jobs),
        placed=len(a),
        unplaced=len(plan.unplaced),
        with_latest_safe_start=sum(1 for x in a if x.before_latest_safe_start is not None),
        before_latest_safe_start=sum(1 for x in a if x.before_latest_safe_start),
        before_due=sum(1 for x in a if x.before_due),
        travel_min=sum(x.travel_min for x in a),
        overtime_min=sum(x.overtime_min for x in a),
    )
    timeline = []
    for tech in problem.technicians:
        mine = sorted((x for x in a if x.technician_id == tech.technician_id), key=lambda x: x.start)
        placed = []
        for x in mine:
            job = jobs.get(x.work_order_id)
            placed.append(
                PlacedOut(
                    work_order_id=x.work_order_id,
                    site=job.site if job else "?",
                    failure_mode=job.failure_mode if job else "?",
                    priority=job.priority if job else 0,
                    start=x.start,
                    end=x.end,
                    travel_min=x.travel_min,
                    overtime_min=x.overtime_min,
                    before_latest_safe_start=x.before_latest_safe_start,
                    before_due=x.before_due,
                    fixed=bool(job and job.fixed),
                )
            )
        timeline.append(TimelineOut(technician_id=tech.technician_id, name=tech.name, jobs=placed))
    return CrewPlanOut(
        status=plan.status,
        solve_s=round(plan.solve_s, 3),
        now=problem.now,
        horizon_end=problem.horizon_end,
        figures=figures,
        unplaced=[UnplacedOut(work_order_id=u.work_order_id, reason=u.reason) for u in plan.unplaced],
        timeline=timeline,
        kpis=kpis,
        applied=applied is not None,
        planned_work_orders=list(applied.planned) if applied else [],
        unplanned_work_orders=list(applied.unplanned) if applied else [],
        skipped_work_orders=list(applied.skipped) if applied else [],
    )


def _mark(value: bool | None) -> str:
    return "-" if value is None else ("yes" if value else "NO")


def text(doc: CrewPlanOut) -> str:
    """The plan for a person: figures, unplaced with reasons, then each technician's day by day."""
    f = doc.figures
    verb = "applied" if doc.applied else "proposed (nothing written; --apply writes it)"
    lines = [
        f"crew plan {verb}: {doc.status} in {doc.solve_s:.1f} s, {doc.now:%Y-%m-%d %H:%M} to "
        f"{doc.horizon_end:%Y-%m-%d %H:%M} UTC",
        f"  placed {f.placed} of {f.jobs}; before latest safe start {f.before_latest_safe_start} of "
        f"{f.with_latest_safe_start} with a prediction; before due {f.before_due}; "
        f"travel {f.travel_min} min; overtime {f.overtime_min} min",
    ]
    k = doc.kpis
    if k.utilisation is not None:
        lines.append(f"  utilisation {k.utilisation:.0%} ({k.planned_min} of {k.shift_min} shift min)")
    for u in doc.unplaced:
        lines.append(f"  unplaced WO {u.work_order_id}: {u.reason}")
    for t in doc.timeline:
        lines.append(f"{t.name} [#{t.technician_id}]: {len(t.jobs)} job(s)")
        for j in t.jobs:
            pin = " (fixed)" if j.fixed else ""
            lines.append(
                f"  {j.start:%a %m-%d %H:%M}-{j.end:%H:%M}  WO {j.work_order_id} P{j.priority} "
                f"{j.failure_mode} @ {j.site}  travel {j.travel_min}  overtime {j.overtime_min}  "
                f"safe {_mark(j.before_latest_safe_start)}  due {_mark(j.before_due)}{pin}"
            )
    return "\n".join(lines)
