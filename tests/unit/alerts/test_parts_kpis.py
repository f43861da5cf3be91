"""The parts KPIs as a pure function: fill rate at the first scheduling, delays by parts."""

from __future__ import annotations

import pytest

from alerts.planning.parts_kpis import OrderPartsFacts, parts_kpis
from tests.unit.alerts.helpers import at


def test_fill_rate_counts_kit_lines_at_the_first_attempt() -> None:
    facts = [
        OrderPartsFacts(1, kit_lines=2, short_at_first_schedule=0),  # straight to scheduled
        OrderPartsFacts(2, kit_lines=3, short_at_first_schedule=1, waiting=((at(0), at(7200)),)),
        OrderPartsFacts(3, kit_lines=1, short_at_first_schedule=None),  # never scheduled: not counted
    ]
    k = parts_kpis(facts, at(10_000))
    assert (k.kit_lines_scheduled, k.kit_lines_filled) == (5, 4)
    assert k.fill_rate == pytest.approx(0.8)
    assert (k.delayed_by_parts, k.still_waiting) == (1, 0)
    assert k.hours_waiting_for_parts == pytest.approx(2.0)


def test_an_order_still_waiting_counts_up_to_now() -> None:
    facts = [
        OrderPartsFacts(1, 1, 1, waiting=((at(0), at(3600)), (at(7200), None))),
        OrderPartsFacts(2, 1, 1, waiting=((at(0), at(3600)),)),
    ]
    k = parts_kpis(facts, at(4 * 3600))
    assert (k.delayed_by_parts, k.still_waiting) == (2, 1)
    assert k.hours_waiting_for_parts == pytest.approx(1 + 2 + 1)
    assert k.mean_hours_waiting == pytest.approx(2.0)
    assert k.fill_rate == 0.0


def test_nothing_scheduled_has_no_fill_rate() -> None:
    k = parts_kpis([], at(0))
    assert (k.fill_rate, k.delayed_by_parts, k.mean_hours_waiting) == (None, 0, None)
