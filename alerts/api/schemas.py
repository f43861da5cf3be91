"""Request and response bodies of the REST API (pydantic; unknown request fields are an error).

No request body says who acts: the actor is the authenticated user (``Principal.actor``), so a
``by`` field is refused like any unknown field.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Generic, TypeVar

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    computed_field,
    model_validator,
)

from forewarn.contracts.alert import AlertRecord, Severity
from forewarn.contracts.work_order import Priority, WorkOrderStatus

T = TypeVar("T")
_NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL; refuse it up front, on every backend
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=_NO_NUL)]
Code = Annotated[str, Field(min_length=1, max_length=100, pattern=_NO_NUL)]
Text = Annotated[str, Field(max_length=10_000, pattern=_NO_NUL)]
Id = Annotated[int, Field(ge=1, le=2_147_483_647)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(BaseModel, Generic[T]):
    """One page of a list, with the total matching the filters."""

    items: list[T]
    total: int
    limit: int
    offset: int


class Problem(BaseModel):
    """An error: a reason code and what to do about it."""

    code: str
    detail: str


class AlertOut(AlertRecord):
    """An alert as stored: the contract's record, read from the store's row."""

    model_config = ConfigDict(from_attributes=True)


class AckIn(_In):
    """Acknowledge an alert."""

    comment: Text = ""


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank: say why (who is on it, what is awaited)")
    return value


class SnoozeIn(_In):
    """Snooze an alert until a time; the reason goes with the published change."""

    until: AwareDatetime  # at most the severity's maximum from now (FOREWARN_API_MAX_SNOOZE_H)
    reason: Annotated[Text, Field(min_length=1), AfterValidator(_not_blank)]  # a snooze says why


class WorkOrderIn(_In):
    """Open a work order from an alert (``alert_id``) or by hand (asset, site, failure mode, severity)."""

    alert_id: Name | None = None
    asset_id: Name | None = None
    site: Name | None = None
    failure_mode: Name | None = None
    severity: Severity | None = None

    @model_validator(mode="after")
    def _one_source(self) -> WorkOrderIn:
        manual = (self.asset_id, self.site, self.failure_mode, self.severity)
        if self.alert_id is None and any(v is None for v in manual):
            raise ValueError("give alert_id, or asset_id, site, failure_mode and severity")
        if self.alert_id is not None and any(v is not None for v in manual):
            raise ValueError("give alert_id alone: the alert names asset, site, failure mode and severity")
        return self


class PartLineOut(_Out):
    """A part line of a work order."""

    sku: str
    quantity: int
    reserved_qty: int
    used_qty: int


class WorkOrderOut(_Out):
    """A work order."""

    id: int
    asset_id: str
    site: str
    failure_mode: str
    status: WorkOrderStatus
    severity: Severity
    priority: Priority
    due_by: datetime
    source_alert_id: str | None
    model_name: str | None
    model_version: str | None
    technician_id: int | None
    created_by: str
    created_at: datetime
    updated_at: datetime
    on_site_at: datetime | None
    completed_at: datetime | None
    closed_at: datetime | None
    fault_found: bool | None
    failure_code: str | None
    failed_at: datetime | None = None  # when the fault happened, as the crew reported it
    notes: str | None
    time_on_site_min: float | None
    scheduled_start: datetime | None = None
    parts: list[PartLineOut] = []

    @computed_field  # type: ignore[prop-decorator]
    @property
    def report_url(self) -> str:
        """The page of the asset's sensors, risk and RUL around this work order (HTML; ``?format=png``)."""
        return f"/work-orders/{self.id}/report"


class ScheduleIn(_In):
    """Schedule: with this technician, else the assigned one, else the best suggestion."""

    technician_id: Id | None = None
    start_at: AwareDatetime | None = None  # the planned start; not in the past


class AssignIn(_In):
    """Assign a technician."""

    technician_id: Id


class CompleteIn(_In):
    """The outcome of the visit."""

    fault_found: bool
    failure_code: Code | None = None
    notes: Text = ""
    parts_used: dict[Code, Annotated[int, Field(gt=0, le=10_000)]] = {}
    time_on_site_min: Annotated[float, Field(ge=0, le=100_000)] | None = None
    # when the fault happened, if the crew can tell (a found fault only; not after the completion, not
    # long before the order: alerts.workorders.service.failure_time); the label's time, else on site
    failed_at: AwareDatetime | None = None


class CancelIn(_In):
    """Cancel with a reason."""

    reason: Annotated[str, Field(min_length=1, max_length=2000, pattern=_NO_NUL)]


class AuditOut(_Out):
    """One audit entry."""

    entity: str
    entity_id: str
    action: str
    actor: str
    at: datetime
    before: dict[str, object] | None
    after: dict[str, object] | None


class TechnicianIn(_In):
    """Register a technician."""

    name: Name
    skills: list[Code] = Field(min_length=1, max_length=100)
    site: Name
    territory: list[Name] = Field(default=[], max_length=1000)


class TechnicianOut(_Out):
    """A technician with their open load."""

    id: int
    name: str
    skills: list[str]
    site: str
    territory: list[str]
    active: bool
    open_load: int = 0


class SuggestionOut(BaseModel):
    """A ranked technician for a work order."""

    technician_id: int
    name: str
    reasons: list[str]


class StockIn(_In):
    """Set the on-hand count of a part at a site."""

    sku: Code
    site: Name
    on_hand: Annotated[int, Field(ge=0, le=10_000_000)]


class StockOut(_Out):
    """Stock of a part at a site."""

    sku: str
    site: str
    on_hand: int
    reserved: int


class RestockOut(StockOut):
    """Stock after a change, and the waiting work orders it released (most urgent first)."""

    released_work_orders: list[int] = []


class KitIn(_In):
    """The kit a failure mode needs: sku → quantity."""

    parts: dict[Code, Annotated[int, Field(gt=0, le=10_000)]] = Field(min_length=1)


class KitOut(BaseModel):
    """A kit."""

    failure_mode: str
    parts: dict[str, int]
