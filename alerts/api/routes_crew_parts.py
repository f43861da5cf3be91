"""``/technicians`` and ``/parts``: the crew and the stock the work orders draw on."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from fastapi import Path as FPath
from sqlalchemy import func, select

from alerts.api.deps import PagingDep, StoreDep, allowed
from alerts.api.schemas import (
    KitIn,
    KitOut,
    Page,
    RestockOut,
    StockIn,
    StockOut,
    TechnicianIn,
    TechnicianOut,
)
from alerts.identity.roles import Action, Principal
from alerts.store.db import transaction
from alerts.store.tables import PartKitRow, PartStockRow, TechnicianRow
from alerts.workorders import service

technicians = APIRouter(prefix="/technicians", tags=["crew"])
parts = APIRouter(prefix="/parts", tags=["parts"])


@technicians.post("", status_code=status.HTTP_201_CREATED)
def add_technician(
    store: StoreDep,
    body: TechnicianIn,
    principal: Annotated[Principal, Depends(allowed(Action.ADD_TECHNICIAN))],
) -> TechnicianOut:
    """Register a technician."""
    with transaction(store.sessions) as session:
        row = service.add_technician(
            session,
            name=body.name,
            skills=body.skills,
            site=body.site,
            territory=body.territory,
            actor=principal.actor,
            now=store.clock.now(),
        )
        return TechnicianOut.model_validate(row)


@technicians.get("")
def list_technicians(
    store: StoreDep, page: PagingDep, site: Annotated[str | None, Query(max_length=200)] = None
) -> Page[TechnicianOut]:
    """Technicians with their current open load, filtered by home site."""
    with transaction(store.sessions) as session:
        loads = {c.technician_id: c.open_load for c in service.candidates(session)}
        q = select(TechnicianRow)
        if site is not None:
            q = q.where(TechnicianRow.site == site)
        total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = session.scalars(q.order_by(TechnicianRow.id).limit(page.limit).offset(page.offset)).all()
        items = [
            TechnicianOut.model_validate(r).model_copy(update={"open_load": loads.get(r.id, 0)}) for r in rows
        ]
        return Page(items=items, total=total, limit=page.limit, offset=page.offset)


@parts.put("/stock")
def set_stock(
    store: StoreDep, body: StockIn, principal: Annotated[Principal, Depends(allowed(Action.SET_STOCK))]
) -> RestockOut:
    """Set the on-hand count of a part at a site; a rise releases the work orders waiting there for it
    whose whole kit is now free, most urgent first (``released_work_orders``)."""
    with transaction(store.sessions) as session:
        restock = service.set_stock(
            session, body.sku, body.site, body.on_hand, actor=principal.actor, now=store.clock.now()
        )
        out = RestockOut.model_validate(restock.stock)
        return out.model_copy(update={"released_work_orders": restock.released})


@parts.get("/stock")
def list_stock(
    store: StoreDep,
    page: PagingDep,
    site: Annotated[str | None, Query(max_length=200)] = None,
    sku: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[StockOut]:
    """Stock per site and part."""
    q = select(PartStockRow)
    if site is not None:
        q = q.where(PartStockRow.site == site)
    if sku is not None:
        q = q.where(PartStockRow.sku == sku)
    with transaction(store.sessions) as session:
        total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
        rows = session.scalars(
            q.order_by(PartStockRow.site, PartStockRow.sku).limit(page.limit).offset(page.offset)
        ).all()
        return Page(
            items=[StockOut.model_validate(r) for r in rows],
            total=total,
            limit=page.limit,
            offset=page.offset,
        )


@parts.put("/kits/{failure_mode}")
def set_kit(
    store: StoreDep,
    failure_mode: Annotated[str, FPath(max_length=100, pattern=r"^[^\x00]*$")],
    body: KitIn,
    principal: Annotated[Principal, Depends(allowed(Action.SET_KIT))],
) -> KitOut:
    """Replace the kit of a failure mode (used by work orders opened from now on)."""
    with transaction(store.sessions) as session:
        rows = service.set_kit(
            session, failure_mode, body.parts, actor=principal.actor, now=store.clock.now()
        )
        return KitOut(failure_mode=failure_mode, parts={r.sku: r.quantity for r in rows})


@parts.get("/kits")
def list_kits(store: StoreDep) -> list[KitOut]:
    """Every kit."""
    with transaction(store.sessions) as session:
        kits: dict[str, dict[str, int]] = {}
        for r in session.scalars(select(PartKitRow).order_by(PartKitRow.failure_mode, PartKitRow.sku)):
            kits.setdefault(r.failure_mode, {})[r.sku] = r.quantity
        return [KitOut(failure_mode=m, parts=p) for m, p in kits.items()]
