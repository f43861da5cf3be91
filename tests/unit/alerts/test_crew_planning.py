"""Crew planning on a real SQLite store: schedules respect shifts, skills, travel, parts dates and
pins; a re-plan keeps pins and started jobs; the latest safe start comes from the alert's prediction;
the calendar expands; bad input is refused (exit 2, 4xx) and changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from alerts.plan_cli import plan_app
from alerts.planning import crew_kpis, crew_render, crew_store
from alerts.planning.crew_calendar import CalendarException, ExceptionKind, WeeklyShift, expand
from alerts.planning.crew_model import Assignment, Plan, Problem, Shift, Technician
from alerts.store.db import make_engine, migrate, session_factory, transaction
from alerts.store.tables import AlertRow, AuditRow, ShiftRow, TravelTimeRow, WorkOrderRow
from tests.unit.alerts import crew_scenarios as sc
from tests.unit.alerts.conftest import Api

NOW = sc.NOW


@pytest.fixture
def store(tmp_path: Path) -> Iterator[tuple[str, sessionmaker[Session]]]:
    url = f"sqlite:///{tmp_path / 'wo.db'}"
    engine = make_engine(url)
    migrate(engine)
    yield url, session_factory(engine)
    engine.dispose()


def test_the_weekly_calendar_expands_with_exceptions_and_daylight_saving() -> None:
    monday = datetime(2026, 3, 23, tzinfo=UTC)  # Paris switches to summer time on Sunday 29 March
    weekly = [WeeklyShift(0, 8 * 60, 16 * 60, "Europe/Paris"), WeeklyShift(2, 8 * 60, 12 * 60)]
    off = CalendarException(
        ExceptionKind.UNAVAILABLE, monday + timedelta(hours=9), monday + timedelta(hours=10)
    )
    extra = CalendarException(
        ExceptionKind.EXTRA, monday + timedelta(days=5, hours=9), monday + timedelta(days=5, hours=11)
    )
    shifts = expand(weekly, [off, extra], monday, monday + timedelta(days=14))
    h = timedelta(hours=1)
    assert shifts == (
        Shift(monday + 7 * h, monday + 9 * h),  # 08:00 Paris = 07:00 UTC in winter; off 09-10 UTC
        Shift(monday + 10 * h, monday + 15 * h),
        Shift(monday + timedelta(days=2, hours=8), monday + timedelta(days=2, hours=12)),
        Shift(monday + timedelta(days=5, hours=9), monday + timedelta(days=5, hours=11)),  # extra Saturday
        Shift(monday + timedelta(days=7, hours=6), monday + timedelta(days=7, hours=14)),  # summer: 06:00 UTC
        Shift(monday + timedelta(days=9, hours=8), monday + timedelta(days=9, hours=12)),
    )


def test_schedule_respects_shifts_skills_travel_and_parts(store: tuple[str, sessionmaker[Session]]) -> None:
    sc.schedule_respects_shifts_skills_travel_parts(store[1])


def test_replan_keeps_pins_and_started_jobs(store: tuple[str, sessionmaker[Session]]) -> None:
    sc.replan_keeps_pins_and_started_jobs(store[1])


def test_latest_safe_start_comes_from_the_alerts_prediction(store: tuple[str, sessionmaker[Session]]) -> None:
    sessions = store[1]
    sc.crew(sessions)
    wo = sc.open_approved(sessions, "pump-1", "site-a", "bearing_wear")
    raised = NOW - timedelta(hours=2)
    with transaction(sessions) as s:
        alert = AlertRow(alert_id="a-1", asset_id="pump-1", site="site-a", failure_mode="bearing_wear",
                         kind="risk", severity="MAJOR", state="ACTIVE", first_seen=raised, last_seen=raised,
                         occurrence_count=1, trigger_risk=0.9, trigger_rul_cycles=3000.0, model_name="m",
                         model_version="1", raised_at=raised, last_notified_at=raised)  # fmt: skip
        s.add(alert)
        s.get_one(WorkOrderRow, wo).source_alert_id = "a-1"
    with transaction(sessions) as s:
        built = crew_store.build_problem(s, sc.SETTINGS, now=NOW, step_of=lambda name, version: 30.0)
        fallback = crew_store.build_problem(s, sc.SETTINGS, now=NOW)
    (job,) = built.problem.jobs
    # 3000 steps x 30 s = 25 h after the raise; minus 120 min repair and 60 min margin
    assert job.latest_safe_start == raised + timedelta(hours=25) - timedelta(minutes=180)
    assert fallback.problem.jobs[0].latest_safe_start == raised + timedelta(hours=50) - timedelta(minutes=180)
    assert (job.priority, job.duration_min, job.release) == (2, 120, NOW)


def test_a_waiting_order_without_a_parts_date_is_reported_not_planned(
    store: tuple[str, sessionmaker[Session]],
) -> None:
    sessions = store[1]
    sc.crew(sessions)
    wo = sc.open_approved(sessions, "pump-1", "site-a", "bearing_wear")
    with transaction(sessions) as s:
        s.get_one(WorkOrderRow, wo).status = "waiting_parts"
    run = sc.plan(sessions, apply=True)
    assert [(u.work_order_id, u.reason) for u in run.plan.unplaced] == [(wo, crew_store.PARTS_DATE_UNKNOWN)]


def _cli(url: str, *args: str) -> tuple[int, str]:
    options = ["--database-url", url, "--by", "tester"]
    cut = args.index("--") if "--" in args else len(args)  # a negative number goes after "--"
    result = CliRunner().invoke(plan_app, [*args[:cut], *options, *args[cut:]])
    return result.exit_code, result.output


def _calendar_state(sessions: sessionmaker[Session]) -> tuple[int, int, int]:
    with transaction(sessions) as s:
        return (
            s.scalar(select(func.count()).select_from(ShiftRow)) or 0,
            s.scalar(select(func.count()).select_from(TravelTimeRow)) or 0,
            s.scalar(select(func.count()).select_from(AuditRow)) or 0,
        )


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (("shifts", "set", "mech", "--weekday", "mon", "--from", "15:00", "--to", "18:00"), "overlaps"),
        (("shifts", "set", "mech", "--weekday", "tue-mon", "--from", "08:00", "--to", "09:00"), "backwards"),
        (
            ("shifts", "set", "mech", "--weekday", "sat", "--from", "10:00", "--to", "09:00"),
            "empty or backwards",
        ),
        (("shifts", "set", "mech", "--weekday", "sat", "--from", "25:00", "--to", "26:00"), "not a time"),
        (
            ("shifts", "set", "nobody", "--weekday", "sat", "--from", "08:00", "--to", "09:00"),
            "does not exist",
        ),
        (
            (
                "shifts",
                "set",
                "mech",
                "--weekday",
                "sat",
                "--from",
                "08:00",
                "--to",
                "09:00",
                "--timezone",
                "Mars/Base",
            ),
            "unknown",
        ),
        (("travel", "set", "site-a", "site-c", "--", "-5"), "0 to"),
        (("travel", "set", "site-a", "site-a", "5"), "itself"),
        (("duration", "set", "seal_leak", "0"), "1 to"),
        (("exception", "add", "99", "--date", "2026-01-06", "--reason", "x"), "does not exist"),
        (
            (
                "exception",
                "add",
                "mech",
                "--from",
                "2026-01-06T10:00Z",
                "--to",
                "2026-01-06T09:00Z",
                "--reason",
                "x",
            ),
            "before it starts",
        ),
        (("exception", "add", "mech", "--date", "2026-01-06", "--reason", " "), "reason"),
        (("pin", "12345"), "does not exist"),
    ],
)
def test_bad_input_exits_2_and_changes_nothing(
    store: tuple[str, sessionmaker[Session]], args: tuple[str, ...], says: str
) -> None:
    url, sessions = store
    sc.crew(sessions)
    before = _calendar_state(sessions)
    code, output = _cli(url, *args)
    assert code == 2, output
    assert says in output
    assert _calendar_state(sessions) == before


def test_cli_sets_the_calendar_and_proposes_then_applies(store: tuple[str, sessionmaker[Session]]) -> None:
    url, sessions = store
    techs = sc.crew(sessions)
    assert (
        _cli(url, "shifts", "set", "idle", "--weekday", "sat,sun", "--from", "08:00", "--to", "12:00")[0] == 0
    )
    assert _cli(url, "travel", "set", "site-c", "site-a", "90")[0] == 0
    assert _cli(url, "duration", "set", "seal_leak", "45")[0] == 0
    code, out = _cli(url, "exception", "add", "elec", "--date", "2026-01-06", "--reason", "training")
    assert code == 0, out
    with transaction(sessions) as s:
        days = sorted(
            r.weekday for r in s.scalars(select(ShiftRow).where(ShiftRow.technician_id == techs["idle"]))
        )
        assert days == [5, 6]
        assert s.get_one(TravelTimeRow, ("site-a", "site-c")).minutes == 90
    wo = sc.open_approved(sessions, "pump-1", "site-a", "bearing_wear")
    code, out = _cli(url, "crew", "--json", "--solver", "greedy")
    assert code == 0, out
    assert '"placed": 1' in out
    assert sc.rows(sessions)[wo].scheduled_start is None  # proposed only
    code, out = _cli(url, "crew", "--apply")
    assert code == 0, out
    assert "placed 1 of 1" in out
    assert "mech [#" in out
    assert sc.rows(sessions)[wo].scheduled_start is not None


def test_kpis_judge_the_crew() -> None:
    tech = Technician(
        1, "t", frozenset({"x"}), "a", frozenset({"a"}), (Shift(NOW, NOW + timedelta(hours=8)),)
    )
    problem = Problem(now=NOW, horizon_end=NOW + timedelta(days=1), technicians=(tech,), jobs=())
    plan = Plan(
        assignments=(Assignment(7, 1, NOW, NOW + timedelta(hours=2), 30, 0, True, True),),
        unplaced=(),
        status="TEST",
        solve_s=0.0,
    )
    h = timedelta(hours=1)
    facts = [
        crew_store.Facts(1, "completed", NOW, NOW - 3 * h, NOW - 3 * h, NOW - 2 * h),  # before the failure
        crew_store.Facts(2, "completed", NOW, NOW - h, NOW + h, NOW + 2 * h),  # after it, started 2 h late
        crew_store.Facts(3, "completed", None, None, None, NOW),  # no prediction: not counted
    ]
    k = crew_kpis.crew_kpis(facts, problem, plan)
    assert (k.completed_with_prediction, k.completed_before_predicted_failure, k.proactive_share) == (
        2,
        1,
        0.5,
    )
    assert (k.started_with_plan, k.started_late, k.median_lateness_min) == (2, 1, 120.0)
    assert (k.planned_min, k.shift_min, k.utilisation, k.travel_min) == (120, 480, 0.25, 30)
    doc = crew_render.document(problem, plan, k, None)
    assert doc.figures.travel_min == 30
    assert doc.timeline[0].jobs[0].work_order_id == 7


def test_api_plans_and_refuses_bad_input(sqlite_api: Api) -> None:
    client, sessions = sqlite_api.client, sqlite_api.sessions
    sqlite_api.clock.set(NOW)
    techs = sc.crew(sessions)
    wo = sc.open_approved(sessions, "pump-1", "site-a", "bearing_wear")
    before = _calendar_state(sessions)
    overlap = {"shifts": [{"weekday": "mon", "from": "15:00", "to": "17:00"}]}
    refused = client.put(f"/plan/crew/shifts/{techs['mech']}", json=overlap)
    assert (refused.status_code, refused.json()["code"]) == (422, "invalid")
    assert (
        client.put(
            "/plan/crew/shifts/999", json={"shifts": [{"weekday": "sat", "from": "08:00", "to": "09:00"}]}
        ).status_code
        == 404
    )
    assert (
        client.put("/plan/crew/travel", json={"site_a": "x", "site_b": "y", "minutes": -1}).status_code == 422
    )
    assert client.put("/plan/crew/durations/seal_leak", json={"minutes": 0}).status_code == 422
    assert _calendar_state(sessions) == before
    ok = client.put(
        f"/plan/crew/shifts/{techs['idle']}",
        json={"shifts": [{"weekday": "sat", "from": "08:00", "to": "09:00"}]},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json() == [{"weekday": "sat", "from": "08:00", "to": "09:00", "timezone": "UTC"}]
    proposed = client.post("/plan/crew", params={"solver": "greedy"})
    assert proposed.status_code == 200, proposed.text
    assert proposed.json()["figures"]["placed"] == 1
    assert proposed.json()["applied"] is False
    applied = client.post("/plan/crew", params={"apply": "true", "time_limit_s": 2})
    assert applied.status_code == 200, applied.text
    assert applied.json()["planned_work_orders"] == [wo]
    schedule = {t["technician_id"]: t["work_orders"] for t in client.get("/plan/crew").json()}
    assert [w["id"] for w in schedule[techs["mech"]]] == [wo]
    pinned = client.put(f"/plan/crew/pins/{wo}", json={"pinned": True})
    assert pinned.json()["pinned"] is True


def test_the_catalogue_seeds_planning_defaults_once(store: tuple[str, sessionmaker[Session]]) -> None:
    from alerts.catalog import load_catalog, seed

    sessions = store[1]
    catalog = load_catalog()
    with transaction(sessions) as s:
        first = seed(s, catalog, ["site-a", "site-b"], actor="t", now=NOW)
    with transaction(sessions) as s:
        again = seed(s, catalog, ["site-a", "site-b"], actor="t", now=NOW)
    technicians = first.technicians_added
    assert (first.shifts_seeded, first.travel_seeded, first.durations_seeded) == (5 * technicians, 1, 5)
    assert (again.shifts_seeded, again.travel_seeded, again.durations_seeded) == (0, 0, 0)
    wo = sc.open_approved(sessions, "pump-1", "site-b", "cavitation")
    run = sc.plan(sessions, apply=False)
    assert [a.work_order_id for a in run.plan.assignments] == [wo]
    assert run.plan.assignments[0].end - run.plan.assignments[0].start == timedelta(minutes=240)
