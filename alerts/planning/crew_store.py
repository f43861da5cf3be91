"""Crew planning on the work-order store: build a :class:`Problem` from it, apply a :class:`Plan` to it.

Planning *proposes* by default and a dispatcher applies: ``forewarn plan crew`` prints the plan,
``--apply`` (``POST /plan/crew?apply=true``) writes it. Operators expect a dispatcher-approved
schedule, and a proposal that writes nothing can be run as often as one likes.

What is planned: open work orders approved, waiting for parts (with a date the parts are expected)
or scheduled, not started. Started (in-progress) and pinned work orders are part of the problem as
:class:`Fixed` jobs: they hold their technician's time and are never moved. Requested work orders
are not planned (nobody approved them yet).

Applying writes ``technician_id``, ``scheduled_start`` and ``planned_end``; a status change goes
through the work-order service (approved or waiting-parts → ``schedule``, which reserves the kit or
leaves the order waiting for parts), so parts and audit follow the same rules as a dispatcher's click.
Every change is audited as ``plan`` (before and after). A job the plan placed before but cannot
place now (its technician became unavailable) loses its planned start and end (``unplan``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.planning import crew_admin
from alerts.planning.crew_calendar import CalendarException, ExceptionKind, WeeklyShift, expand
from alerts.planning.crew_model import Fixed, Job, Plan, Problem, Technician, Unplaced
from alerts.planning.crew_prediction import latest_safe_start, predicted_failure_at
from alerts.planning.settings import PlanSettings
from alerts.store.tables import AlertRow, ShiftExceptionRow, ShiftRow, TechnicianRow, WorkOrderRow
from alerts.workorders import audit, service
from forewarn.contracts.work_order import WorkOrderStatus

S = WorkOrderStatus
PLANNED = (S.APPROVED, S.WAITING_PARTS, S.SCHEDULED, S.IN_PROGRESS)
PARTS_DATE_UNKNOWN = "parts_date_unknown"  # waiting for parts with no expected date
FIXED_TECHNICIAN_MISSING = "fixed_technician_missing"  # started or pinned, its technician gone

StepOf = Callable[[str | None, str | None], float | None]
"""(model name, model version) → seconds one RUL step lasts, None when not known (then the setting)."""
Solver = Callable[[Problem], Plan]


@dataclass(frozen=True)
class Built:
    """The problem, and the open work orders left out of it with the reason (reported as unplaced)."""

    problem: Problem
    left_out: tuple[Unplaced, ...]


def _step_s(settings: PlanSettings, step_of: StepOf | None, alert: AlertRow) -> float:
    found = step_of(alert.model_name, alert.model_version) if step_of is not None else None
    return found if found and found > 0 else settings.rul_step_s


def _technicians(session: Session, start: datetime, end: datetime) -> tuple[Technician, ...]:
    rows = session.scalars(select(TechnicianRow).where(TechnicianRow.active).order_by(TechnicianRow.id)).all()
    weekly: dict[int, list[WeeklyShift]] = {}
    for s in session.scalars(select(ShiftRow)):
        weekly.setdefault(s.technician_id, []).append(
            WeeklyShift(s.weekday, s.start_min, s.end_min, s.timezone)
        )
    exceptions: dict[int, list[CalendarException]] = {}
    for e in session.scalars(select(ShiftExceptionRow).where(ShiftExceptionRow.end > start)):
        exceptions.setdefault(e.technician_id, []).append(
            CalendarException(ExceptionKind(e.kind), e.start, e.end)
        )
    return tuple(
        Technician(
            technician_id=t.id,
            name=t.name,
            skills=frozenset(t.skills),
            home_site=t.site,
            sites=frozenset([t.site, *t.territory]),
            shifts=expand(weekly.get(t.id, []), exceptions.get(t.id, []), start, end),
        )
        for t in rows
    )


def _fixed(row: WorkOrderRow) -> Fixed | None:
    if row.status == S.IN_PROGRESS and row.technician_id is not None:
        start = row.on_site_at or row.scheduled_start
        return Fixed(row.technician_id, start) if start is not None else None
    if row.pinned and row.technician_id is not None and row.scheduled_start is not None:
        return Fixed(row.technician_id, row.scheduled_start)
    return None


def build_problem(
    session: Session,
    settings: PlanSettings,
    *,
    now: datetime,
    horizon_days: int | None = None,
    step_of: StepOf | None = None,
) -> Built:
    """The crew problem of the store at ``now`` (see the module's docstring for what is in it).

    ``release`` is the later of now and the date the parts are expected; ``latest_safe_start`` is
    :func:`alerts.planning.crew_prediction.latest_safe_start` of the source alert's prediction (the
    value stored on the work order when its alert is gone); ``priority`` 1..4 from P1..P4; the
    duration is the work order's estimate, else its failure mode's, else the settings' default.
    """
    horizon_end = now + timedelta(days=horizon_days or settings.horizon_days)
    technicians = _technicians(session, now, horizon_end)
    known = {t.technician_id for t in technicians}
    durations = crew_admin.durations(session)
    rows = session.scalars(
        select(WorkOrderRow)
        .where(WorkOrderRow.status.in_([s.value for s in PLANNED]))
        .order_by(WorkOrderRow.id)
    ).all()
    alert_ids = [r.source_alert_id for r in rows if r.source_alert_id]
    alerts = {
        a.alert_id: a for a in session.scalars(select(AlertRow).where(AlertRow.alert_id.in_(alert_ids)))
    }
    jobs: list[Job] = []
    left_out: list[Unplaced] = []
    for row in rows:
        fixed = _fixed(row)
        if row.status == S.IN_PROGRESS and fixed is None:
            continue  # started with no technician or time on record: nothing to plan around
        if fixed is not None and fixed.technician_id not in known:
            left_out.append(Unplaced(row.id, FIXED_TECHNICIAN_MISSING))
            continue
        if fixed is None and row.status == S.WAITING_PARTS and row.parts_available_at is None:
            left_out.append(Unplaced(row.id, PARTS_DATE_UNKNOWN))
            continue
        duration = (
            row.estimated_duration_min or durations.get(row.failure_mode) or settings.default_repair_min
        )
        alert = alerts.get(row.source_alert_id or "")
        safe = row.latest_safe_start
        if alert is not None and alert.trigger_rul_cycles is not None:
            safe = latest_safe_start(
                alert.raised_at,
                alert.trigger_rul_cycles,
                _step_s(settings, step_of, alert),
                duration,
                settings.safety_margin_min,
            )
        jobs.append(
            Job(
                work_order_id=row.id,
                site=row.site,
                failure_mode=row.failure_mode,
                priority=int(row.priority.removeprefix("P")),
                duration_min=duration,
                release=max(now, row.parts_available_at or now),
                due_by=row.due_by,
                latest_safe_start=safe,
                fixed=fixed,
            )
        )
    problem = Problem(
        now=now,
        horizon_end=horizon_end,
        technicians=technicians,
        jobs=tuple(jobs),
        travel_min=crew_admin.travel_table(session),
        max_overtime_min=settings.max_overtime_min,
    )
    return Built(problem, tuple(left_out))


@dataclass(frozen=True)
class Applied:
    """What applying a plan changed: work orders (re)planned, and those whose old plan was withdrawn."""

    planned: tuple[int, ...]
    unplanned: tuple[int, ...]
    skipped: tuple[int, ...]  # started or pinned since the plan was made: left alone


def _may_move(row: WorkOrderRow) -> bool:
    return not row.pinned and row.status in (S.APPROVED, S.WAITING_PARTS, S.SCHEDULED)


def apply(session: Session, problem: Problem, plan: Plan, *, actor: str, now: datetime) -> Applied:
    """Write ``plan`` to the store (in the caller's transaction); fixed jobs are never touched.

    Work orders are locked one by one in id order; one started or pinned since the plan was made is
    skipped. Approved and waiting-parts orders are scheduled through :func:`service.schedule`
    (kit reserved, or still waiting for parts), scheduled ones reassigned through
    :func:`service.assign` when their technician changes; then start, end, duration and latest safe
    start are written and audited as ``plan``.
    """
    jobs = {j.work_order_id: j for j in problem.jobs}
    placed = {a.work_order_id: a for a in plan.assignments}
    planned: list[int] = []
    skipped: list[int] = []
    for wo_id in sorted(placed):
        job, a = jobs.get(wo_id), placed[wo_id]
        if job is None or job.fixed is not None:
            continue
        row = service.get(session, wo_id)
        if not _may_move(row):
            skipped.append(wo_id)
            continue
        unchanged = (row.technician_id, row.scheduled_start, row.planned_end) == (
            a.technician_id,
            a.start,
            a.end,
        )
        if unchanged and row.status == S.SCHEDULED:
            continue
        before = audit.snapshot(row)
        if row.status in (S.APPROVED, S.WAITING_PARTS):
            service.schedule(
                session, wo_id, actor=actor, now=now, technician_id=a.technician_id, start_at=a.start
            )
        elif row.technician_id != a.technician_id:
            service.assign(session, wo_id, a.technician_id, actor=actor, now=now)
        row.scheduled_start = a.start
        row.planned_end = a.end
        row.estimated_duration_min = job.duration_min
        row.latest_safe_start = job.latest_safe_start
        row.updated_at = now
        _audit(session, row, before, "plan", actor, now)
        planned.append(wo_id)
    unplanned: list[int] = []
    for u in sorted(plan.unplaced, key=lambda u: u.work_order_id):
        job = jobs.get(u.work_order_id)
        if job is None or job.fixed is not None:
            continue
        row = service.get(session, u.work_order_id)
        if not _may_move(row) or row.planned_end is None:
            continue  # never placed by the planner: a dispatcher's start stays
        before = audit.snapshot(row)
        row.scheduled_start = None
        row.planned_end = None
        row.updated_at = now
        _audit(session, row, before, "unplan", actor, now)
        unplanned.append(row.id)
    return Applied(tuple(planned), tuple(unplanned), tuple(skipped))


def _audit(
    session: Session, row: WorkOrderRow, before: dict[str, object], action: str, actor: str, now: datetime
) -> None:
    session.flush()
    audit.record(
        session,
        entity="work_order",
        entity_id=row.id,
        action=action,
        actor=actor,
        at=now,
        before=dict(before),
        after=audit.snapshot(row),
    )


@dataclass(frozen=True)
class CrewRun:
    """One planning run: the problem, the solver's plan (with what was left out), what was applied."""

    problem: Problem
    plan: Plan
    applied: Applied | None


def plan_crew(
    session: Session,
    settings: PlanSettings,
    solver: Solver,
    *,
    now: datetime,
    actor: str,
    apply_plan: bool,
    horizon_days: int | None = None,
    step_of: StepOf | None = None,
) -> CrewRun:
    """Build the problem, solve it, and (``apply_plan``) write the plan, in the caller's transaction.

    Work orders left out of the problem (waiting for parts with no date, …) are added to the plan's
    unplaced with their reason, so the report lists every open work order that has no place.
    """
    built = build_problem(session, settings, now=now, horizon_days=horizon_days, step_of=step_of)
    solved = solver(built.problem)
    plan = replace(solved, unplaced=(*solved.unplaced, *built.left_out))
    applied = apply(session, built.problem, plan, actor=actor, now=now) if apply_plan else None
    return CrewRun(built.problem, plan, applied)


@dataclass(frozen=True)
class Facts:
    """What the crew KPIs need to know of one work order (``alerts.planning.crew_kpis``)."""

    work_order_id: int
    status: str
    predicted_failure_at: datetime | None
    scheduled_start: datetime | None
    on_site_at: datetime | None
    completed_at: datetime | None


def facts(
    session: Session, settings: PlanSettings, *, since: datetime | None = None, step_of: StepOf | None = None
) -> list[Facts]:
    """The KPI facts of every work order (created since ``since``), with the predicted failure of
    its source alert (:func:`alerts.planning.crew_prediction.predicted_failure_at`)."""
    q = select(WorkOrderRow, AlertRow).outerjoin(AlertRow, AlertRow.alert_id == WorkOrderRow.source_alert_id)
    if since is not None:
        q = q.where(WorkOrderRow.created_at >= since)
    out = []
    for row, alert in session.execute(q.order_by(WorkOrderRow.id)).all():
        failure = (
            predicted_failure_at(alert.raised_at, alert.trigger_rul_cycles, _step_s(settings, step_of, alert))
            if alert is not None
            else None
        )
        out.append(Facts(row.id, row.status, failure, row.scheduled_start, row.on_site_at, row.completed_at))
    return out


def current_schedule(session: Session, *, since: datetime) -> Mapping[int, Sequence[WorkOrderRow]]:
    """The open work orders with a technician and a planned start ending after ``since``, per
    technician id, by start (what ``GET /plan/crew`` shows)."""
    rows = session.scalars(
        select(WorkOrderRow)
        .where(
            WorkOrderRow.status.in_([s.value for s in PLANNED]),
            WorkOrderRow.technician_id.is_not(None),
            WorkOrderRow.scheduled_start.is_not(None),
        )
        .order_by(WorkOrderRow.scheduled_start, WorkOrderRow.id)
    ).all()
    out: dict[int, list[WorkOrderRow]] = {}
    for row in rows:
        end = row.planned_end or row.scheduled_start
        if (
            row.technician_id is not None
            and end is not None
            and (end >= since or row.status == S.IN_PROGRESS)
        ):
            out.setdefault(row.technician_id, []).append(row)
    return out
