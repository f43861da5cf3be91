"""Parts inventory as movements: every change of stock is a movement, audited, inside the caller's
transaction.

Stock is the sum of movements (``part_movements``). The balance ``part_stock`` (on hand, reserved)
is kept beside it and changed in the same transaction as each movement: reads stay one row, and
its row lock (``SELECT … FOR UPDATE`` on PostgreSQL; SQLite's ``BEGIN IMMEDIATE`` serialises
writers) is what makes concurrent issues and reservations safe. :func:`balance_from_movements`
recomputes a balance from the history; the two always agree.

Each kind moves one side of the balance by its signed ``quantity``::

    receipt, return, transfer_in   on_hand  +q
    issue, transfer_out            on_hand  -q
    adjust                         on_hand  ±q   (a stock take: counted - on hand)
    reserve                        reserved +q
    unreserve                      reserved -q

Refused (:class:`WorkOrderError` ``INVALID``, nothing written): a quantity that is not positive, an
unknown SKU, on hand going below what is reserved (or below 0), reserving more than is free,
releasing or returning more than the work order holds. **A SKU is known** when it is in a failure
mode's kit, has a policy (``part_policies``) at any site, or has a stock row at any site: kits and
policies are the admin's catalogue, and a stock row is where the store already knew the part.
Only :func:`receive` and :func:`adjust` with ``allow_new_sku`` (the legacy ``set_stock``, which
declares a part at a site) may bring a SKU in.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from alerts.store.tables import PartKitRow, PartMovementRow, PartPolicyRow, PartStockRow
from alerts.workorders import audit
from alerts.workorders.errors import ErrorCode, WorkOrderError


class MovementKind(StrEnum):
    """What a movement does (see the module docstring for its sign and side)."""

    RECEIPT = "receipt"
    ISSUE = "issue"
    RESERVE = "reserve"
    UNRESERVE = "unreserve"
    RETURN = "return"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    ADJUST = "adjust"


K = MovementKind
ON_HAND_KINDS = frozenset({K.RECEIPT, K.ISSUE, K.RETURN, K.TRANSFER_OUT, K.TRANSFER_IN, K.ADJUST})
RESERVED_KINDS = frozenset({K.RESERVE, K.UNRESERVE})
RAISES_FREE = frozenset({K.RECEIPT, K.RETURN, K.TRANSFER_IN, K.UNRESERVE})  # may release waiting orders


@dataclass(frozen=True)
class Balance:
    """A part's stock at a site."""

    sku: str
    site: str
    on_hand: int
    reserved: int

    @property
    def free(self) -> int:
        """What may still be reserved or issued: on hand minus reserved."""
        return self.on_hand - self.reserved


def _invalid(detail: str) -> WorkOrderError:
    return WorkOrderError(ErrorCode.INVALID, detail)


def _positive(qty: int, what: str) -> None:
    if isinstance(qty, bool) or not isinstance(qty, int) or qty <= 0:
        raise _invalid(f"{what}: the quantity must be a positive whole number, got {qty!r}")


def known_sku(session: Session, sku: str) -> bool:
    """In a kit, in a policy, or with stock somewhere (the module docstring says why)."""
    for column in (PartKitRow.sku, PartPolicyRow.sku, PartStockRow.sku):
        if session.scalar(select(column).where(column == sku).limit(1)) is not None:
            return True
    return False


def _require_known(session: Session, sku: str) -> None:
    if not known_sku(session, sku):
        raise _invalid(
            f"unknown SKU {sku!r}: put it in a kit (`PUT /parts/kits/…`) or give it a policy "
            "(`forewarn parts policy set`) first"
        )


def lock(session: Session, sku: str, site: str) -> PartStockRow | None:
    """The balance row, locked for update and read afresh (None when the site never had the part).

    Pending changes are flushed first, so re-reading never loses them; re-reading matters when the
    row was loaded earlier in the transaction without the lock.
    """
    session.flush()
    return session.get(PartStockRow, (sku, site), with_for_update=True, populate_existing=True)


def _lock_or_create(session: Session, sku: str, site: str) -> PartStockRow:
    """The locked balance row, created empty when absent (a racing creator wins; we then lock it)."""
    row = lock(session, sku, site)
    if row is not None:
        return row
    try:
        with session.begin_nested():
            session.add(PartStockRow(sku=sku, site=site, on_hand=0, reserved=0))
            session.flush()
    except IntegrityError:
        pass
    row = lock(session, sku, site)
    assert row is not None  # just created, by us or by the racing transaction
    return row


def balance(session: Session, sku: str, site: str) -> Balance:
    """The current balance (zero when the site never had the part); not locked."""
    row = session.get(PartStockRow, (sku, site))
    return Balance(sku, site, row.on_hand, row.reserved) if row else Balance(sku, site, 0, 0)


def balance_from_movements(session: Session, sku: str, site: str) -> Balance:
    """The balance recomputed from the whole history of movements (what ``part_stock`` must equal)."""

    def total(kinds: frozenset[MovementKind]) -> Any:
        of_kind = PartMovementRow.kind.in_([k.value for k in kinds])
        return func.coalesce(func.sum(case((of_kind, PartMovementRow.quantity))), 0)

    on_hand, reserved = session.execute(
        select(total(ON_HAND_KINDS), total(RESERVED_KINDS)).where(
            PartMovementRow.sku == sku, PartMovementRow.site == site
        )
    ).one()
    return Balance(sku, site, int(on_hand), int(reserved))


def _snap(row: PartStockRow) -> dict[str, object]:
    return {"sku": row.sku, "site": row.site, "on_hand": row.on_hand, "reserved": row.reserved}


def _write(
    session: Session,
    row: PartStockRow,
    kind: MovementKind,
    qty: int,
    *,
    actor: str,
    now: datetime,
    work_order_id: int | None = None,
    transfer_id: str | None = None,
    note: str | None = None,
) -> PartMovementRow:
    """Apply a checked movement to the locked balance row, record it and audit the change."""
    before = _snap(row)
    if kind in ON_HAND_KINDS:
        row.on_hand += qty
    else:
        row.reserved += qty
    if not 0 <= row.reserved <= row.on_hand:  # a guard behind the callers' checks
        raise _invalid(f"{kind.value} of {qty} would leave {row.sku!r} at {row.site!r} inconsistent")
    movement = PartMovementRow(
        sku=row.sku,
        site=row.site,
        kind=kind.value,
        quantity=qty,
        work_order_id=work_order_id,
        transfer_id=transfer_id,
        actor=actor,
        at=now,
        note=note,
    )
    session.add(movement)
    session.flush()
    audit.record(
        session,
        entity="part_stock",
        entity_id=f"{row.sku}@{row.site}",
        action=kind.value,
        actor=actor,
        at=now,
        before=before,
        after=_snap(row) | {"movement_id": movement.id, "quantity": qty, "work_order_id": work_order_id},
    )
    return movement


def _held_by(session: Session, sku: str, site: str, work_order_id: int, kinds: tuple[K, ...]) -> int:
    """Sum of a work order's movements of ``kinds`` for the part at the site."""
    total = session.scalar(
        select(func.coalesce(func.sum(PartMovementRow.quantity), 0)).where(
            PartMovementRow.sku == sku,
            PartMovementRow.site == site,
            PartMovementRow.work_order_id == work_order_id,
            PartMovementRow.kind.in_([k.value for k in kinds]),
        )
    )
    return int(total or 0)


def receive(
    session: Session,
    sku: str,
    site: str,
    qty: int,
    *,
    actor: str,
    now: datetime,
    note: str | None = None,
    allow_new_sku: bool = False,
) -> PartMovementRow:
    """A delivery: ``qty`` more on hand. (Releasing waiting work orders is the caller's:
    ``alerts.workorders.inventory``.)"""
    _positive(qty, "receive")
    if not allow_new_sku:
        _require_known(session, sku)
    row = _lock_or_create(session, sku, site)
    return _write(session, row, K.RECEIPT, qty, actor=actor, now=now, note=note)


def _free_row(session: Session, sku: str, site: str, qty: int, what: str) -> PartStockRow:
    """The locked row when ``qty`` is free at the site, else INVALID saying how much is."""
    _require_known(session, sku)
    row = lock(session, sku, site)
    free = (row.on_hand - row.reserved) if row else 0
    if row is None or free < qty:
        reserved = f" ({row.reserved} of {row.on_hand} on hand reserved)" if row and row.reserved else ""
        raise _invalid(f"site {site!r} has {free} of part {sku!r} free{reserved}; cannot {what} {qty}")
    return row


def issue_to_work_order(
    session: Session,
    sku: str,
    site: str,
    qty: int,
    work_order_id: int,
    *,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> PartMovementRow:
    """``qty`` leave stock for a work order; only free stock (release its reservation first)."""
    _positive(qty, "issue")
    row = _free_row(session, sku, site, qty, "issue")
    return _write(session, row, K.ISSUE, -qty, actor=actor, now=now, work_order_id=work_order_id, note=note)


def reserve(
    session: Session,
    sku: str,
    site: str,
    qty: int,
    work_order_id: int,
    *,
    actor: str,
    now: datetime,
) -> PartMovementRow:
    """Promise ``qty`` of the free stock to a work order; refused beyond what is free."""
    _positive(qty, "reserve")
    row = _free_row(session, sku, site, qty, "reserve")
    return _write(session, row, K.RESERVE, qty, actor=actor, now=now, work_order_id=work_order_id)


def unreserve(
    session: Session,
    sku: str,
    site: str,
    qty: int,
    work_order_id: int,
    *,
    actor: str,
    now: datetime,
) -> PartMovementRow:
    """Give back ``qty`` of a work order's reservation; refused beyond what it holds."""
    _positive(qty, "unreserve")
    row = lock(session, sku, site)
    held = _held_by(session, sku, site, work_order_id, (K.RESERVE, K.UNRESERVE))
    if row is None or held < qty or row.reserved < qty:
        holds = f"work order {work_order_id} holds {held} of {sku!r} at {site!r}"
        raise _invalid(f"{holds}; cannot release {qty}")
    return _write(session, row, K.UNRESERVE, -qty, actor=actor, now=now, work_order_id=work_order_id)


def return_from_work_order(
    session: Session,
    sku: str,
    site: str,
    qty: int,
    work_order_id: int,
    *,
    actor: str,
    now: datetime,
    note: str | None = None,
) -> PartMovementRow:
    """Unused parts come back from a work order; refused beyond what was issued to it and not
    yet returned (at this site)."""
    _positive(qty, "return")
    _require_known(session, sku)
    row = _lock_or_create(session, sku, site)
    out = -_held_by(session, sku, site, work_order_id, (K.ISSUE, K.RETURN))
    if out < qty:
        raise _invalid(
            f"work order {work_order_id} has {out} of {sku!r} from {site!r} not returned; cannot return {qty}"
        )
    return _write(session, row, K.RETURN, qty, actor=actor, now=now, work_order_id=work_order_id, note=note)


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
) -> tuple[PartMovementRow, PartMovementRow]:
    """Move ``qty`` free parts between sites: two movements sharing a ``transfer_id``.

    Both balance rows are locked in (sku, site) order, so two opposite transfers cannot deadlock.
    """
    _positive(qty, "transfer")
    if from_site == to_site:
        raise _invalid(f"a transfer needs two different sites, got {from_site!r} twice")
    _require_known(session, sku)
    for site in sorted((from_site, to_site)):
        if site == to_site:
            _lock_or_create(session, sku, site)
        else:
            lock(session, sku, site)
    source = _free_row(session, sku, from_site, qty, f"transfer to {to_site!r}")
    target = _lock_or_create(session, sku, to_site)
    transfer_id = uuid.uuid4().hex
    leg_out = _write(
        session, source, K.TRANSFER_OUT, -qty, actor=actor, now=now, transfer_id=transfer_id, note=note
    )
    leg_in = _write(
        session, target, K.TRANSFER_IN, qty, actor=actor, now=now, transfer_id=transfer_id, note=note
    )
    return leg_out, leg_in


def adjust(
    session: Session,
    sku: str,
    site: str,
    counted: int,
    *,
    reason: str,
    actor: str,
    now: datetime,
    allow_new_sku: bool = False,
) -> PartMovementRow:
    """A stock take: on hand becomes ``counted``; the movement is the difference (0 when the count
    confirms the books: the count itself is worth recording). Refused below what is reserved."""
    if isinstance(counted, bool) or not isinstance(counted, int) or counted < 0:
        raise _invalid(f"adjust: the counted quantity must be a whole number ≥ 0, got {counted!r}")
    if not reason.strip():
        raise _invalid("adjust: a stock take needs a reason")
    if not allow_new_sku:
        _require_known(session, sku)
    row = _lock_or_create(session, sku, site)
    if counted < row.reserved:
        raise _invalid(f"{row.reserved} of {sku!r} at {site!r} are reserved; on hand cannot be {counted}")
    return _write(session, row, K.ADJUST, counted - row.on_hand, actor=actor, now=now, note=reason)
