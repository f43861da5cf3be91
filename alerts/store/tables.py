"""SQLAlchemy 2 tables of the alert and work-order store.

Times are stored as naive UTC and always come back timezone-aware (``UtcDateTime``), so SQLite and
PostgreSQL behave the same. Two partial unique indexes carry the idempotency guarantees: one open
alert and one open work order per (asset, failure mode), whatever the concurrency.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from forewarn.contracts.alert import AlertState
from forewarn.contracts.work_order import OPEN_STATUSES

_OPEN_WO_SQL = "status IN ({})".format(", ".join(f"'{s.value}'" for s in OPEN_STATUSES))
_OPEN_ALERT_SQL = f"state <> '{AlertState.CLEARED.value}'"


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend (naive UTC in the column)."""

    impl = DateTime
    cache_ok = True

    @property
    def python_type(self) -> type[datetime]:
        """``datetime`` (what the column holds; SQLAlchemy cannot tell for a decorated type)."""
        return datetime

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored: pass a timezone-aware UTC time")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    """Declarative base of the store."""

    type_annotation_map: dict[Any, Any] = {datetime: UtcDateTime, dict[str, Any]: JSON, list[str]: JSON}  # noqa: RUF012


class AlertRow(Base):
    """An alert, open or cleared (history stays)."""

    __tablename__ = "alerts"

    alert_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    asset_id: Mapped[str] = mapped_column(String(200), index=True)
    site: Mapped[str] = mapped_column(String(200))
    failure_mode: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(20))
    severity: Mapped[str] = mapped_column(String(20))
    state: Mapped[str] = mapped_column(String(20), index=True)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    occurrence_count: Mapped[int]
    trigger_risk: Mapped[float | None] = mapped_column(Float)
    trigger_rul_cycles: Mapped[float | None] = mapped_column(Float)
    model_name: Mapped[str | None] = mapped_column(String(200))
    model_version: Mapped[str | None] = mapped_column(String(100))
    raised_at: Mapped[datetime]
    last_notified_at: Mapped[datetime]
    escalation_tier: Mapped[int] = mapped_column(default=0)
    acknowledged_by: Mapped[str | None] = mapped_column(String(200))
    ack_comment: Mapped[str | None] = mapped_column(Text)
    acknowledged_at: Mapped[datetime | None]
    snoozed_until: Mapped[datetime | None]
    cleared_at: Mapped[datetime | None]
    work_order_id: Mapped[int | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        Index(
            "uq_alerts_open_key",
            "asset_id",
            "failure_mode",
            unique=True,
            sqlite_where=text(_OPEN_ALERT_SQL),
            postgresql_where=text(_OPEN_ALERT_SQL),
        ),
    )


class TrackRow(Base):
    """The rule engine's memory of one (asset, failure mode), as JSON."""

    __tablename__ = "engine_tracks"

    asset_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    failure_mode: Mapped[str] = mapped_column(String(100), primary_key=True)
    data: Mapped[dict[str, Any]]


class OutboxRow(Base):
    """An alert change waiting to be published on Kafka ``alerts`` (stored with the change itself)."""

    __tablename__ = "alert_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    alert_id: Mapped[str] = mapped_column(String(36))
    asset_id: Mapped[str] = mapped_column(String(200))
    payload: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]
    published_at: Mapped[datetime | None] = mapped_column(index=True)


class RiskRejectionRow(Base):
    """A ``risk`` message that could not be decoded: kept byte for byte with the reason."""

    __tablename__ = "risk_rejections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    reason: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str] = mapped_column(Text)
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    source: Mapped[str] = mapped_column(String(300))
    received_at: Mapped[datetime]


class LeaseRow(Base):
    """A lease one engine instance holds until ``expires_at`` (processing time), e.g. the tick.

    Taken and renewed with a conditional UPDATE (``alerts.store.lease``), so of several engines on one
    store exactly one runs escalation and stale-asset checks at a time.
    """

    __tablename__ = "engine_leases"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    expires_at: Mapped[datetime]


class InfluxOutboxRow(Base):
    """An InfluxDB point (line protocol) stored with the change it describes, written later.

    ``written_at`` is set once InfluxDB took it; ``error`` once InfluxDB refused it (a bad point is
    kept, not retried forever, and not dropped silently).
    """

    __tablename__ = "influx_outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    line: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]
    written_at: Mapped[datetime | None] = mapped_column(index=True)
    error: Mapped[str | None] = mapped_column(Text)


class TechnicianRow(Base):
    """A field technician: skills (failure modes), home site and the other sites they cover."""

    __tablename__ = "technicians"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    skills: Mapped[list[str]]  # failure modes they repair
    site: Mapped[str] = mapped_column(String(200))  # home site
    territory: Mapped[list[str]]  # further sites they cover
    active: Mapped[bool] = mapped_column(Boolean, default=True)


class WorkOrderRow(Base):
    """A work order, from request to close, with its SLA clock and outcome."""

    __tablename__ = "work_orders"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    asset_id: Mapped[str] = mapped_column(String(200), index=True)
    site: Mapped[str] = mapped_column(String(200), index=True)
    failure_mode: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(20), index=True)
    severity: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str] = mapped_column(String(4))
    due_by: Mapped[datetime]
    source_alert_id: Mapped[str | None] = mapped_column(String(36), unique=True)
    alert_raised_at: Mapped[datetime | None]
    model_name: Mapped[str | None] = mapped_column(String(200))
    model_version: Mapped[str | None] = mapped_column(String(100))
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("technicians.id"))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    on_site_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    fault_found: Mapped[bool | None] = mapped_column(Boolean)
    failure_code: Mapped[str | None] = mapped_column(String(100))
    failed_at: Mapped[datetime | None]  # when the fault happened, if the crew could tell (migration 0007)
    notes: Mapped[str | None] = mapped_column(Text)
    time_on_site_min: Mapped[float | None] = mapped_column(Float)
    version: Mapped[int] = mapped_column(default=1)
    scheduled_start: Mapped[datetime | None]  # the planned start the dispatcher set (migration 0004)
    # Crew planning (migration 0005, alerts.planning.crew_store): what the plan used and decided.
    estimated_duration_min: Mapped[int | None]  # None: the failure mode's repair duration
    parts_available_at: Mapped[datetime | None]  # when the kit is expected at the site (None: now)
    latest_safe_start: Mapped[datetime | None]  # from the prediction at alert time (None: no RUL)
    pinned: Mapped[bool | None] = mapped_column(Boolean)  # True: the planner never moves it
    planned_end: Mapped[datetime | None]  # the planned start + duration (+ overtime) of the plan

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
    __table_args__ = (
        Index(
            "uq_work_orders_open_key",
            "asset_id",
            "failure_mode",
            unique=True,
            sqlite_where=text(_OPEN_WO_SQL),
            postgresql_where=text(_OPEN_WO_SQL),
        ),
    )


class WorkOrderPartRow(Base):
    """A part line of a work order: the kit quantity, what is reserved and what was used."""

    __tablename__ = "work_order_parts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    work_order_id: Mapped[int] = mapped_column(ForeignKey("work_orders.id"), index=True)
    sku: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int]
    reserved_qty: Mapped[int] = mapped_column(default=0)
    used_qty: Mapped[int] = mapped_column(default=0)


class PartStockRow(Base):
    """Stock of one part at one site; ``reserved`` of ``on_hand`` is promised to work orders."""

    __tablename__ = "part_stock"

    sku: Mapped[str] = mapped_column(String(100), primary_key=True)
    site: Mapped[str] = mapped_column(String(200), primary_key=True)
    on_hand: Mapped[int]
    reserved: Mapped[int] = mapped_column(default=0)


class PartKitRow(Base):
    """The parts a repair of one failure mode needs."""

    __tablename__ = "part_kits"

    failure_mode: Mapped[str] = mapped_column(String(100), primary_key=True)
    sku: Mapped[str] = mapped_column(String(100), primary_key=True)
    quantity: Mapped[int]


class AuditRow(Base):
    """Who changed what, when, with the entity before and after."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    __table_args__ = (Index("ix_audit_entity", "entity", "entity_id"),)


class UserRow(Base):
    """A named user of the console and the API, with one role (``alerts.identity.roles.Role``).

    ``password_hash`` is an argon2 hash (never the password); after ``failed_logins`` reaches the
    settings' limit the account is locked until ``locked_until``. A technician user names their
    technician record, which decides the work orders they may start and complete.
    """

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(String(300))
    technician_id: Mapped[int | None] = mapped_column(ForeignKey("technicians.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime]
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]


class ApiTokenRow(Base):
    """A per-user API token for scripts: only its SHA-256 is kept (the token is shown once).

    ``prefix`` (the first characters) lets a person tell their tokens apart in a list.
    """

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    label: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class WebSessionRow(Base):
    """A console login: ``id`` is the SHA-256 of the cookie's value (the value itself is not kept)."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class ShiftRow(Base):
    """One interval of a technician's weekly calendar: every ``weekday`` (0 Monday … 6 Sunday) from
    ``start_min`` to ``end_min`` minutes after midnight, local time in ``timezone`` (IANA, UTC by
    default). A night shift crossing midnight is two rows; a technician's rows of one weekday do not
    overlap (``alerts.planning.crew_admin`` refuses it)."""

    __tablename__ = "technician_shifts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    technician_id: Mapped[int] = mapped_column(ForeignKey("technicians.id"), index=True)
    weekday: Mapped[int]
    start_min: Mapped[int]
    end_min: Mapped[int]
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")


class ShiftExceptionRow(Base):
    """An exception to a technician's calendar: ``unavailable`` (leave, training, sick) or ``extra``
    hours, from ``start`` to ``end`` (UTC), with the reason a dispatcher gave."""

    __tablename__ = "shift_exceptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    technician_id: Mapped[int] = mapped_column(ForeignKey("technicians.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    start: Mapped[datetime]
    end: Mapped[datetime]
    reason: Mapped[str] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]


class TravelTimeRow(Base):
    """The drive between two sites in minutes, either way (stored once, ``site_a`` < ``site_b``)."""

    __tablename__ = "travel_times"

    site_a: Mapped[str] = mapped_column(String(200), primary_key=True)
    site_b: Mapped[str] = mapped_column(String(200), primary_key=True)
    minutes: Mapped[int]


class RepairDurationRow(Base):
    """How long a repair of one failure mode takes on site, in minutes (the planner's estimate)."""

    __tablename__ = "repair_durations"

    failure_mode: Mapped[str] = mapped_column(String(100), primary_key=True)
    minutes: Mapped[int]


class PartMovementRow(Base):
    """One movement of a part at a site (migration 0006): stock is the sum of movements.

    ``quantity`` is the signed effect on the balance (``part_stock``) the kind moves
    (``alerts.workorders.stock.MovementKind``): receipt, return, transfer_in add to ``on_hand``;
    issue and transfer_out take from it (negative); adjust is either sign; reserve adds to ``reserved``,
    unreserve takes from it (negative). The two legs of a transfer share ``transfer_id``. Never updated.
    """

    __tablename__ = "part_movements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sku: Mapped[str] = mapped_column(String(100))
    site: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20))
    quantity: Mapped[int]
    work_order_id: Mapped[int | None] = mapped_column(ForeignKey("work_orders.id"), index=True)
    transfer_id: Mapped[str | None] = mapped_column(String(36), index=True)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (Index("ix_part_movements_sku_site", "sku", "site", "id"),)


class PartPolicyRow(Base):
    """How a part is replenished at a site (migration 0006): supplier lead time and reorder point.

    ``reorder_qty`` None: order up to what the demand plan suggests (no fixed lot size).
    """

    __tablename__ = "part_policies"

    sku: Mapped[str] = mapped_column(String(100), primary_key=True)
    site: Mapped[str] = mapped_column(String(200), primary_key=True)
    lead_time_days: Mapped[float] = mapped_column(Float)
    reorder_point: Mapped[int]
    reorder_qty: Mapped[int | None]
