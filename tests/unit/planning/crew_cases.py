"""Small hand-made crew problems: a Monday 08:00 UTC start, whole-minute builders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alerts.planning.crew_model import Fixed, Job, Problem, Shift, Technician

NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    """``minutes`` after NOW."""
    return NOW + timedelta(minutes=minutes)


def tech(
    tech_id: int,
    shifts: list[tuple[int, int]],
    *,
    skills: tuple[str, ...] = ("pump",),
    home: str = "A",
    sites: tuple[str, ...] = ("A", "B"),
) -> Technician:
    """A technician with shifts given as (start, end) minutes after NOW."""
    return Technician(
        tech_id,
        f"tech-{tech_id}",
        frozenset(skills),
        home,
        frozenset((home, *sites)),
        tuple(Shift(at(a), at(b)) for a, b in shifts),
    )


def job(
    wo: int,
    *,
    site: str = "A",
    mode: str = "pump",
    priority: int = 3,
    duration: int = 60,
    release: int = 0,
    due: int = 10_000,
    lss: int | None = None,
    fixed: tuple[int, int] | None = None,
) -> Job:
    """A job with times in minutes after NOW; ``fixed`` = (technician, start minute)."""
    return Job(
        wo,
        site,
        mode,
        priority,
        duration,
        at(release),
        at(due),
        None if lss is None else at(lss),
        None if fixed is None else Fixed(fixed[0], at(fixed[1])),
    )


def problem(
    techs: list[Technician], jobs: list[Job], *, travel: int = 30, overtime: int = 0, days: int = 7
) -> Problem:
    """Sites A, B (and C) with ``travel`` minutes between any two of them."""
    sites = ("A", "B", "C")
    pairs = {(a, b): travel for a in sites for b in sites if a < b}
    return Problem(
        NOW, NOW + timedelta(days=days), tuple(techs), tuple(jobs), pairs, max_overtime_min=overtime
    )
