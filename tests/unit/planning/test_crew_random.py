"""Random small crew problems: both solvers' plans obey every rule, and CP-SAT places at least as
many jobs before their latest safe start as the greedy baseline."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.planning.crew_check import violations
from alerts.planning.crew_greedy import schedule
from alerts.planning.crew_model import Job, Problem, Technician
from alerts.planning.crew_solver import solve
from alerts.planning.crew_timeline import MINUTE

from .crew_cases import NOW, job, problem, tech

MODES = ("pump", "motor")
SITES = ("A", "B", "C")


@st.composite
def technicians(draw: st.DrawFn, tech_id: int) -> Technician:
    days = draw(st.lists(st.integers(0, 2), min_size=1, max_size=3, unique=True))
    start = draw(st.sampled_from([0, 60, 120]))
    length = draw(st.sampled_from([240, 360, 480]))
    home = draw(st.sampled_from(SITES))
    return tech(
        tech_id,
        sorted((d * 1440 + start, d * 1440 + start + length) for d in days),
        skills=tuple(
            draw(st.lists(st.sampled_from((*MODES, "general")), min_size=1, max_size=2, unique=True))
        ),
        home=home,
        sites=tuple(draw(st.lists(st.sampled_from(SITES), max_size=2, unique=True))),
    )


@st.composite
def jobs(draw: st.DrawFn, wo: int, pin: tuple[int, int] | None = None) -> Job:
    release = draw(st.sampled_from([0, 0, 300, 1500]))
    return job(
        wo,
        site=draw(st.sampled_from(SITES)),
        mode=draw(st.sampled_from(MODES)),
        priority=draw(st.integers(1, 4)),
        duration=draw(st.sampled_from([30, 60, 90, 150, 240])),
        release=release,
        due=release + draw(st.integers(60, 3000)),
        lss=draw(st.none() | st.integers(0, 3000)),
        fixed=pin,
    )


@st.composite
def problems(draw: st.DrawFn) -> Problem:
    techs = [draw(technicians(i)) for i in range(1, draw(st.integers(1, 3)) + 1)]
    pin = None
    if draw(st.booleans()):  # one job pinned inside a shift of the first technician
        shift = techs[0].shifts[0]
        pin = (techs[0].technician_id, (shift.start - NOW) // MINUTE + draw(st.integers(0, 60)))
    work = [draw(jobs(100 + i, pin if i == 0 else None)) for i in range(draw(st.integers(1, 7)))]
    return problem(
        techs,
        work,
        travel=draw(st.sampled_from([0, 20, 75])),
        overtime=draw(st.sampled_from([0, 30])),
        days=3,
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(problems())
def test_both_solvers_obey_the_rules_and_cpsat_is_no_worse(p: Problem) -> None:
    greedy = schedule(p)
    best = solve(p, time_limit_s=2.0, workers=2)
    assert violations(p, greedy) == []
    assert violations(p, best) == []
    safe = [sum(1 for a in plan.assignments if a.before_latest_safe_start) for plan in (greedy, best)]
    assert safe[1] >= safe[0]
