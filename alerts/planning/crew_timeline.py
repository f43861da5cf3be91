"""What both crew solvers share: the problem in whole minutes from ``now``, each technician's shifts
as slots, and the figures of a plan (travel, overtime, before the latest safe start / due) computed
once from who does what when, so the CP-SAT plan and the greedy baseline are judged alike.

The rules the figures assume (and ``crew_check`` verifies independently): a job starts inside one
of its technician's shifts and may end past the shift's end by at most ``max_overtime_min``; in a
shift the technician starts from the home site and drives from job to job (no return trip counted);
a fixed job stays where it is, whatever the rules say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from alerts.planning.crew_model import Assignment, Job, Problem, Technician, Unplaced

MINUTE = timedelta(minutes=1)
NO_QUALIFIED_TECHNICIAN = "no_qualified_technician"
NO_CAPACITY_IN_HORIZON = "no_capacity_in_horizon"


def floor_min(now: datetime, at: datetime) -> int:
    """Whole minutes from ``now`` to ``at``, rounded down (for upper bounds: ends, deadlines)."""
    return (at - now) // MINUTE


def ceil_min(now: datetime, at: datetime) -> int:
    """Whole minutes from ``now`` to ``at``, rounded up (for lower bounds: releases, shift starts)."""
    return -((now - at) // MINUTE)


@dataclass(frozen=True)
class Slot:
    """One shift of one technician, in minutes from ``now``: where jobs go in both solvers."""

    technician: Technician
    index: int  # the shift's position in ``technician.shifts``
    start: int
    end: int


def slots(problem: Problem, technician: Technician) -> list[Slot]:
    """The technician's shifts that still have time in them, in minutes."""
    out = []
    for index, shift in enumerate(technician.shifts):
        start = max(ceil_min(problem.now, shift.start), 0)
        end = min(floor_min(problem.now, shift.end), floor_min(problem.now, problem.horizon_end))
        if end > start:
            out.append(Slot(technician, index, start, end))
    return out


def release_min(problem: Problem, job: Job) -> int:
    """The earliest minute the job may start (never before now)."""
    return max(ceil_min(problem.now, job.release), 0)


def window(problem: Problem, job: Job, slot: Slot) -> tuple[int, int] | None:
    """The job's earliest and latest start in ``slot`` (ignoring other jobs), or None when it cannot
    be done there: not qualified, home site not connected, or no room before the overtime cap."""
    tech = slot.technician
    if not tech.qualified(job.failure_mode, job.site):
        return None
    home = problem.travel(tech.home_site, job.site)
    if home is None:
        return None
    # the drive from home binds only a shift's first job (a later one may come from nearer)
    earliest = max(slot.start, release_min(problem, job))
    latest = min(slot.end - 1, slot.end + problem.max_overtime_min - job.duration_min)
    return (earliest, latest) if earliest <= latest else None


def unplaced_reason(problem: Problem, job: Job) -> str:
    """Why a job got no place: nobody may do it at all, or nobody had time for it."""
    if any(t.qualified(job.failure_mode, job.site) for t in problem.technicians):
        return NO_CAPACITY_IN_HORIZON
    return NO_QUALIFIED_TECHNICIAN


def unplaced(problem: Problem, placed: Iterable[int]) -> tuple[Unplaced, ...]:
    """Every job not in ``placed``, with its reason, in work-order order."""
    done = set(placed)
    return tuple(
        Unplaced(j.work_order_id, unplaced_reason(problem, j))
        for j in sorted(problem.jobs, key=lambda j: j.work_order_id)
        if j.work_order_id not in done
    )


def assignments(problem: Problem, placed: Mapping[int, tuple[int, datetime]]) -> tuple[Assignment, ...]:
    """The plan's rows from ``{work_order_id: (technician_id, start)}``: each job's travel from the
    previous job of its technician's shift (or from home for a shift's first), its overtime and
    whether it starts before its latest safe start and ends before its due time."""
    jobs = {j.work_order_id: j for j in problem.jobs}
    techs = {t.technician_id: t for t in problem.technicians}
    by_tech: dict[int, list[tuple[datetime, int]]] = {}
    for wo, (tech_id, start) in placed.items():
        by_tech.setdefault(tech_id, []).append((start, wo))
    rows: list[Assignment] = []
    for tech_id, items in by_tech.items():
        tech = techs.get(tech_id)
        previous: tuple[int, str] | None = None  # (shift index, site) of the job before
        for start, wo in sorted(items):
            job = jobs[wo]
            end = start + job.duration_min * MINUTE
            shift = _shift_of(tech, start) if tech else None
            travel = overtime = 0
            if tech and shift is not None:
                origin = previous[1] if previous and previous[0] == shift else tech.home_site
                travel = problem.travel(origin, job.site) or 0
                overtime = max(0, ceil_min(tech.shifts[shift].end, end))
                previous = (shift, job.site)
            rows.append(
                Assignment(
                    work_order_id=wo,
                    technician_id=tech_id,
                    start=start,
                    end=end,
                    travel_min=travel,
                    overtime_min=overtime,
                    before_latest_safe_start=(
                        None if job.latest_safe_start is None else start <= job.latest_safe_start
                    ),
                    before_due=end <= job.due_by,
                )
            )
    return tuple(sorted(rows, key=lambda a: (a.start, a.technician_id, a.work_order_id)))


def _shift_of(tech: Technician, at: datetime) -> int | None:
    for index, shift in enumerate(tech.shifts):
        if shift.start <= at < shift.end:
            return index
    return None


def figures(rows: Iterable[Assignment], jobs: int) -> dict[str, float]:
    """The plan's summary: placed, before the latest safe start (of those with one), before due,
    travel and overtime minutes."""
    rows = list(rows)
    with_lss = [a for a in rows if a.before_latest_safe_start is not None]
    return {
        "jobs": float(jobs),
        "placed": float(len(rows)),
        "before_latest_safe_start": float(sum(1 for a in with_lss if a.before_latest_safe_start)),
        "before_due": float(sum(1 for a in rows if a.before_due)),
        "travel_min": float(sum(a.travel_min for a in rows)),
        "overtime_min": float(sum(a.overtime_min for a in rows)),
    }
