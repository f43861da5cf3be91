"""Request and response bodies of the parts movements and policies (``/parts/…``, issue #17).

The CLI validates its options with the same request models, so both refuse the same input.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from alerts.api.schemas import Code, Id, Name
from alerts.workorders.part_policy import MAX_LEAD_TIME_DAYS
from alerts.workorders.stock import MovementKind

if TYPE_CHECKING:
    from alerts.workorders.inventory import Moved

Quantity = Annotated[int, Field(gt=0, le=10_000_000, description="How many parts (a positive whole number).")]
Note = Annotated[str | None, Field(max_length=10_000, pattern=r"^[^\x00]*$")]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ReceiptIn(_In):
    """A delivery of a known part at a site."""

    sku: Code
    site: Name
    quantity: Quantity
    note: Note = None


class IssueIn(ReceiptIn):
    """Free parts handed to a work order at its site."""

    work_order_id: Id


class ReturnIn(IssueIn):
    """Unused parts back from a work order (at most what it was issued)."""


class TransferIn(_In):
    """Free parts from one site to another."""

    sku: Code
    from_site: Name
    to_site: Name
    quantity: Quantity
    note: Note = None

    @model_validator(mode="after")
    def _two_sites(self) -> TransferIn:
        if self.from_site == self.to_site:
            raise ValueError("from_site and to_site must differ")
        return self


class AdjustmentIn(_In):
    """A stock take: what was counted, and why the books are corrected."""

    sku: Code
    site: Name
    counted: Annotated[int, Field(ge=0, le=10_000_000)]
    reason: Annotated[str, Field(min_length=1, max_length=10_000, pattern=r"^[^\x00]*\S[^\x00]*$")]


class PolicyIn(_In):
    """The replenishment policy of a part at a site."""

    sku: Code
    site: Name
    lead_time_days: Annotated[float, Field(ge=0, le=MAX_LEAD_TIME_DAYS, allow_inf_nan=False)]
    reorder_point: Annotated[int, Field(ge=0, le=10_000_000)]
    reorder_qty: Annotated[int | None, Field(gt=0, le=10_000_000)] = None


class PolicyOut(BaseModel):
    """A part's policy at a site."""

    model_config = ConfigDict(from_attributes=True)

    sku: str
    site: str
    lead_time_days: float
    reorder_point: int
    reorder_qty: int | None


class MovementOut(BaseModel):
    """One movement (``quantity`` is its signed effect on on hand or reserved, by ``kind``)."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    sku: str
    site: str
    kind: MovementKind
    quantity: int
    work_order_id: int | None
    transfer_id: str | None
    actor: str
    at: datetime
    note: str | None


class BalanceOut(BaseModel):
    """A part's stock at a site after a movement."""

    model_config = ConfigDict(from_attributes=True)

    sku: str
    site: str
    on_hand: int
    reserved: int


class MovedOut(BaseModel):
    """What a stock operation wrote, the stock after it, and the waiting work orders it released."""

    movements: list[MovementOut]
    stock: list[BalanceOut]
    released_work_orders: list[int]


class PartsKpisOut(BaseModel):
    """Parts fill rate and work orders delayed by parts (``alerts.planning.parts_kpis``)."""

    model_config = ConfigDict(from_attributes=True)

    kit_lines_scheduled: int
    kit_lines_filled: int
    fill_rate: float | None
    delayed_by_parts: int
    still_waiting: int
    hours_waiting_for_parts: float
    mean_hours_waiting: float | None


def moved_out(moved: Moved) -> MovedOut:
    """The response of a stock operation (API and ``forewarn parts … --json`` alike)."""
    return MovedOut(
        movements=[MovementOut.model_validate(m) for m in moved.movements],
        stock=[BalanceOut.model_validate(b) for b in moved.balances],
        released_work_orders=list(moved.released),
    )
