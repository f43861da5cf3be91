"""Which waiting work orders a restock releases, as a pure decision.

When stock becomes available at a site, the work orders waiting there for one of those parts are
tried most urgent first: priority (P1 first), then due time, then id (the older order). Reservation
is all or nothing (a work order never holds part of its kit), and the more urgent orders keep their
claim on the parts they need even while they wait:

    in that order, an order is released when, for every part of its remaining kit, the orders up to
    and including it need together no more than the site has free; the others stay waiting.

Per part, the orders whose running total (in urgency order) of that part fits what is free form a
prefix; an order is released when it lies inside that prefix for every part it needs. So a P3 never
takes the bearings a P1 is still short of (else every small delivery would go to whoever needs
least, and the P1 would wait for ever), yet it does take a part no more urgent order needs beyond
what is free. Released orders together never need more than is free, and more free stock never
releases fewer orders.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from forewarn.contracts.work_order import Priority

_RANK = {p: i for i, p in enumerate(Priority)}


@dataclass(frozen=True)
class Waiting:
    """A work order waiting for parts: its urgency and what it still needs to reserve (sku → qty)."""

    work_order_id: int
    priority: Priority
    due_by: datetime
    needs: Mapping[str, int]


def urgency(order: Waiting) -> tuple[int, datetime, int]:
    """The walk order: P1 first, then the earlier due time, then the lower id."""
    return (_RANK[order.priority], order.due_by, order.work_order_id)


def release_plan(waiting: Sequence[Waiting], free: Mapping[str, int]) -> list[int]:
    """The ids of the work orders released by ``free`` stock (sku → on hand - reserved), in walk order.

    Args:
        waiting: the orders to try (any order; they are walked by :func:`urgency`).
        free: what the site has free of each part (a part absent is 0).
    """
    left = dict(free)
    released: list[int] = []
    for order in sorted(waiting, key=urgency):
        needs = {sku: qty for sku, qty in order.needs.items() if qty > 0}
        if all(left.get(sku, 0) >= qty for sku, qty in needs.items()):
            released.append(order.work_order_id)
        for sku, qty in needs.items():  # released: taken; waiting: claimed before any later order
            left[sku] = left.get(sku, 0) - qty
    return released
