"""The stock operations a person asks for (CLI ``forewarn parts …``, API ``/parts/…``): the movement
(:mod:`alerts.workorders.stock`), then, when it made parts free at a site, the release of the work
orders waiting there for them, most urgent first (:func:`alerts.workorders.service.release_waiting`,
the rule of :mod:`alerts.workorders.release`), all in the caller's transaction.

Apart from ``stock`` because ``service`` itself moves stock through ``stock`` (schedule reserves,
complete issues, cancel releases): this module sits above both.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from alerts.store.tables import PartMovementRow, WorkOrderRow
from alerts.workorders import stock
from alerts.workorders.errors import ErrorCode, WorkOrderError
from alerts.workorders.service import release_waiting
from alerts.workorders.stock import Balance


@dataclass(frozen=True)
class Moved:
    """What an operation wrote, the balances after it, and the work orders it released."""

    movements: Sequence[PartMovementRow]
    balances: Sequence[Balance]
    released: Sequence[int]  # work-order ids, most urgent first


def _done(session: Session, movements: Sequence[PartMovementRow], *, actor: str, now: datetime) -> Moved:
    """Release what the movements made free (per site), and report."""
    released: list[int] = []
    for m in movements:
        if stock.MovementKind(m.kind) in stock.RAISES_FREE or (m.kind == stock.K.ADJUST and m.quantity > 0):
            released += release_waiting(session, m.site, {m.sku}, actor=actor, now=now)
    balances = [stock.balance(session, m.sku, m.site) for m in movements]
    return Moved(movements, balances, released)


def _work_order(session: Session, work_order_id: int, site: str) -> WorkOrderRow:
    row = session.get(WorkOrderRow, work_order_id)
    if row is None:
        raise WorkOrderError(ErrorCode.NOT_FOUND, f"work order {work_order_id} does not exist")
    if row.site != site:
        raise WorkOrderError(
            ErrorCode.INVALID, f"work order {work_order_id} is at site {row.site!r}, not {site!r}"
        )
    return row


def receive(
    session: Session, sku: str, site: str, qty: int, *, actor: str, now: datetime, note: str | None = None
) -> Moved:
    """A delivery of a known SKU; releases the work orders it completes the kit of."""
    movement = stock.receive(session, sku, site, qty, actor=actor, now=now, note=note)
    return _done(session, [movement], actor=actor, now=now)


def issue(
    session: Session,
    sku: str,
    site: str,
    qty: int,
    work_order_id: int,
    *,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> Moved:
    """Hand free parts to a work order at its site (beyond its kit: the kit leaves at completion)."""
    _work_order(session, work_order_id, site)
    movement = stock.issue_to_work_order(
        session, sku, site, qty, work_order_id, actor=actor, now=now, note=note
    )
    return _done(session, [movement], actor=actor, now=now)


def return_parts(
    session: Session,
    sku: str,
    site: str,
    qty: int,
    work_order_id: int,
    *,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> Moved:
    """Unused parts back from a work order (at most what it was issued); releases waiting orders."""
    _work_order(session, work_order_id, site)
    movement = stock.return_from_work_order(
        session, sku, site, qty, work_order_id, actor=actor, now=now, note=note
    )
    return _done(session, [movement], actor=actor, now=now)


def transfer(
    session: Session,
    sku: str,
    from_site: str,
    to_site: str,
    qty: int,
    *,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> Moved:
    """Free parts from one site to another; releases the work orders waiting at the destination."""
    legs = stock.transfer(session, sku, from_site, to_site, qty, actor=actor, now=now, note=note)
    return _done(session, list(legs), actor=actor, now=now)


def adjust(
    session: Session, sku: str, site: str, counted: int, *, reason: str, actor: str, now: datetime
) -> Moved:
    """A stock take; a count above the books releases waiting work orders like a receipt."""
    movement = stock.adjust(session, sku, site, counted, reason=reason, actor=actor, now=now)
    return _done(session, [movement], actor=actor, now=now)
