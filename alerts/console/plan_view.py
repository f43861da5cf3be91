"""The crew plan page's data (``/console/plan``): each technician's current schedule over the
planning horizon laid out as a timeline, and the open work orders still waiting for a place.

The schedule is what ``GET /plan/crew`` shows (:func:`alerts.planning.crew_store.current_schedule`);
shifts are the weekly calendar with its exceptions, expanded by
:func:`alerts.planning.crew_calendar.expand`. The layout is pure: every block and shaded shift is a
left offset and a width in percent of the horizon, so the page is plain HTML and CSS (no script).
Times are UTC, as everywhere in the console.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.console.dispatch import BOARD, technician_names
from alerts.console.respond import utc_minutes
from alerts.planning import crew_admin, crew_store
from alerts.planning.crew_calendar import CalendarException, ExceptionKind, WeeklyShift, expand
from alerts.planning.crew_model import Shift
from alerts.store.tables import TechnicianRow, WorkOrderRow
from forewarn.contracts.work_order import WorkOrderStatus

S = WorkOrderStatus
WAITING = (S.APPROVED, S.WAITING_PARTS, S.SCHEDULED)  # may be (re)planned: not started
MIN_WIDTH_PCT = 0.25  # a short job still shows as a sliver
DAY = timedelta(days=1)


@dataclass(frozen=True)
class Axis:
    """The time the timeline spans: whole UTC days from the day of ``now`` past the horizon's end."""

    start: datetime
    end: datetime

    @classmethod
    def of(cls, now: datetime, horizon_days: int) -> Axis:
        """The days covering ``now`` to ``now + horizon_days``."""
        start = datetime.combine(now.astimezone(UTC).date(), time(0), tzinfo=UTC)
        last = now + timedelta(days=horizon_days)
        days = -(-(last - start) // DAY)  # ceil: the day the horizon ends in is shown whole
        return cls(start, start + max(1, days) * DAY)

    def pct(self, at: datetime) -> float:
        """Where ``at`` lies, in percent of the axis (clamped to 0..100)."""
        share = (at - self.start) / (self.end - self.start)
        return round(100 * min(1.0, max(0.0, share)), 3)

    def span(self, start: datetime, end: datetime) -> tuple[float, float]:
        """(left, width) in percent of the part of ``start``..``end`` on the axis."""
        left = self.pct(start)
        return left, round(max(self.pct(end) - left, 0.0), 3)

    def days(self) -> list[Band]:
        """One band per day, labelled ``Mon 05 Jan``."""
        out = []
        day = self.start
        while day < self.end:
            left, width = self.span(day, day + DAY)
            out.append(Band(left, width, day.strftime("%a %d %b")))
            day += DAY
        return out


@dataclass(frozen=True)
class Band:
    """A shaded interval (a day, a shift) in percent of the axis, with its label or tooltip."""

    left: float
    width: float
    label: str


@dataclass(frozen=True)
class Block:
    """A scheduled work order on a technician's row."""

    id: int
    href: str
    priority: str
    status: str
    site: str
    failure_mode: str
    left: float
    width: float
    start: str
    end: str
    late: tuple[str, ...]  # "after latest safe start", "after due": why it is marked
    pinned: bool
    cut: bool  # runs past an edge of the axis (started before today, ends after the horizon)

    @property
    def title(self) -> str:
        """The tooltip: everything the block is too small to say."""
        marks = [*self.late, *(["pinned"] if self.pinned else [])]
        extra = f" ({', '.join(marks)})" if marks else ""
        status = self.status.replace("_", " ")
        what = f"#{self.id} {self.priority} {self.failure_mode} at {self.site}, {status}"
        return f"{what}: {self.start} to {self.end}{extra}"


@dataclass(frozen=True)
class Lane:
    """One technician's row: shifts shaded, work orders as blocks."""

    technician_id: int
    name: str
    site: str
    active: bool
    shifts: tuple[Band, ...]
    blocks: tuple[Block, ...]
    later: int  # scheduled after the end of the axis (a shorter view than the horizon): not drawn


@dataclass(frozen=True)
class Waiting:
    """An open work order without a place in the schedule, and why."""

    id: int
    href: str
    priority: str
    status: str
    site: str
    failure_mode: str
    due: str
    latest_safe_start: str
    reason: str


@dataclass(frozen=True)
class PlanPage:
    """Everything ``plan.html`` shows."""

    axis: Axis
    days: tuple[Band, ...]
    now_pct: float
    lanes: tuple[Lane, ...]
    waiting: tuple[Waiting, ...]
    scheduled: int


def late_marks(start: datetime, latest_safe: datetime | None, due: datetime) -> tuple[str, ...]:
    """Why a start is late: after the latest safe start (the prediction's) and/or after the due time."""
    marks = []
    if latest_safe is not None and start > latest_safe:
        marks.append("after latest safe start")
    if start > due:
        marks.append("after due")
    return tuple(marks)


def block(axis: Axis, row: WorkOrderRow, default_min: int) -> Block:
    """A scheduled work order as a block; without a planned end it lasts its estimate (else
    ``default_min``: the failure mode's duration or the settings' default)."""
    start = row.scheduled_start
    assert start is not None  # current_schedule only returns scheduled work orders
    end = row.planned_end or start + timedelta(minutes=row.estimated_duration_min or default_min)
    left, width = axis.span(start, end)
    return Block(
        id=row.id,
        href=f"{BOARD}/{row.id}",
        priority=row.priority,
        status=row.status,
        site=row.site,
        failure_mode=row.failure_mode,
        left=left,
        width=max(width, MIN_WIDTH_PCT),
        start=utc_minutes(start),
        end=utc_minutes(end),
        late=late_marks(start, row.latest_safe_start, row.due_by),
        pinned=bool(row.pinned),
        cut=start < axis.start or end > axis.end,
    )


def later_ids(axis: Axis, rows: Iterable[WorkOrderRow]) -> set[int]:
    """The work orders starting at or after the axis' end (nothing of them would show)."""
    return {r.id for r in rows if r.scheduled_start is not None and r.scheduled_start >= axis.end}


def shift_bands(axis: Axis, shifts: Iterable[Shift]) -> tuple[Band, ...]:
    """Shifts on the axis, each with its hours as tooltip."""
    out = []
    for s in shifts:
        left, width = axis.span(s.start, s.end)
        if width > 0:
            out.append(Band(left, width, f"on shift {utc_minutes(s.start)} to {utc_minutes(s.end)}"))
    return tuple(out)


def waiting_reason(row: WorkOrderRow) -> str:
    """Why an open, not started work order has no place in the schedule (a person reads it)."""
    if row.status == S.WAITING_PARTS:
        if row.parts_available_at is None:
            return "waiting for parts with no expected date"
        return f"waiting for parts expected {utc_minutes(row.parts_available_at)}"
    if row.status == S.SCHEDULED:
        if row.technician_id is None or row.scheduled_start is None:
            return "scheduled without a technician or start"
        return "its planned time has passed: re-plan it"
    return "approved, not planned yet"


def waiting(row: WorkOrderRow) -> Waiting:
    """A work order of the waiting list."""
    return Waiting(
        id=row.id,
        href=f"{BOARD}/{row.id}",
        priority=row.priority,
        status=row.status,
        site=row.site,
        failure_mode=row.failure_mode,
        due=utc_minutes(row.due_by),
        latest_safe_start=utc_minutes(row.latest_safe_start),
        reason=waiting_reason(row),
    )


def _calendars(
    session: Session, ids: Sequence[int]
) -> tuple[dict[int, list[WeeklyShift]], dict[int, list[CalendarException]]]:
    weekly = {
        tid: [
            WeeklyShift(r.weekday, r.start_min, r.end_min, r.timezone)
            for r in crew_admin.weekly_of(session, tid)
        ]
        for tid in ids
    }
    exceptions: dict[int, list[CalendarException]] = {}
    for e in crew_admin.exceptions_of(session):
        exceptions.setdefault(e.technician_id, []).append(
            CalendarException(ExceptionKind(e.kind), e.start, e.end)
        )
    return weekly, exceptions


def load_plan(session: Session, now: datetime, *, horizon_days: int, default_repair_min: int) -> PlanPage:
    """Read the schedule, the calendars and the waiting work orders, and lay them out.

    Every active technician gets a row, with work or without; an inactive one only while work is
    still scheduled on them (so nothing scheduled is hidden).
    """
    axis = Axis.of(now, horizon_days)
    by_tech = crew_store.current_schedule(session, since=now)
    techs = list(
        session.scalars(select(TechnicianRow).where(TechnicianRow.active).order_by(TechnicianRow.id))
    )
    gone = sorted(set(by_tech) - {t.id for t in techs})
    names = technician_names(session, set(gone))
    weekly, exceptions = _calendars(session, [t.id for t in techs])
    durations = crew_admin.durations(session)

    def lane(tid: int, name: str, site: str, active: bool) -> Lane:
        shifts = expand(weekly.get(tid, []), exceptions.get(tid, []), axis.start, axis.end) if active else ()
        rows = by_tech.get(tid, [])
        blocks = [block(axis, r, durations.get(r.failure_mode, default_repair_min)) for r in rows]
        later = later_ids(axis, rows)
        shown = tuple(b for b in blocks if b.id not in later)
        return Lane(tid, name, site, active, shift_bands(axis, shifts), shown, len(blocks) - len(shown))

    lanes = [lane(t.id, t.name, t.site, True) for t in techs]
    lanes += [lane(tid, names.get(tid, f"#{tid}"), "-", False) for tid in gone]
    placed = {r.id for rows in by_tech.values() for r in rows}
    open_rows = session.scalars(
        select(WorkOrderRow)
        .where(WorkOrderRow.status.in_([s.value for s in WAITING]))
        .order_by(WorkOrderRow.priority, WorkOrderRow.due_by, WorkOrderRow.id)
    )
    return PlanPage(
        axis=axis,
        days=tuple(axis.days()),
        now_pct=axis.pct(now),
        lanes=tuple(lanes),
        waiting=tuple(waiting(r) for r in open_rows if r.id not in placed),
        scheduled=len(placed),
    )
