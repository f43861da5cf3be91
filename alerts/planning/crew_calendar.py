"""Technicians' working time as plain data: a weekly calendar plus exceptions, expanded into the
shifts of a planning horizon (:class:`alerts.planning.crew_model.Shift`).

Pure functions: the store (``crew_store``) reads the rows, these turn them into intervals. A weekly
shift is local time in its IANA timezone, so a 08:00 shift stays at 08:00 across a daylight-saving
change; every interval that leaves here is UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from alerts.planning.crew_model import Shift

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DAY_MIN = 24 * 60


class ExceptionKind(StrEnum):
    """What an exception does to a technician's calendar."""

    UNAVAILABLE = "unavailable"  # leave, training, sick: no work in the interval
    EXTRA = "extra"  # extra hours: working in the interval, shift or not


@dataclass(frozen=True)
class WeeklyShift:
    """Every ``weekday`` (0 Monday) from ``start_min`` to ``end_min`` after local midnight."""

    weekday: int
    start_min: int
    end_min: int
    timezone: str = "UTC"


@dataclass(frozen=True)
class CalendarException:
    """An interval (UTC) the technician is ``unavailable`` or works ``extra``."""

    kind: ExceptionKind
    start: datetime
    end: datetime


class CalendarError(ValueError):
    """A weekly shift or an exception that cannot be (the message says why and what to give)."""


def parse_weekdays(text: str) -> list[int]:
    """``mon``, ``mon-fri``, ``sat,sun`` → weekday numbers (0 Monday); CalendarError otherwise."""
    days: list[int] = []
    for part in text.lower().replace(" ", "").split(","):
        first, _, last = part.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise CalendarError(f"weekday {part!r}: give mon..sun, a range (mon-fri) or a list (sat,sun)")
        a, b = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        if b < a:
            raise CalendarError(f"weekday range {part!r} runs backwards")
        days.extend(d for d in range(a, b + 1) if d not in days)
    return days


def parse_clock(text: str, *, end: bool = False) -> int:
    """``HH:MM`` → minutes after midnight; ``24:00`` only as an end. CalendarError otherwise."""
    hours, sep, minutes = text.partition(":")
    if not (sep and hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise CalendarError(f"time {text!r}: give HH:MM (e.g. 08:00)")
    value = int(hours) * 60 + int(minutes)
    if int(minutes) >= 60 or value > DAY_MIN or (value == DAY_MIN and not end):
        raise CalendarError(f"time {text!r} is not a time of day (00:00 to 23:59, 24:00 as an end)")
    return value


def clock_text(minutes: int) -> str:
    """Minutes after midnight as ``HH:MM``."""
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def zone(name: str) -> ZoneInfo:
    """The IANA timezone ``name``; CalendarError when unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise CalendarError(
            f"timezone {name!r} is unknown: give an IANA name such as UTC or Europe/Paris"
        ) from None


def check_weekly(existing: Sequence[WeeklyShift], new: WeeklyShift) -> None:
    """CalendarError unless ``new`` is a valid shift that overlaps none of ``existing`` (same day)."""
    if not 0 <= new.weekday <= 6:
        raise CalendarError(f"weekday {new.weekday} is not 0 (Monday) to 6 (Sunday)")
    if not 0 <= new.start_min < new.end_min <= DAY_MIN:
        raise CalendarError(
            f"a shift from {clock_text(new.start_min)} to {clock_text(new.end_min)} is empty or backwards: "
            "the end must be after the start on the same day (a night shift is two shifts)"
        )
    zone(new.timezone)
    for old in existing:
        if old.weekday == new.weekday and old.start_min < new.end_min and new.start_min < old.end_min:
            raise CalendarError(
                f"{WEEKDAYS[new.weekday]} {clock_text(new.start_min)}-{clock_text(new.end_min)} overlaps "
                f"the shift {clock_text(old.start_min)}-{clock_text(old.end_min)}: "
                "clear that day's shifts first (or replace them)"
            )


def _merged(intervals: Iterable[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    out: list[tuple[datetime, datetime]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _minus(
    intervals: Sequence[tuple[datetime, datetime]], holes: Sequence[tuple[datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    out = []
    for start, end in intervals:
        pieces = [(start, end)]
        for h_start, h_end in holes:
            pieces = [
                piece
                for s, e in pieces
                for piece in ((s, min(e, h_start)), (max(s, h_end), e))
                if piece[1] > piece[0]
            ]
        out.extend(pieces)
    return out


def _weekly_intervals(
    weekly: Sequence[WeeklyShift], start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    out = []
    first: date = (start - timedelta(days=1)).date()  # a local day may start before UTC's
    for offset in range((end.date() - first).days + 2):
        day = first + timedelta(days=offset)
        for shift in weekly:
            if day.weekday() != shift.weekday:
                continue
            tz = zone(shift.timezone)
            midnight = datetime.combine(day, time(0), tzinfo=tz)
            # wall-clock minutes, so 08:00 stays 08:00 across a daylight-saving change
            local_start = (midnight + timedelta(minutes=shift.start_min)).replace(tzinfo=None)
            local_end = (midnight + timedelta(minutes=shift.end_min)).replace(tzinfo=None)
            out.append(
                (local_start.replace(tzinfo=tz).astimezone(UTC), local_end.replace(tzinfo=tz).astimezone(UTC))
            )
    return out


def expand(
    weekly: Sequence[WeeklyShift],
    exceptions: Sequence[CalendarException],
    start: datetime,
    end: datetime,
) -> tuple[Shift, ...]:
    """The working intervals between ``start`` and ``end``: weekly shifts plus extra hours, minus
    unavailable time; sorted, merged where they touch, not overlapping.

    A shift already running at ``start`` is kept whole (a job started in it lies inside it); one
    running past ``end`` is kept whole too (a job may end after the horizon).
    """
    worked = _weekly_intervals(weekly, start, end)
    worked += [(e.start, e.end) for e in exceptions if e.kind is ExceptionKind.EXTRA]
    holes = _merged((e.start, e.end) for e in exceptions if e.kind is ExceptionKind.UNAVAILABLE)
    shifts = _minus(_merged(worked), holes)
    return tuple(Shift(s, e) for s, e in shifts if e > start and s < end)
