"""Hand-made crew problems whose best plan is known, solved by CP-SAT and by the greedy baseline,
every plan checked by the independent checker."""

from __future__ import annotations

from alerts.planning.crew_check import violations
from alerts.planning.crew_greedy import schedule
from alerts.planning.crew_model import Plan, Problem
from alerts.planning.crew_solver import solve
from alerts.planning.crew_timeline import NO_CAPACITY_IN_HORIZON, NO_QUALIFIED_TECHNICIAN

from .crew_cases import at, job, problem, tech


def cpsat(p: Problem) -> Plan:
    plan = solve(p, time_limit_s=5.0, workers=2)
    assert violations(p, plan) == []
    return plan


def starts(plan: Plan) -> dict[int, tuple[int, int]]:
    """{work order: (technician, start minute)}."""
    return {
        a.work_order_id: (a.technician_id, int((a.start - at(0)).total_seconds() // 60))
        for a in plan.assignments
    }


def test_travel_leaves_one_order_feasible() -> None:
    # Home A, shift 0-300. X at A (120 min, released at 0), Y at B (120 min). A→B is 30 min.
    # X then Y: 0-120, drive, 150-270 fits; Y then X: 30-150, drive, 180-300 fits too but
    # Y released at 100 leaves only X first: 0-120, 150-270.
    p = problem(
        [tech(1, [(0, 300)])], [job(1, site="A", duration=120), job(2, site="B", duration=120, release=100)]
    )
    plan = cpsat(p)
    assert starts(plan) == {1: (1, 0), 2: (1, 150)}
    assert {a.work_order_id: a.travel_min for a in plan.assignments} == {1: 0, 2: 30}
    assert plan.status == "OPTIMAL"


def test_travel_that_does_not_fit_leaves_a_job_out() -> None:
    # 2 x 120 min jobs at A and B in a 260 min shift: together they need 270 with the drive.
    p = problem(
        [tech(1, [(0, 260)])],
        [job(1, site="A", duration=120, priority=2), job(2, site="B", duration=120, priority=4)],
    )
    for plan in (cpsat(p), schedule(p)):
        assert violations(p, plan) == []
        assert [a.work_order_id for a in plan.assignments] == [1]
        assert [(u.work_order_id, u.reason) for u in plan.unplaced] == [(2, NO_CAPACITY_IN_HORIZON)]


def test_an_urgent_job_displaces_a_less_urgent_one_before_its_latest_safe_start() -> None:
    # One technician, two 240 min shifts (today, tomorrow). Both jobs must start today to be safe,
    # only one fits: the P1 takes today, the P3 goes to tomorrow.
    p = problem(
        [tech(1, [(0, 240), (1440, 1680)])],
        [job(1, duration=240, priority=3, lss=60), job(2, duration=240, priority=1, lss=60)],
    )
    plan = cpsat(p)
    assert starts(plan) == {2: (1, 0), 1: (1, 1440)}
    flags = {a.work_order_id: a.before_latest_safe_start for a in plan.assignments}
    assert flags == {2: True, 1: False}


def test_cpsat_beats_earliest_due_first_where_greedy_wastes_the_slot() -> None:
    # Greedy takes job 1 first (earlier latest safe start) and puts it at 0, blocking job 2, which
    # can only be safe at 0 on its specialist; CP-SAT gives job 1 to the generalist instead.
    p = problem(
        [tech(1, [(0, 120)], skills=("pump", "motor")), tech(2, [(30, 150)], skills=("pump",))],
        [job(1, mode="pump", duration=90, lss=30), job(2, mode="motor", duration=90, lss=40)],
    )
    greedy, best = schedule(p), cpsat(p)
    assert violations(p, greedy) == []
    safe = [sum(1 for a in plan.assignments if a.before_latest_safe_start) for plan in (greedy, best)]
    assert safe == [1, 2]


def test_a_fixed_job_is_not_moved() -> None:
    # A pinned job at 120-180 on technician 1; a new urgent job must go around it.
    p = problem(
        [tech(1, [(0, 480)]), tech(2, [(0, 480)])],
        [job(1, duration=60, fixed=(1, 120), priority=4), job(2, duration=180, priority=1, lss=0)],
    )
    for plan in (cpsat(p), schedule(p)):
        assert violations(p, plan) == []
        got = starts(plan)
        assert got[1] == (1, 120)
        assert got[2][1] == 0


def test_a_started_job_before_now_stays_and_blocks() -> None:
    # Started at -30 on technician 1 (90 min, outside the shift that begins at 0): it runs to 60.
    p = problem([tech(1, [(0, 480)])], [job(1, duration=90, fixed=(1, -30)), job(2, duration=60)])
    plan = cpsat(p)
    assert starts(plan) == {1: (1, -30), 2: (1, 60)}


def test_a_job_nobody_is_qualified_for_is_unplaced_with_its_reason() -> None:
    p = problem([tech(1, [(0, 480)])], [job(1, mode="turbine"), job(2, site="C")])
    for plan in (cpsat(p), schedule(p)):
        assert plan.assignments == ()
        assert [(u.work_order_id, u.reason) for u in plan.unplaced] == [
            (1, NO_QUALIFIED_TECHNICIAN),
            (2, NO_QUALIFIED_TECHNICIAN),
        ]


def test_overtime_is_capped_counted_and_avoided_when_possible() -> None:
    p = problem([tech(1, [(0, 100), (1440, 1540)])], [job(1, duration=130, due=200)], overtime=30)
    plan = cpsat(p)
    assert [(a.overtime_min, a.before_due) for a in plan.assignments] == [(30, True)]
    relaxed = problem([tech(1, [(0, 100), (1440, 1580)])], [job(1, duration=130)], overtime=30)
    assert [a.overtime_min for a in cpsat(relaxed).assignments] == [0]


def test_the_checker_catches_a_moved_fixed_job_and_an_overlap() -> None:
    p = problem([tech(1, [(0, 480)])], [job(1, fixed=(1, 0)), job(2)])
    plan = cpsat(p)
    moved = [a if a.work_order_id != 1 else a.__class__(**{**a.__dict__, "start": at(10), "end": at(70)})
             for a in plan.assignments]  # fmt: skip
    bad = violations(p, Plan(tuple(moved), plan.unplaced, plan.status, plan.solve_s))
    assert any("fixed job moved" in v for v in bad)
    assert any("overlap" in v for v in bad)


def test_same_input_same_plan() -> None:
    p = problem(
        [tech(1, [(0, 480)]), tech(2, [(0, 480)], home="B")],
        [job(i, site="AB"[i % 2], duration=60 + 15 * i, lss=200 + 30 * i) for i in range(6)],
    )
    assert solve(p, time_limit_s=5.0).assignments == solve(p, time_limit_s=5.0).assignments
