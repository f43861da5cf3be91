"""Crew-scheduling benchmark (issue 17): the CP-SAT scheduler against the greedy earliest-due-first
baseline on one realistic instance, 500 open work orders and 50 technicians over two weeks.

The instance (``instance(seed)``), drawn from a seed:

- 10 sites scattered over a 120 km square; travel = 15 min on site-to-site + the road distance at
  50 km/h (1.3 x the straight line), whole minutes; every pair connected.
- 50 technicians, 5 homed at each site; each covers their home and the two nearest sites; skills:
  two of the four failure modes each, one in ten a generalist.
- Shifts: 08:00-16:00 UTC Monday to Friday for the two weeks from Monday 06:00 (``now``), with
  exceptions: a tenth of the technicians take two days off, a tenth work the middle Saturday.
  Up to 60 min overtime past a shift.
- 500 jobs at uniformly drawn sites and failure modes; duration per mode (bearing wear 240 min,
  cavitation 180, winding insulation 300, seal leak 120) times a draw in [0.75, 1.5]; priority P1
  10 %, P2 30 %, P3 40 %, P4 20 %; SLA due from an opening time up to two days back plus 1/3/7/14 days
  by priority; parts: 30 % of jobs wait for parts arriving in 1 to 7 days; 60 % carry a prediction:
  a failure a gamma-distributed 1 to ~14 days away, a latest safe start 12 h and the repair before it.

About 56 % of the crew's shift minutes are needed for the work, before travel.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from alerts.planning.crew_check import violations
from alerts.planning.crew_greedy import schedule
from alerts.planning.crew_model import Job, Plan, Problem, Shift, Technician
from alerts.planning.crew_solver import solve

GOAL_S = 10.0
MODES = {"bearing_wear": 240, "cavitation": 180, "winding_insulation": 300, "seal_leak": 120}
SLA_DAYS = {1: 1, 2: 3, 3: 7, 4: 14}
NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)  # a Monday


def instance(seed: int, jobs: int = 500, technicians: int = 50, sites: int = 10) -> Problem:
    """The benchmark's problem (see the module's docstring)."""
    rng = np.random.default_rng(seed)
    names = [f"site-{i:02d}" for i in range(sites)]
    xy = rng.uniform(0, 120, size=(sites, 2))
    km = np.hypot(*(xy[:, None, :] - xy[None, :, :]).transpose(2, 0, 1)) * 1.3
    travel = {
        (names[a], names[b]): 15 + math.ceil(km[a, b] / 50 * 60)
        for a in range(sites)
        for b in range(a + 1, sites)
    }
    modes = list(MODES)
    crew = []
    for t in range(technicians):
        home = t % sites
        near = [names[i] for i in np.argsort(km[home])[:3]]
        skills = {"general"} if rng.random() < 0.1 else set(rng.choice(modes, size=2, replace=False).tolist())
        days = [d for d in range(14) if d % 7 < 5]
        if rng.random() < 0.1:
            off = int(rng.integers(0, len(days) - 1))
            days = days[:off] + days[off + 2 :]
        if rng.random() < 0.1:
            days = sorted([*days, 5])
        shifts = tuple(
            Shift(NOW + timedelta(days=d, hours=2), NOW + timedelta(days=d, hours=10)) for d in days
        )
        crew.append(
            Technician(t + 1, f"tech-{t + 1:02d}", frozenset(skills), names[home], frozenset(near), shifts)
        )
    horizon_end = NOW + timedelta(days=14)
    work = []
    for j in range(jobs):
        mode = modes[int(rng.integers(0, len(modes)))]
        duration = int(round(MODES[mode] * rng.uniform(0.75, 1.5) / 15) * 15)
        priority = int(rng.choice([1, 2, 3, 4], p=[0.1, 0.3, 0.4, 0.2]))
        opened = NOW - timedelta(minutes=int(rng.integers(0, 2 * 24 * 60)))
        release = NOW + timedelta(days=int(rng.integers(1, 8))) if rng.random() < 0.3 else NOW
        lss = None
        if rng.random() < 0.6:
            failure = NOW + timedelta(hours=float(24 * (1 + rng.gamma(2.0, 3.0))))
            lss = failure - timedelta(hours=12, minutes=duration)
        work.append(
            Job(
                work_order_id=1000 + j,
                site=names[int(rng.integers(0, sites))],
                failure_mode=mode,
                priority=priority,
                duration_min=duration,
                release=release,
                due_by=opened + timedelta(days=SLA_DAYS[priority]),
                latest_safe_start=lss,
            )
        )
    return Problem(NOW, horizon_end, tuple(crew), tuple(work), travel, max_overtime_min=60)


def summary(problem: Problem, plan: Plan) -> dict[str, Any]:
    """The figures a plan is judged by."""
    with_lss = sum(1 for j in problem.jobs if j.latest_safe_start is not None)
    placed = plan.assignments
    safe = sum(1 for a in placed if a.before_latest_safe_start)
    return {
        "status": plan.status,
        "solve_s": round(plan.solve_s, 3),
        "jobs": len(problem.jobs),
        "placed": len(placed),
        "unplaced": len(plan.unplaced),
        "with_latest_safe_start": with_lss,
        "before_latest_safe_start": safe,
        "share_before_latest_safe_start": round(safe / with_lss, 4) if with_lss else None,
        "before_due": sum(1 for a in placed if a.before_due),
        "share_before_due": round(sum(1 for a in placed if a.before_due) / len(problem.jobs), 4),
        "travel_min": sum(a.travel_min for a in placed),
        "overtime_min": sum(a.overtime_min for a in placed),
        "violations": len(violations(problem, plan)),
    }


def crew_bench(
    seed: int, time_limit_s: float = GOAL_S, workers: int = 2, technicians: int = 50
) -> dict[str, Any]:
    """Both solvers on the same instance, side by side, and whether CP-SAT met the 10 s goal.

    ``technicians`` below 50 makes the crew scarce (the same 500 jobs on fewer people): where a
    solver's choices matter, since with enough hands greedy already places nearly everything well.
    """
    problem = instance(seed, technicians=technicians)
    greedy = schedule(problem)
    cpsat = solve(problem, time_limit_s=time_limit_s, workers=workers)
    work_min = sum(j.duration_min for j in problem.jobs)
    shift_min = sum((s.end - s.start) // timedelta(minutes=1) for t in problem.technicians for s in t.shifts)
    return {
        "instance": {
            "seed": seed,
            "jobs": len(problem.jobs),
            "technicians": len(problem.technicians),
            "sites": len({t.home_site for t in problem.technicians}),
            "horizon_days": (problem.horizon_end - problem.now).days,
            "work_share_of_shift_minutes": round(work_min / shift_min, 3),
            "time_limit_s": time_limit_s,
            "workers": workers,
        },
        "cpsat": summary(problem, cpsat) | {"terms": dict(cpsat.objective)},
        "greedy": summary(problem, greedy),
        "goal_solve_s": GOAL_S,
        "pass_solve_within_goal": cpsat.solve_s <= GOAL_S,
    }
