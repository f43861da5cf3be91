"""The ``alert`` contract: an alert's codes, its record, and the ``alerts`` topic message, each written once.

Produced by the alert engine and read by the work-order service, the API, the InfluxDB points and the
dashboards. The alert's fields are written once, in :class:`AlertRecord`; the shapes that carry an
alert derive from it:

- :class:`AlertEvent` (Kafka ``alerts``, key = asset id) is the record plus the change that produced it,
  flat on the wire;
- the API's ``AlertOut`` is the record read from a stored row;
- the engine's ``Alert`` is the record plus what only the rules need (``last_notified_at``);
- the store's ``AlertRow`` is checked against the record by a unit test.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

ALERT_SCHEMA_VERSION = 1


class Severity(StrEnum):
    """Alert severities, most severe first."""

    CRITICAL = "CRITICAL"
    MAJOR = "MAJOR"
    MINOR = "MINOR"
    WARNING = "WARNING"

    @property
    def rank(self) -> int:
        """0 for CRITICAL up to 3 for WARNING (lower is more severe)."""
        return list(Severity).index(self)


class AlertState(StrEnum):
    """Where an alert is in its life."""

    ACTIVE = "ACTIVE"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    SNOOZED = "SNOOZED"
    CLEARED = "CLEARED"


class AlertKind(StrEnum):
    """What raised the alert."""

    RISK = "risk"
    STALE = "stale"


class ChangeKind(StrEnum):
    """What happened to an alert; every change is published on the ``alerts`` topic."""

    RAISED = "raised"
    UPDATED = "updated"
    SEVERITY_CHANGED = "severity_changed"
    ACKNOWLEDGED = "acknowledged"
    SNOOZED = "snoozed"
    UNSNOOZED = "unsnoozed"
    ESCALATED = "escalated"
    CLEARED = "cleared"


class AlertRecord(BaseModel):
    """One alert as it is: every field an operator or a consumer of the ``alerts`` topic sees.

    At most one alert is open per (asset, failure mode). ``first_seen``/``last_seen`` are event time
    (the readings'); ``raised_at``, ``acknowledged_at`` and ``cleared_at`` are processing time.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    alert_id: str
    asset_id: str
    site: str
    failure_mode: str
    kind: AlertKind
    severity: Severity
    state: AlertState
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    occurrence_count: int
    trigger_risk: float | None
    trigger_rul_cycles: float | None
    model_name: str | None
    model_version: str | None
    raised_at: AwareDatetime
    escalation_tier: int = 0
    acknowledged_by: str | None = None
    ack_comment: str | None = None
    acknowledged_at: AwareDatetime | None = None
    snoozed_until: AwareDatetime | None = None
    cleared_at: AwareDatetime | None = None
    work_order_id: int | None = None


class AlertEvent(AlertRecord):
    """One ``alerts`` message: the alert as it is after ``change``, flat (the record's fields + the change's).

    Backward compatible with the messages published before the record was shared: every earlier field
    keeps its name, type and meaning; ``raised_at``, ``ack_comment``, ``acknowledged_at`` and
    ``cleared_at`` were added.
    """

    model_config = ConfigDict(populate_by_name=True)

    schema_version: Literal[1] = Field(default=1, alias="schema")
    change: ChangeKind
    change_ts: AwareDatetime
    tier: str | None = None  # for ESCALATED and UNSNOOZED: the tier notified
    detail: str = ""

    def encode(self) -> bytes:
        """The canonical JSON encoding (what the engine puts on the ``alerts`` topic)."""
        return orjson.dumps(self.model_dump(mode="json", by_alias=True))


def alert_event(
    record: AlertRecord, change: ChangeKind, at: datetime, tier: str | None = None, detail: str = ""
) -> AlertEvent:
    """The ``alerts`` message of one change of ``record`` (a subclass's own fields are left out)."""
    fields = record.model_dump(include=set(AlertRecord.model_fields))
    return AlertEvent(**fields, change=change, change_ts=at, tier=tier, detail=detail)


def decode_alert_event(raw: bytes) -> AlertEvent:
    """Parse one ``alerts`` message (raises pydantic's ValidationError on a bad one)."""
    return AlertEvent.model_validate_json(raw)
