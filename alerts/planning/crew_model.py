"""The crew-scheduling problem and its plan, as plain data: the contract between the store (which
builds a :class:`Problem` from technicians, shifts, travel times and open work orders, and applies a
:class:`Plan`) and the solvers (CP-SAT in ``crew_solver``, the greedy baseline in ``crew_greedy``).

Times are timezone-aware UTC datetimes; durations and travel are whole minutes (the solver's unit).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

GENERALIST_SKILL = "general"  # as alerts.workorders.crew: a generalist may take any failure mode


@dataclass(frozen=True)
class Shift:
    """One working interval of a technician (the weekly calendar expanded, exceptions applied)."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Technician:
    """Who can work, where, when."""

    technician_id: int
    name: str
    skills: frozenset[str]
    home_site: str
    sites: frozenset[str]  # home site and territory: the sites they may be sent to
    shifts: tuple[Shift, ...]  # within the planning horizon, sorted, not overlapping

    def qualified(self, failure_mode: str, site: str) -> bool:
        """Skilled for the failure mode (or a generalist) and covering the site."""
        skilled = failure_mode in self.skills or GENERALIST_SKILL in self.skills
        return skilled and site in self.sites


@dataclass(frozen=True)
class Fixed:
    """A job that must not move: pinned by a dispatcher or already started."""

    technician_id: int
    start: datetime


@dataclass(frozen=True)
class Job:
    """An open work order to place.

    ``release`` is the earliest start: now, or the date its parts are available if later.
    ``latest_safe_start`` comes from the prediction (the failure expected at alert time + RUL, minus
    the repair's duration and a safety margin); None when the work order has no prediction.
    ``priority`` 1 is the most urgent (P1).
    """

    work_order_id: int
    site: str
    failure_mode: str
    priority: int
    duration_min: int
    release: datetime
    due_by: datetime
    latest_safe_start: datetime | None = None
    fixed: Fixed | None = None


@dataclass(frozen=True)
class Problem:
    """Everything a solver needs; ``travel_min[(a, b)]`` is the drive from site a to site b (0 for
    a == b; a missing pair means the sites are not connected)."""

    now: datetime
    horizon_end: datetime
    technicians: tuple[Technician, ...]
    jobs: tuple[Job, ...]
    travel_min: Mapping[tuple[str, str], int] = field(default_factory=dict)
    max_overtime_min: int = 0  # how far past a shift's end a job may run (paid as overtime)

    def travel(self, a: str, b: str) -> int | None:
        """Minutes from site ``a`` to ``b``; None when not connected."""
        if a == b:
            return 0
        return self.travel_min.get((a, b), self.travel_min.get((b, a)))


@dataclass(frozen=True)
class Assignment:
    """One job placed: who, when, and the travel to reach it from the previous place."""

    work_order_id: int
    technician_id: int
    start: datetime
    end: datetime
    travel_min: int  # from the technician's previous job site, or home at the start of a shift
    overtime_min: int  # minutes of the job past the shift's end
    before_latest_safe_start: bool | None  # None when the job has no prediction
    before_due: bool


@dataclass(frozen=True)
class Unplaced:
    """A job no technician could take in the horizon, and why (e.g. ``no_qualified_technician``)."""

    work_order_id: int
    reason: str


@dataclass(frozen=True)
class Plan:
    """A solver's answer with the figures it is judged by."""

    assignments: tuple[Assignment, ...]
    unplaced: tuple[Unplaced, ...]
    status: str  # e.g. OPTIMAL, FEASIBLE, GREEDY
    solve_s: float
    objective: Mapping[str, float] = field(default_factory=dict)  # the terms, for reports

    @property
    def placed(self) -> int:
        """How many jobs got a technician and a start."""
        return len(self.assignments)
