"""An independent check of a crew plan against its problem, for tests and for whoever applies a plan.

It shares no code with the solvers (only the contract), so a rule both solvers got wrong the same
way still shows: every job placed once or listed unplaced, a qualified technician, not before its
release, the duration kept, the start inside one of the technician's shifts and the end at most
``max_overtime_min`` past it, no two jobs of a technician overlapping, the drive from home to a
shift's first job and between consecutive jobs of a shift, the figures the plan reports, and fixed
jobs exactly where they were. A fixed job is exempt from the rules about where it may be (it is
where it is) — the jobs around it are not.
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta

from alerts.planning.crew_model import Assignment, Job, Plan, Problem, Shift, Technician

_MINUTE = timedelta(minutes=1)


def violations(problem: Problem, plan: Plan) -> list[str]:
    """Every broken rule, one line each; empty when the plan is valid."""
    jobs = {j.work_order_id: j for j in problem.jobs}
    techs = {t.technician_id: t for t in problem.technicians}
    out: list[str] = []
    seen: dict[int, int] = {}
    for wo in [a.work_order_id for a in plan.assignments] + [u.work_order_id for u in plan.unplaced]:
        seen[wo] = seen.get(wo, 0) + 1
    for wo in sorted(set(jobs) | set(seen)):
        if wo not in jobs:
            out.append(f"WO {wo}: not a job of the problem")
        elif seen.get(wo, 0) != 1:
            out.append(f"WO {wo}: listed {seen.get(wo, 0)} times (placed or unplaced)")
    by_tech: dict[int, list[Assignment]] = {}
    for a in plan.assignments:
        job, tech = jobs.get(a.work_order_id), techs.get(a.technician_id)
        if job is None:
            continue
        by_tech.setdefault(a.technician_id, []).append(a)
        out += _job_rules(problem, job, tech, a)
    for tech_id, rows in by_tech.items():
        out += _sequence_rules(problem, jobs, techs.get(tech_id), sorted(rows, key=lambda a: a.start))
    return out


def _shift(tech: Technician | None, at: datetime) -> Shift | None:
    if tech is None:
        return None
    return next((s for s in tech.shifts if s.start <= at < s.end), None)


def _job_rules(problem: Problem, job: Job, tech: Technician | None, a: Assignment) -> list[str]:
    wo = f"WO {a.work_order_id}"
    out = []
    if a.end - a.start != timedelta(minutes=job.duration_min):
        out.append(f"{wo}: lasts {a.end - a.start}, not {job.duration_min} min")
    if a.before_due != (a.end <= job.due_by):
        out.append(f"{wo}: before_due reported wrong")
    safe = None if job.latest_safe_start is None else a.start <= job.latest_safe_start
    if a.before_latest_safe_start != safe:
        out.append(f"{wo}: before_latest_safe_start reported wrong")
    if job.fixed is not None:
        if (a.technician_id, a.start) != (job.fixed.technician_id, job.fixed.start):
            out.append(f"{wo}: fixed job moved")
        return out
    if tech is None:
        return [*out, f"{wo}: unknown technician {a.technician_id}"]
    if not tech.qualified(job.failure_mode, job.site):
        out.append(f"{wo}: technician {tech.technician_id} not qualified or not covering {job.site}")
    if a.start < max(job.release, problem.now):
        out.append(f"{wo}: starts before its release")
    shift = _shift(tech, a.start)
    if shift is None:
        out.append(f"{wo}: starts outside the shifts of technician {tech.technician_id}")
    elif a.end > shift.end + timedelta(minutes=problem.max_overtime_min):
        out.append(f"{wo}: ends more than {problem.max_overtime_min} min past its shift")
    elif a.overtime_min != max(0, -((shift.end - a.end) // _MINUTE)):
        out.append(f"{wo}: overtime reported {a.overtime_min} min")
    return out


def _sequence_rules(
    problem: Problem, jobs: dict[int, Job], tech: Technician | None, rows: list[Assignment]
) -> list[str]:
    out = []
    for before, after in itertools.pairwise(rows):
        if after.start < before.end:
            out.append(f"WO {before.work_order_id} and WO {after.work_order_id} overlap")
    previous: Assignment | None = None
    for a in rows:
        job = jobs[a.work_order_id]
        shift = _shift(tech, a.start)
        if tech is None or shift is None:
            continue
        same = previous is not None and _shift(tech, previous.start) == shift
        origin_site = jobs[previous.work_order_id].site if same and previous else tech.home_site
        origin_time = previous.end if same and previous else shift.start
        drive = problem.travel(origin_site, job.site)
        if job.fixed is None:
            if drive is None:
                out.append(f"WO {a.work_order_id}: no road from {origin_site} to {job.site}")
            elif a.start < origin_time + timedelta(minutes=drive):
                out.append(f"WO {a.work_order_id}: {drive} min drive from {origin_site} does not fit")
        if drive is not None and a.travel_min != drive:
            out.append(f"WO {a.work_order_id}: travel reported {a.travel_min} min, not {drive}")
        previous = a
    return out
