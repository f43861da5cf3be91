"""What a dispatcher or an admin sets for crew planning, in the store: weekly shifts, exceptions,
travel times, repair durations, pins; and the defaults seeded from the catalogue.

Every function works in the caller's transaction, checks its input before changing anything (a bad
shift, a negative minute, an unknown technician raise :class:`WorkOrderError` ``invalid`` or
``not_found`` and change nothing) and audits what it changes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.planning.crew_calendar import (
    CalendarError,
    ExceptionKind,
    WeeklyShift,
    check_weekly,
    clock_text,
)
from alerts.store.tables import (
    RepairDurationRow,
    ShiftExceptionRow,
    ShiftRow,
    TechnicianRow,
    TravelTimeRow,
    WorkOrderRow,
)
from alerts.workorders import audit
from alerts.workorders.errors import ErrorCode, WorkOrderError
from forewarn.contracts.work_order import WorkOrderStatus

MAX_MINUTES = 7 * 24 * 60  # a travel or repair longer than a week is a typo


def technician(session: Session, ref: str | int) -> TechnicianRow:
    """The technician with id ``ref`` (or whose name is exactly ``ref``); ``not_found`` otherwise."""
    row = None
    if isinstance(ref, int) or ref.isdigit():
        row = session.get(TechnicianRow, int(ref))
    if row is None and isinstance(ref, str):
        found = session.scalars(select(TechnicianRow).where(TechnicianRow.name == ref)).all()
        if len(found) > 1:
            raise WorkOrderError(
                ErrorCode.INVALID, f"{len(found)} technicians are named {ref!r}: give the id"
            )
        row = found[0] if found else None
    if row is None:
        raise WorkOrderError(ErrorCode.NOT_FOUND, f"technician {ref!r} does not exist")
    return row


def _invalid(exc: CalendarError) -> WorkOrderError:
    return WorkOrderError(ErrorCode.INVALID, str(exc))


def weekly_of(session: Session, technician_id: int) -> list[ShiftRow]:
    """A technician's weekly calendar, by weekday and start."""
    return list(
        session.scalars(
            select(ShiftRow)
            .where(ShiftRow.technician_id == technician_id)
            .order_by(ShiftRow.weekday, ShiftRow.start_min)
        )
    )


def set_shifts(
    session: Session,
    ref: str | int,
    shifts: Sequence[WeeklyShift],
    *,
    replace: bool,
    actor: str,
    now: datetime,
) -> list[ShiftRow]:
    """Add ``shifts`` to a technician's weekly calendar (``replace``: instead of that weekday's).

    Refused as a whole when one overlaps another (given or kept) or is empty or backwards.
    """
    tech = technician(session, ref)
    rows = weekly_of(session, tech.id)
    days = {s.weekday for s in shifts}
    kept = [r for r in rows if not (replace and r.weekday in days)]
    placed = [WeeklyShift(r.weekday, r.start_min, r.end_min, r.timezone) for r in kept]
    try:
        for shift in shifts:
            check_weekly(placed, shift)
            placed.append(shift)
    except CalendarError as exc:
        raise _invalid(exc) from None
    before = _calendar(rows)
    for r in rows:
        if r not in kept:
            session.delete(r)
    session.add_all(
        ShiftRow(
            technician_id=tech.id,
            weekday=s.weekday,
            start_min=s.start_min,
            end_min=s.end_min,
            timezone=s.timezone,
        )
        for s in shifts
    )
    session.flush()
    after = weekly_of(session, tech.id)
    _audit_calendar(session, tech.id, "set_shifts", before, _calendar(after), actor, now)
    return after


def clear_shifts(
    session: Session, ref: str | int, weekdays: Sequence[int] | None, *, actor: str, now: datetime
) -> int:
    """Remove a technician's weekly shifts (of ``weekdays``, or all); how many went."""
    tech = technician(session, ref)
    rows = weekly_of(session, tech.id)
    gone = [r for r in rows if weekdays is None or r.weekday in weekdays]
    for r in gone:
        session.delete(r)
    session.flush()
    _audit_calendar(
        session, tech.id, "clear_shifts", _calendar(rows), _calendar(weekly_of(session, tech.id)), actor, now
    )
    return len(gone)


def _calendar(rows: Sequence[ShiftRow]) -> dict[str, object]:
    return {
        "shifts": [
            {
                "weekday": r.weekday,
                "from": clock_text(r.start_min),
                "to": clock_text(r.end_min),
                "timezone": r.timezone,
            }
            for r in rows
        ]
    }


def _audit_calendar(
    session: Session,
    technician_id: int,
    action: str,
    before: dict[str, object],
    after: dict[str, object],
    actor: str,
    now: datetime,
) -> None:
    audit.record(
        session,
        entity="technician",
        entity_id=technician_id,
        action=action,
        actor=actor,
        at=now,
        before=before,
        after=after,
    )


@dataclass(frozen=True)
class NewException:
    """An exception to add: ``unavailable`` or ``extra`` from ``start`` to ``end`` (UTC)."""

    kind: ExceptionKind
    start: datetime
    end: datetime
    reason: str


def add_exception(
    session: Session, ref: str | int, new: NewException, *, actor: str, now: datetime
) -> ShiftExceptionRow:
    """Add an exception to a technician's calendar; ``invalid`` when empty, backwards or unreasoned."""
    tech = technician(session, ref)
    if new.start.tzinfo is None or new.end.tzinfo is None:
        raise WorkOrderError(ErrorCode.INVALID, "give the exception's times with a timezone (e.g. ...Z)")
    if new.end <= new.start:
        raise WorkOrderError(
            ErrorCode.INVALID,
            f"the exception ends ({new.end.isoformat()}) before it starts ({new.start.isoformat()})",
        )
    if (new.end - new.start).days > 366:
        raise WorkOrderError(
            ErrorCode.INVALID, "an exception longer than a year: deactivate the technician instead"
        )
    if not new.reason.strip():
        raise WorkOrderError(ErrorCode.INVALID, "give a reason (what the dispatcher will read)")
    row = ShiftExceptionRow(
        technician_id=tech.id,
        kind=new.kind.value,
        start=new.start,
        end=new.end,
        reason=new.reason.strip(),
        created_by=actor,
        created_at=now,
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        entity="shift_exception",
        entity_id=row.id,
        action="create",
        actor=actor,
        at=now,
        before=None,
        after=audit.snapshot(row),
    )
    return row


def remove_exception(session: Session, exception_id: int, *, actor: str, now: datetime) -> None:
    """Remove an exception; ``not_found`` when there is none with this id."""
    row = session.get(ShiftExceptionRow, exception_id)
    if row is None:
        raise WorkOrderError(ErrorCode.NOT_FOUND, f"exception {exception_id} does not exist")
    before = audit.snapshot(row)
    session.delete(row)
    session.flush()
    audit.record(
        session,
        entity="shift_exception",
        entity_id=exception_id,
        action="delete",
        actor=actor,
        at=now,
        before=before,
        after=None,
    )


def _minutes(what: str, minutes: int, *, zero_ok: bool) -> None:
    low = 0 if zero_ok else 1
    if not low <= minutes <= MAX_MINUTES:
        raise WorkOrderError(
            ErrorCode.INVALID, f"{what} must be {low} to {MAX_MINUTES} minutes, got {minutes}"
        )


def _name(what: str, value: str, max_length: int) -> str:
    value = value.strip()
    if not value or len(value) > max_length:
        raise WorkOrderError(ErrorCode.INVALID, f"{what} must be 1 to {max_length} characters")
    return value


def set_travel(session: Session, a: str, b: str, minutes: int, *, actor: str, now: datetime) -> TravelTimeRow:
    """Set the drive between sites ``a`` and ``b`` (either way); ``invalid`` for a == b or bad minutes."""
    a, b = sorted((_name("site", a, 200), _name("site", b, 200)))
    if a == b:
        raise WorkOrderError(ErrorCode.INVALID, f"travel from {a!r} to itself is 0 by definition")
    _minutes("travel", minutes, zero_ok=True)
    row = session.get(TravelTimeRow, (a, b))
    before = audit.snapshot(row) if row else None
    if row is None:
        row = TravelTimeRow(site_a=a, site_b=b, minutes=minutes)
        session.add(row)
    row.minutes = minutes
    session.flush()
    audit.record(
        session,
        entity="travel_time",
        entity_id=f"{a}|{b}",
        action="set",
        actor=actor,
        at=now,
        before=before,
        after=audit.snapshot(row),
    )
    return row


def set_duration(
    session: Session, failure_mode: str, minutes: int, *, actor: str, now: datetime
) -> RepairDurationRow:
    """Set how long a repair of ``failure_mode`` takes; ``invalid`` for bad minutes."""
    failure_mode = _name("failure mode", failure_mode, 100)
    _minutes("a repair", minutes, zero_ok=False)
    row = session.get(RepairDurationRow, failure_mode)
    before = audit.snapshot(row) if row else None
    if row is None:
        row = RepairDurationRow(failure_mode=failure_mode, minutes=minutes)
        session.add(row)
    row.minutes = minutes
    session.flush()
    audit.record(
        session,
        entity="repair_duration",
        entity_id=failure_mode,
        action="set",
        actor=actor,
        at=now,
        before=before,
        after=audit.snapshot(row),
    )
    return row


_PINNABLE = {WorkOrderStatus.APPROVED, WorkOrderStatus.WAITING_PARTS, WorkOrderStatus.SCHEDULED}


def pin(session: Session, work_order_id: int, pinned: bool, *, actor: str, now: datetime) -> WorkOrderRow:
    """Pin (or unpin) a work order where it is: the planner then never moves it.

    A pin needs a technician and a planned start (schedule it first); a started job never moves anyway.
    """
    row = session.get(WorkOrderRow, work_order_id, with_for_update=True)
    if row is None:
        raise WorkOrderError(ErrorCode.NOT_FOUND, f"work order {work_order_id} does not exist")
    if pinned and (
        WorkOrderStatus(row.status) not in _PINNABLE
        or row.technician_id is None
        or row.scheduled_start is None
    ):
        raise WorkOrderError(
            ErrorCode.INVALID,
            f"work order {row.id} is {row.status}, technician {row.technician_id}, "
            f"start {row.scheduled_start}: only an open, not started work order with a technician "
            "and a planned start can be pinned",
        )
    before = audit.snapshot(row)
    row.pinned = pinned
    row.updated_at = now
    session.flush()
    audit.record(
        session,
        entity="work_order",
        entity_id=row.id,
        action="pin" if pinned else "unpin",
        actor=actor,
        at=now,
        before=before,
        after=audit.snapshot(row),
    )
    return row


def travel_table(session: Session) -> dict[tuple[str, str], int]:
    """Every travel time, (site a, site b) → minutes (a < b)."""
    return {(r.site_a, r.site_b): r.minutes for r in session.scalars(select(TravelTimeRow))}


def durations(session: Session) -> dict[str, int]:
    """Every repair duration, failure mode → minutes."""
    return {r.failure_mode: r.minutes for r in session.scalars(select(RepairDurationRow))}


def exceptions_of(session: Session, technician_id: int | None = None) -> list[ShiftExceptionRow]:
    """Calendar exceptions (of one technician, or all), by start."""
    q = select(ShiftExceptionRow).order_by(ShiftExceptionRow.start, ShiftExceptionRow.id)
    if technician_id is not None:
        q = q.where(ShiftExceptionRow.technician_id == technician_id)
    return list(session.scalars(q))


@dataclass(frozen=True)
class PlanningDefaults:
    """What seeding gives a site's crew when nothing is set yet (``[planning]`` of the catalogue)."""

    weekdays: Sequence[int]
    start_min: int
    end_min: int
    timezone: str
    travel_min: int  # between every two seeded sites
    durations_min: dict[str, int]


@dataclass
class PlanningSeeded:
    """How many shifts, travel times and durations a seed set (0 on a repeated seed)."""

    shifts: int = 0
    travel: int = 0
    durations: int = 0


def seed_defaults(
    session: Session, defaults: PlanningDefaults, sites: Sequence[str], *, actor: str, now: datetime
) -> PlanningSeeded:
    """Give what has none yet a default: the seeded sites' technicians without a shift their weekly
    calendar, every two seeded sites without a travel time one, every failure mode without a
    duration one. Never overwrites what a dispatcher set."""
    done = PlanningSeeded()
    techs = session.scalars(
        select(TechnicianRow).where(TechnicianRow.site.in_(sites)).order_by(TechnicianRow.id)
    )
    for tech in techs:
        if not weekly_of(session, tech.id):
            shifts = [
                WeeklyShift(d, defaults.start_min, defaults.end_min, defaults.timezone)
                for d in defaults.weekdays
            ]
            set_shifts(session, tech.id, shifts, replace=False, actor=actor, now=now)
            done.shifts += len(shifts)
    travel = travel_table(session)
    ordered = sorted(set(sites))
    for i, a in enumerate(ordered):
        for b in ordered[i + 1 :]:
            if (a, b) not in travel:
                set_travel(session, a, b, defaults.travel_min, actor=actor, now=now)
                done.travel += 1
    known = durations(session)
    for mode, minutes in sorted(defaults.durations_min.items()):
        if mode not in known:
            set_duration(session, mode, minutes, actor=actor, now=now)
            done.durations += 1
    return done
