"""Crew-planning scenarios on a real store, shared by the SQLite (unit) and PostgreSQL (integration)
tests: a small crew with shifts and travel, open work orders, a plan applied, a re-plan."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from alerts.planning import crew_admin, crew_solver, crew_store
from alerts.planning.crew_calendar import ExceptionKind, WeeklyShift
from alerts.planning.crew_model import Plan, Problem
from alerts.planning.settings import PlanSettings
from alerts.store.db import transaction
from alerts.store.tables import AuditRow, TechnicianRow, WorkOrderRow
from alerts.workorders import service
from forewarn.contracts.alert import Severity

NOW = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)  # a Monday, before the 08:00 shifts
SETTINGS = PlanSettings(horizon_days=7, time_limit_s=3.0, max_overtime_min=0, safety_margin_min=60)
MON_FRI = [WeeklyShift(d, 8 * 60, 16 * 60) for d in range(5)]


def solve(problem: Problem) -> Plan:
    """The real CP-SAT solver, on a short budget."""
    return crew_solver.solve(problem, time_limit_s=3.0, workers=2)


def crew(sessions: sessionmaker[Session]) -> dict[str, int]:
    """Three technicians: a mechanic at site-a (covers site-b), an electrician at site-b, a
    generalist at site-c (no shifts: never on duty); travel a-b 30 min; durations per mode."""
    with transaction(sessions) as s:
        mech = service.add_technician(s, name="mech", skills=["bearing_wear"], site="site-a",
                                      territory=["site-b"], actor="t", now=NOW)  # fmt: skip
        elec = service.add_technician(s, name="elec", skills=["winding_insulation"], site="site-b",
                                      territory=[], actor="t", now=NOW)  # fmt: skip
        idle = service.add_technician(s, name="idle", skills=["general"], site="site-c",
                                      territory=[], actor="t", now=NOW)  # fmt: skip
        for tech in (mech, elec):
            crew_admin.set_shifts(s, tech.id, MON_FRI, replace=False, actor="t", now=NOW)
        crew_admin.set_travel(s, "site-a", "site-b", 30, actor="t", now=NOW)
        crew_admin.set_duration(s, "bearing_wear", 120, actor="t", now=NOW)
        crew_admin.set_duration(s, "winding_insulation", 180, actor="t", now=NOW)
        return {"mech": mech.id, "elec": elec.id, "idle": idle.id}


def open_approved(
    sessions: sessionmaker[Session], asset: str, site: str, mode: str, severity: Severity = Severity.MAJOR
) -> int:
    """An approved work order (no kit: scheduling reserves nothing)."""
    with transaction(sessions) as s:
        row, _ = service.open_work_order(
            s, service.NewWorkOrder(asset, site, mode, severity), actor="t", now=NOW - timedelta(hours=1)
        )
        service.approve(s, row.id, actor="t", now=NOW - timedelta(hours=1))
        return row.id


def plan(sessions: sessionmaker[Session], *, apply: bool, now: datetime = NOW) -> crew_store.CrewRun:
    """One planning run in its own transaction."""
    with transaction(sessions) as s:
        return crew_store.plan_crew(s, SETTINGS, solve, now=now, actor="dispatcher", apply_plan=apply)


def rows(sessions: sessionmaker[Session]) -> dict[int, WorkOrderRow]:
    with transaction(sessions) as s:
        return {r.id: r for r in s.scalars(select(WorkOrderRow))}


def _in_shift(start: datetime, end: datetime) -> bool:
    return (
        start.weekday() < 5
        and start >= start.replace(hour=8, minute=0)
        and end <= start.replace(hour=16, minute=0)
    )


def assert_respects_the_rules(
    sessions: sessionmaker[Session], techs: dict[str, int], ids: Sequence[int]
) -> None:
    """Every placed work order: a qualified technician on shift, no overlap, travel between sites
    kept, not before its parts date."""
    by_id = rows(sessions)
    with transaction(sessions) as s:
        skills = {t.id: (set(t.skills), {t.site, *t.territory}) for t in s.scalars(select(TechnicianRow))}
    per_tech: dict[int, list[WorkOrderRow]] = {}
    for wo_id in ids:
        row = by_id[wo_id]
        if row.scheduled_start is None:
            continue
        assert row.technician_id is not None
        assert row.planned_end is not None
        tech_skills, sites = skills[row.technician_id]
        assert row.failure_mode in tech_skills, row.id
        assert row.site in sites, row.id
        assert _in_shift(row.scheduled_start, row.planned_end), (row.id, row.scheduled_start, row.planned_end)
        assert row.scheduled_start >= NOW
        if row.parts_available_at is not None:
            assert row.scheduled_start >= row.parts_available_at
        per_tech.setdefault(row.technician_id, []).append(row)
    for jobs in per_tech.values():
        jobs.sort(key=lambda r: r.scheduled_start or NOW)
        for a, b in itertools.pairwise(jobs):
            assert a.planned_end is not None
            assert b.scheduled_start is not None
            gap = 30 if a.site != b.site else 0
            assert a.planned_end + timedelta(minutes=gap) <= b.scheduled_start, (a.id, b.id)
    assert techs["idle"] not in per_tech  # no shifts: never on duty


def schedule_respects_shifts_skills_travel_parts(sessions: sessionmaker[Session]) -> None:
    """A plan applied puts every job with a qualified technician on shift, travel and parts kept."""
    techs = crew(sessions)
    ids = [
        open_approved(sessions, f"pump-{i}", "site-a" if i % 2 else "site-b", "bearing_wear")
        for i in range(6)
    ]
    ids += [open_approved(sessions, f"motor-{i}", "site-b", "winding_insulation") for i in range(3)]
    orphan = open_approved(sessions, "valve-1", "site-a", "seal_leak")  # nobody is skilled for it
    late_parts = ids[0]
    with transaction(sessions) as s:
        s.get_one(WorkOrderRow, late_parts).parts_available_at = NOW + timedelta(days=2, hours=3)
    proposed = plan(sessions, apply=False)
    assert all(r.scheduled_start is None for r in rows(sessions).values())  # a proposal writes nothing
    run = plan(sessions, apply=True)
    assert run.plan.placed == len(ids)
    assert {u.work_order_id: u.reason for u in run.plan.unplaced} == {orphan: "no_qualified_technician"}
    assert proposed.plan.placed == run.plan.placed
    by_id = rows(sessions)
    assert {by_id[i].status for i in ids} == {"scheduled"}
    assert by_id[orphan].status == "approved"
    assert by_id[orphan].scheduled_start is None
    assert_respects_the_rules(sessions, techs, ids)
    with transaction(sessions) as s:
        audited = s.scalar(select(func.count()).select_from(AuditRow).where(AuditRow.action == "plan"))
    assert audited == len(ids)


def replan_keeps_pins_and_started_jobs(sessions: sessionmaker[Session]) -> None:
    """An urgent job and an unavailable technician re-plan without moving pinned or started jobs."""
    techs = crew(sessions)
    ids = [open_approved(sessions, f"pump-{i}", "site-a", "bearing_wear") for i in range(4)]
    plan(sessions, apply=True)
    first = rows(sessions)
    started, pinned = sorted(ids, key=lambda i: first[i].scheduled_start or NOW)[:2]
    later = NOW + timedelta(hours=2)  # 09:00 Monday: the first job is under way
    with transaction(sessions) as s:
        service.start(s, started, actor="mech", now=later)
        crew_admin.pin(s, pinned, True, actor="dispatcher", now=later)
        # the mechanic is off on Tuesday
        tuesday = NOW.replace(hour=0) + timedelta(days=1)
        off = crew_admin.NewException(
            ExceptionKind.UNAVAILABLE, tuesday, tuesday + timedelta(days=1), "training"
        )
        crew_admin.add_exception(s, techs["mech"], off, actor="dispatcher", now=later)
    urgent = open_approved(sessions, "pump-urgent", "site-b", "bearing_wear", Severity.CRITICAL)
    run = plan(sessions, apply=True, now=later)
    after = rows(sessions)
    for wo in (started, pinned):
        assert (after[wo].technician_id, after[wo].scheduled_start, after[wo].planned_end) == (
            first[wo].technician_id, first[wo].scheduled_start, first[wo].planned_end)  # fmt: skip
    assert run.applied is not None
    assert started not in run.applied.planned
    assert pinned not in run.applied.planned
    urgent_start = after[urgent].scheduled_start
    assert urgent_start is not None
    assert urgent_start >= later
    for wo in [*ids, urgent]:
        start = after[wo].scheduled_start
        assert start is not None
        assert start.weekday() != 1, (wo, start)  # nobody works Tuesday
    assert_respects_the_rules(sessions, techs, [i for i in [*ids, urgent] if i != started])
