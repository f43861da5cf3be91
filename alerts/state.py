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
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from pydantic import AwareDatetime

from forewarn.contracts.alert import AlertEvent, AlertRecord, AlertState, ChangeKind, alert_event

STALE_FAILURE_MODE = "stale"
"""The failure mode of the alert raised when an asset stops reporting."""

_ALERT_NS = uuid.UUID("6f9b3f8e-3f0e-4c6a-9d0e-5a1f0c2b7e41")


class Alert(AlertRecord):
    """One alert as the rules hold it: the contract's record plus what only the rules need.

    Frozen: the rules make a changed copy (``model_copy(update=...)``) for every change.
    """

    last_notified_at: AwareDatetime  # processing time of the last notification, for escalation

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


def event_from_change(change: AlertChange) -> AlertEvent:
    """The ``alerts`` message of one change (the alert's record, without the rules' own fields)."""
    return alert_event(change.alert, change.kind, change.at, change.tier, change.detail)


class ActionError(StrEnum):
    """Why an operator action on an alert was refused."""

    ALREADY_CLEARED = "already_cleared"
    ALREADY_ACKNOWLEDGED = "already_acknowledged"
    SNOOZE_IN_PAST = "snooze_in_past"


def acknowledge(alert: Alert, by: str, comment: str, now: datetime) -> AlertChange | ActionError:
    """Acknowledge an open alert: escalation stops; the alert stays open until the rules clear it.

    A second acknowledgement is refused rather than taking over the first (who owns the alert, and
    their comment, stay as they were; the refusal names them).
    """
    if not alert.is_open:
        return ActionError.ALREADY_CLEARED
    if alert.state is AlertState.ACKNOWLEDGED:
        return ActionError.ALREADY_ACKNOWLEDGED
    after = alert.model_copy(
        update={
            "state": AlertState.ACKNOWLEDGED,
            "acknowledged_by": by,
            "ack_comment": comment,
            "acknowledged_at": now,
            "snoozed_until": None,
        }
    )
    return AlertChange(ChangeKind.ACKNOWLEDGED, after, now, detail=comment)


def snooze(alert: Alert, until: datetime, now: datetime, reason: str = "") -> AlertChange | ActionError:
    """Snooze an open alert until ``until``: no escalation meanwhile; it wakes up ACTIVE.

    The alert keeps no reason field; the reason travels in the change's ``detail`` (published on
    ``alerts`` and kept in the outbox, the alert's history).
    """
    if not alert.is_open:
        return ActionError.ALREADY_CLEARED
    if until <= now:
        return ActionError.SNOOZE_IN_PAST
    after = alert.model_copy(update={"state": AlertState.SNOOZED, "snoozed_until": until})
    detail = f"until {until.isoformat()}" + (f": {reason}" if reason else "")
    return AlertChange(ChangeKind.SNOOZED, after, now, detail=detail)
