"""Alert and per-key track state, and the operator actions on an alert (acknowledge, snooze).

Everything here is plain immutable data plus pure functions; the engine and the API persist it.
Two clocks meet here, on purpose:
- *event time* (``RiskRecord.event_ts``) drives persistence, clearing and cooldown, so a replay
  evaluates exactly as the live stream did;
- *processing time* (the injected clock) drives what only the wall can tell: staleness, snoozes and
  escalation.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum

STALE_FAILURE_MODE = "stale"
"""The failure mode of the alert raised when an asset stops reporting."""

_ALERT_NS = uuid.UUID("6f9b3f8e-3f0e-4c6a-9d0e-5a1f0c2b7e41")


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


@dataclass(frozen=True)
class Alert:
    """One alert: at most one is open per (asset, failure mode)."""

    alert_id: str
    asset_id: str
    site: str
    failure_mode: str
    kind: AlertKind
    severity: Severity
    state: AlertState
    first_seen: datetime
    last_seen: datetime
    occurrence_count: int
    trigger_risk: float | None
    trigger_rul_cycles: float | None
    model_name: str | None
    model_version: str | None
    raised_at: datetime
    last_notified_at: datetime
    escalation_tier: int = 0
    acknowledged_by: str | None = None
    ack_comment: str | None = None
    acknowledged_at: datetime | None = None
    snoozed_until: datetime | None = None
    cleared_at: datetime | None = None
    work_order_id: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        """The deduplication key: (asset, failure mode)."""
        return (self.asset_id, self.failure_mode)

    @property
    def is_open(self) -> bool:
        """Not cleared yet."""
        return self.state is not AlertState.CLEARED


def alert_id_for(asset_id: str, failure_mode: str, first_seen: datetime) -> str:
    """A deterministic id, so a replay after a crash names the same alert the same way."""
    return str(uuid.uuid5(_ALERT_NS, f"{asset_id}|{failure_mode}|{first_seen.isoformat()}"))


@dataclass(frozen=True)
class Track:
    """What the rules remember about one (asset, failure mode) between readings."""

    asset_id: str
    failure_mode: str
    site: str
    last_event_ts: datetime | None = None
    last_seen_at: datetime | None = None  # processing time of the last reading, for staleness
    above_since: datetime | None = None  # event time of the first reading of the current run >= open
    below_clear_since: datetime | None = None  # event time of the first reading of the run <= clear
    window: tuple[bool, ...] = field(default_factory=tuple)  # last N readings: was risk >= open?
    was_above: bool = False
    cooldown_until: datetime | None = None  # event time before which no new alert is raised

    @property
    def key(self) -> tuple[str, str]:
        """(asset, failure mode)."""
        return (self.asset_id, self.failure_mode)


@dataclass(frozen=True)
class AlertChange:
    """One change of one alert, with the alert as it is after the change."""

    kind: ChangeKind
    alert: Alert
    at: datetime
    tier: str | None = None  # for ESCALATED: the tier notified
    detail: str = ""


class ActionError(StrEnum):
    """Why an operator action on an alert was refused."""

    ALREADY_CLEARED = "already_cleared"
    SNOOZE_IN_PAST = "snooze_in_past"


def acknowledge(alert: Alert, by: str, comment: str, now: datetime) -> AlertChange | ActionError:
    """Acknowledge an open alert: escalation stops; the alert stays open until the rules clear it."""
    if not alert.is_open:
        return ActionError.ALREADY_CLEARED
    after = replace(
        alert,
        state=AlertState.ACKNOWLEDGED,
        acknowledged_by=by,
        ack_comment=comment,
        acknowledged_at=now,
        snoozed_until=None,
    )
    return AlertChange(ChangeKind.ACKNOWLEDGED, after, now, detail=comment)


def snooze(alert: Alert, until: datetime, now: datetime) -> AlertChange | ActionError:
    """Snooze an open alert until ``until``: no escalation meanwhile; it wakes up ACTIVE."""
    if not alert.is_open:
        return ActionError.ALREADY_CLEARED
    if until <= now:
        return ActionError.SNOOZE_IN_PAST
    after = replace(alert, state=AlertState.SNOOZED, snoozed_until=until)
    return AlertChange(ChangeKind.SNOOZED, after, now, detail=f"until {until.isoformat()}")
