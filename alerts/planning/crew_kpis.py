"""The crew KPIs of issue #17, as a pure function over store facts and the current plan.

- *proactive before failure*: of the completed work orders that had a predicted failure time, the
  share completed before it (the point of predicting: the repair beat the failure);
- *schedule lateness*: of the work orders started with a planned start, how many started late and
  by how much (the technician on site after the planned start);
- *utilisation*: per technician and overall, planned minutes over shift minutes in the horizon;
- *travel*: the plan's driving minutes, per technician and in all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from statistics import median

from pydantic import BaseModel

from alerts.planning.crew_model import Plan, Problem
from alerts.planning.crew_store import Facts

MINUTE = timedelta(minutes=1)


class TechnicianLoad(BaseModel):
    """One technician's planned work against their shifts over the horizon."""

    technician_id: int
    name: str
    shift_min: int
    planned_min: int
    travel_min: int
    overtime_min: int
    utilisation: float | None  # planned / shift minutes; None without shifts


class CrewKpis(BaseModel):
    """The figures that judge the crew schedule (JSON in ``plan crew --json`` and the API)."""

    completed_with_prediction: int
    completed_before_predicted_failure: int
    proactive_share: float | None
    started_with_plan: int
    started_late: int
    lateness_share: float | None
    median_lateness_min: float | None  # over the late ones
    planned_min: int
    shift_min: int
    utilisation: float | None
    travel_min: int
    technicians: list[TechnicianLoad]


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _minutes(a: datetime, b: datetime) -> int:
    return max(int((b - a) / MINUTE), 0)


def crew_kpis(facts: Sequence[Facts], problem: Problem, plan: Plan) -> CrewKpis:
    """The KPIs of the work orders in ``facts`` and of ``plan`` over ``problem``'s horizon.

    Shift minutes count the part of each shift between the problem's ``now`` and its horizon end;
    planned minutes are the placed jobs' lengths (fixed ones included) in that window.
    """
    completed = [f for f in facts if f.completed_at is not None and f.predicted_failure_at is not None]
    before = sum(
        1
        for f in completed
        if f.completed_at and f.predicted_failure_at and f.completed_at <= f.predicted_failure_at
    )
    started = [f for f in facts if f.on_site_at is not None and f.scheduled_start is not None]
    late = [
        (f.on_site_at - f.scheduled_start) / MINUTE
        for f in started
        if f.on_site_at is not None and f.scheduled_start is not None and f.on_site_at > f.scheduled_start
    ]
    loads = []
    for tech in problem.technicians:
        shift_min = sum(
            _minutes(max(s.start, problem.now), min(s.end, problem.horizon_end)) for s in tech.shifts
        )
        mine = [a for a in plan.assignments if a.technician_id == tech.technician_id]
        planned_min = sum(_minutes(max(a.start, problem.now), min(a.end, problem.horizon_end)) for a in mine)
        loads.append(
            TechnicianLoad(
                technician_id=tech.technician_id,
                name=tech.name,
                shift_min=shift_min,
                planned_min=planned_min,
                travel_min=sum(a.travel_min for a in mine),
                overtime_min=sum(a.overtime_min for a in mine),
                utilisation=_share(planned_min, shift_min),
            )
        )
    planned_total = sum(t.planned_min for t in loads)
    shift_total = sum(t.shift_min for t in loads)
    return CrewKpis(
        completed_with_prediction=len(completed),
        completed_before_predicted_failure=before,
        proactive_share=_share(before, len(completed)),
        started_with_plan=len(started),
        started_late=len(late),
        lateness_share=_share(len(late), len(started)),
        median_lateness_min=round(median(late), 1) if late else None,
        planned_min=planned_total,
        shift_min=shift_total,
        utilisation=_share(planned_total, shift_total),
        travel_min=sum(a.travel_min for a in plan.assignments),
        technicians=loads,
    )
