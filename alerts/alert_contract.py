"""The ``alerts`` contract (Kafka topic ``alerts``): one change of one alert, versioned.

Key = asset id (keeps an asset's changes in order). Every change is published, from raise to clear,
including operator actions and escalations.
"""

from __future__ import annotations

from typing import Literal

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from alerts.state import AlertChange, AlertState, ChangeKind, Severity

ALERT_SCHEMA_VERSION = 1


class AlertEvent(BaseModel):
    """An alert as it is after ``change``, with what triggered it and its work order."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)

    schema_version: Literal[1] = Field(default=1, alias="schema")
    alert_id: str
    change: ChangeKind
    change_ts: AwareDatetime
    asset_id: str
    site: str
    failure_mode: str
    kind: str
    severity: Severity
    state: AlertState
    first_seen: AwareDatetime
    last_seen: AwareDatetime
    occurrence_count: int
    trigger_risk: float | None
    trigger_rul_cycles: float | None
    model_name: str | None
    model_version: str | None
    work_order_id: int | None
    escalation_tier: int
    tier: str | None = None
    acknowledged_by: str | None = None
    snoozed_until: AwareDatetime | None = None
    detail: str = ""

    def encode(self) -> bytes:
        """Canonical JSON."""
        return orjson.dumps(self.model_dump(mode="json", by_alias=True))


def event_from_change(change: AlertChange) -> AlertEvent:
    """The published form of one alert change."""
    a = change.alert
    return AlertEvent(
        alert_id=a.alert_id,
        change=change.kind,
        change_ts=change.at,
        asset_id=a.asset_id,
        site=a.site,
        failure_mode=a.failure_mode,
        kind=a.kind.value,
        severity=a.severity,
        state=a.state,
        first_seen=a.first_seen,
        last_seen=a.last_seen,
        occurrence_count=a.occurrence_count,
        trigger_risk=a.trigger_risk,
        trigger_rul_cycles=a.trigger_rul_cycles,
        model_name=a.model_name,
        model_version=a.model_version,
        work_order_id=a.work_order_id,
        escalation_tier=a.escalation_tier,
        tier=change.tier,
        acknowledged_by=a.acknowledged_by,
        snoozed_until=a.snoozed_until,
        detail=change.detail,
    )


def decode_alert_event(raw: bytes) -> AlertEvent:
    """Parse one ``alerts`` message (raises pydantic's ValidationError on a bad one)."""
    return AlertEvent.model_validate_json(raw)
