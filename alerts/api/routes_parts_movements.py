"""``/parts/receipts|issues|returns|transfers|adjustments``, ``/parts/movements``, ``/parts/policies``
and ``/parts/kpis``: the parts inventory as movements (issue #17).

Movements need a dispatcher (``Action.MOVE_STOCK``), policies an admin (``Action.SET_PART_POLICY``).
A refused movement (unknown SKU, not enough free stock, more returned than issued…) answers 422
with ``{"code", "detail"}`` and changes nothing: the route's transaction rolls back.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from sqlalchemy import func, select

from alerts.api.deps import PagingDep, StoreDep, allowed
from alerts.api.schemas import Page
from alerts.api.schemas_parts import (
    AdjustmentIn,
    IssueIn,
    MovedOut,
    MovementOut,
    PartsKpisOut,
    PolicyIn,
    PolicyOut,
    ReceiptIn,
    ReturnIn,
    TransferIn,
    moved_out,
)
from alerts.identity.roles import Action, Principal
from alerts.planning.parts_facts import load_facts
from alerts.planning.parts_kpis import parts_kpis
from alerts.store.db import transaction
from alerts.store.tables import PartMovementRow, PartPolicyRow
from alerts.workorders import inventory
from alerts.workorders.part_policy import set_policy
from alerts.workorders.stock import MovementKind

router = APIRouter(prefix="/parts", tags=["parts"])
Mover = Annotated[Principal, Depends(allowed(Action.MOVE_STOCK))]


@router.post("/receipts", status_code=status.HTTP_201_CREATED)
def post_receipt(store: StoreDep, body: ReceiptIn, principal: Mover) -> MovedOut:
    """A delivery of a known part; releases the work orders waiting there whose kit it completes."""
    with transaction(store.sessions) as session:
        moved = inventory.receive(
            session,
            body.sku,
            body.site,
            body.quantity,
            actor=principal.actor,
            now=store.clock.now(),
            note=body.note,
        )
        return moved_out(moved)


@router.post("/issues", status_code=status.HTTP_201_CREATED)
def post_issue(store: StoreDep, body: IssueIn, principal: Mover) -> MovedOut:
    """Free parts handed to a work order at its site (its kit leaves stock at completion)."""
    with transaction(store.sessions) as session:
        moved = inventory.issue(
            session,
            body.sku,
            body.site,
            body.quantity,
            body.work_order_id,
            actor=principal.actor,
            now=store.clock.now(),
            note=body.note,
        )
        return moved_out(moved)


@router.post("/returns", status_code=status.HTTP_201_CREATED)
def post_return(store: StoreDep, body: ReturnIn, principal: Mover) -> MovedOut:
    """Unused parts back from a work order (at most what it was issued); releases waiting orders."""
    with transaction(store.sessions) as session:
        moved = inventory.return_parts(
            session,
            body.sku,
            body.site,
            body.quantity,
            body.work_order_id,
            actor=principal.actor,
            now=store.clock.now(),
            note=body.note,
        )
        return moved_out(moved)


@router.post("/transfers", status_code=status.HTTP_201_CREATED)
def post_transfer(store: StoreDep, body: TransferIn, principal: Mover) -> MovedOut:
    """Free parts from one site to another (two movements, one ``transfer_id``)."""
    with transaction(store.sessions) as session:
        moved = inventory.transfer(
            session,
            body.sku,
            body.from_site,
            body.to_site,
            body.quantity,
            actor=principal.actor,
            now=store.clock.now(),
            note=body.note,
        )
        return moved_out(moved)


@router.post("/adjustments", status_code=status.HTTP_201_CREATED)
def post_adjustment(store: StoreDep, body: AdjustmentIn, principal: Mover) -> MovedOut:
    """A stock take: on hand becomes ``counted`` (never below what is reserved)."""
    with transaction(store.sessions) as session:
        moved = inventory.adjust(
            session,
            body.sku,
            body.site,
            body.counted,
            reason=body.reason,
            actor=principal.actor,
            now=store.clock.now(),
        )
        return moved_out(moved)


@router.get("/movements")
def list_movements(
    store: StoreDep,
    page: PagingDep,
    sku: Annotated[str | None, Query(max_length=100)] = None,
    site: Annotated[str | None, Query(max_length=200)] = None,
    kind: MovementKind | None = None,
    work_order_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> Page[MovementOut]:
    """Movements, newest first, filtered by part, site, kind or work order."""
    q = select(PartMovementRow)
    if sku is not None:
        q = q.where(PartMovementRow.sku == sku)
    if site is not None:
        q = q.where(PartMovementRow.site == site)
    if kind is not None:
        q = q.where(PartMovementRow.kind == kind.value)
    if work_order_id is not None:
        q = q.where(PartMovementRow.work_order_id == work_order_id)
    with transaction(store.sessions) as session:
        total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = session.scalars(
            q.order_by(PartMovementRow.id.desc()).limit(page.limit).offset(page.offset)
        ).all()
        items = [MovementOut.model_validate(r) for r in rows]
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.put("/policies")
def put_policy(
    store: StoreDep, body: PolicyIn, principal: Annotated[Principal, Depends(allowed(Action.SET_PART_POLICY))]
) -> PolicyOut:
    """Set a part's lead time and reorder point at a site (also how a new SKU is introduced)."""
    with transaction(store.sessions) as session:
        row = set_policy(
            session,
            body.sku,
            body.site,
            lead_time_days=body.lead_time_days,
            reorder_point=body.reorder_point,
            reorder_qty=body.reorder_qty,
            actor=principal.actor,
            now=store.clock.now(),
        )
        return PolicyOut.model_validate(row)


@router.get("/policies")
def list_policies(
    store: StoreDep,
    page: PagingDep,
    sku: Annotated[str | None, Query(max_length=100)] = None,
    site: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[PolicyOut]:
    """Policies per site and part."""
    q = select(PartPolicyRow)
    if sku is not None:
        q = q.where(PartPolicyRow.sku == sku)
    if site is not None:
        q = q.where(PartPolicyRow.site == site)
    with transaction(store.sessions) as session:
        total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = session.scalars(
            q.order_by(PartPolicyRow.site, PartPolicyRow.sku).limit(page.limit).offset(page.offset)
        ).all()
        items = [PolicyOut.model_validate(r) for r in rows]
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@router.get("/kpis")
def get_parts_kpis(store: StoreDep) -> PartsKpisOut:
    """Parts fill rate (kit lines free at the first scheduling) and work orders delayed by parts."""
    with transaction(store.sessions) as session:
        facts = load_facts(session)
    return PartsKpisOut.model_validate(parts_kpis(facts, store.clock.now()))
