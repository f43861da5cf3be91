"""The parts KPIs of issue #17, as a pure function over store facts.

* **fill rate**: of the kit lines of the work orders scheduled so far, the share that the site had
  free at the work order's *first* scheduling attempt (a dispatcher trying again later does not
  count: the question is whether the stock was there when the work was planned);
* **work orders delayed by parts**: how many waited in waiting-parts, and for how many hours in all
  (a work order still waiting counts up to ``now``).

The facts come from the store (``alerts.planning.parts_facts``); this module only counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class OrderPartsFacts:
    """One work order's part history.

    ``short_at_first_schedule`` is how many kit lines were short at its first scheduling attempt
    (0 when it went straight to scheduled; None when it was never scheduled). ``waiting`` holds its
    spells in waiting-parts as (from, to), ``to`` None while it still waits.
    """

    work_order_id: int
    kit_lines: int
    short_at_first_schedule: int | None
    waiting: tuple[tuple[datetime, datetime | None], ...] = ()


@dataclass(frozen=True)
class PartsKpis:
    """Fill rate and delays by parts (``fill_rate`` None before any work order was scheduled)."""

    kit_lines_scheduled: int
    kit_lines_filled: int
    fill_rate: float | None
    delayed_by_parts: int
    still_waiting: int
    hours_waiting_for_parts: float
    mean_hours_waiting: float | None


def parts_kpis(facts: Iterable[OrderPartsFacts], now: datetime) -> PartsKpis:
    """The parts KPIs of ``facts`` as of ``now`` (timezone-aware)."""
    lines = filled = delayed = waiting_now = 0
    hours = 0.0
    for order in facts:
        if order.short_at_first_schedule is not None and order.kit_lines > 0:
            lines += order.kit_lines
            filled += order.kit_lines - min(order.short_at_first_schedule, order.kit_lines)
        if order.waiting:
            delayed += 1
            waiting_now += int(any(end is None for _, end in order.waiting))
            seconds = sum(max(((end or now) - start).total_seconds(), 0.0) for start, end in order.waiting)
            hours += seconds / 3600
    return PartsKpis(
        kit_lines_scheduled=lines,
        kit_lines_filled=filled,
        fill_rate=filled / lines if lines else None,
        delayed_by_parts=delayed,
        still_waiting=waiting_now,
        hours_waiting_for_parts=hours,
        mean_hours_waiting=hours / delayed if delayed else None,
    )
