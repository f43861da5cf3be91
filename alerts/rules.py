"""The alert rules as pure functions: (state, input, now, rules) -> (new state, changes).

``evaluate`` takes one risk record; ``tick`` is called periodically for what only the passing of
time can cause (stale assets, snoozes waking up, escalation). Neither does I/O nor reads a clock.

Hysteresis: an alert opens when risk stays >= ``open_threshold`` for ``persistence_s`` (event time),
or in M of the last N readings, or when RUL <= ``rul_limit_cycles``; it clears only after risk has
stayed <= ``clear_threshold`` for ``clear_s``. Readings between the two thresholds keep an open alert
open, so a score flapping around the open threshold raises once and counts occurrences.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from alerts.config import RuleConfig
from alerts.state import STALE_FAILURE_MODE, Alert, AlertChange, Track, alert_id_for
from forewarn.contracts.alert import AlertKind, AlertState, ChangeKind, Severity
from forewarn.contracts.risk import RiskRecord

Key = tuple[str, str]


@dataclass(frozen=True)
class EngineState:
    """Tracks and open alerts, keyed by (asset, failure mode). Treated as immutable."""

    tracks: Mapping[Key, Track] = field(default_factory=dict)
    alerts: Mapping[Key, Alert] = field(default_factory=dict)

    def with_track(self, track: Track) -> EngineState:
        """A copy with ``track`` stored."""
        return EngineState({**self.tracks, track.key: track}, self.alerts)

    def with_alert(self, alert: Alert) -> EngineState:
        """A copy with ``alert`` stored if open, or removed from the open set if cleared."""
        alerts = dict(self.alerts)
        if alert.is_open:
            alerts[alert.key] = alert
        else:
            alerts.pop(alert.key, None)
        return EngineState(self.tracks, alerts)


class IgnoreReason(StrEnum):
    """Why a record changed nothing (it is still counted, never silently lost)."""

    DUPLICATE = "duplicate"  # same event time as the last evaluated reading of this key
    OUT_OF_ORDER = "out_of_order"  # older than the last evaluated reading of this key


@dataclass(frozen=True)
class Evaluation:
    """The result of evaluating one record."""

    state: EngineState
    changes: tuple[AlertChange, ...] = ()
    ignored: IgnoreReason | None = None
    key: Key | None = None  # the (asset, failure mode) the record was evaluated under


def severity_for(risk: float | None, rul_cycles: float | None, rules: RuleConfig) -> Severity:
    """The first (most severe) band matched by risk or RUL; WARNING if none matches."""
    for band in rules.severity_bands:
        if risk is not None and risk >= band.min_risk:
            return band.severity
        if band.max_rul_cycles is not None and rul_cycles is not None and rul_cycles <= band.max_rul_cycles:
            return band.severity
    return Severity.WARNING


def _elapsed_s(since: datetime | None, until: datetime) -> float:
    return -1.0 if since is None else (until - since).total_seconds()


def _advance_track(track: Track, record: RiskRecord, now: datetime, rules: RuleConfig) -> Track:
    above = record.risk >= rules.open_threshold
    below_clear = record.risk <= rules.clear_threshold
    n = rules.m_of_n.n if rules.m_of_n else 1
    # built field by field: ``dataclasses.replace`` costs three times as much, once per record
    return Track(
        track.asset_id,
        track.failure_mode,
        record.site,
        last_event_ts=record.event_ts,
        last_seen_at=now,
        above_since=(track.above_since or record.event_ts) if above else None,
        below_clear_since=(track.below_clear_since or record.event_ts) if below_clear else None,
        window=(*track.window, above)[-n:],
        was_above=above,
        cooldown_until=track.cooldown_until,
    )


def _should_raise(track: Track, record: RiskRecord, rules: RuleConfig) -> bool:
    if track.cooldown_until is not None and record.event_ts < track.cooldown_until:
        return False
    persisted = track.above_since is not None and (
        _elapsed_s(track.above_since, record.event_ts) >= rules.persistence_s
    )
    m_of_n = rules.m_of_n is not None and sum(track.window) >= rules.m_of_n.m
    return persisted or m_of_n or _rul_hit(record, rules)


def _rul_hit(record: RiskRecord, rules: RuleConfig) -> bool:
    return (
        rules.rul_limit_cycles is not None
        and record.rul_cycles is not None
        and record.rul_cycles <= rules.rul_limit_cycles
    )


def _new_alert(track: Track, record: RiskRecord, now: datetime, rules: RuleConfig) -> Alert:
    first_seen = track.above_since or record.event_ts
    return Alert(
        alert_id=alert_id_for(record.asset_id, record.failure_mode, first_seen),
        asset_id=record.asset_id,
        site=record.site,
        failure_mode=record.failure_mode,
        kind=AlertKind.RISK,
        severity=severity_for(record.risk, record.rul_cycles, rules),
        state=AlertState.ACTIVE,
        first_seen=first_seen,
        last_seen=record.event_ts,
        occurrence_count=1,
        trigger_risk=record.risk,
        trigger_rul_cycles=record.rul_cycles,
        model_name=record.model_name,
        model_version=record.model_version,
        raised_at=now,
        last_notified_at=now,
    )


def _clear(alert: Alert, now: datetime, detail: str) -> AlertChange:
    cleared = alert.model_copy(update={"state": AlertState.CLEARED, "cleared_at": now, "snoozed_until": None})
    return AlertChange(ChangeKind.CLEARED, cleared, now, detail=detail)


def evaluate(state: EngineState, record: RiskRecord, now: datetime, rules: RuleConfig) -> Evaluation:
    """Apply one risk record to the state.

    Args:
        state: tracks and open alerts before the record.
        record: the risk record.
        now: processing time (the injected clock), recorded for staleness and escalation.
        rules: the rule configuration.

    Returns:
        The new state and every alert change the record caused, or the reason it was ignored
        (duplicate or older than what this key already evaluated: at-least-once delivery and
        replays must not count a reading twice).
    """
    if rules.one_alert_per_asset:
        record = _to_open_alert(state, record)
    key = (record.asset_id, record.failure_mode)
    before = state.tracks.get(key) or Track(record.asset_id, record.failure_mode, record.site)
    if before.last_event_ts is not None and record.event_ts <= before.last_event_ts:
        reason = (
            IgnoreReason.DUPLICATE if record.event_ts == before.last_event_ts else IgnoreReason.OUT_OF_ORDER
        )
        return Evaluation(state, ignored=reason, key=key)

    track = _advance_track(before, record, now, rules)
    changes: list[AlertChange] = []
    alert = state.alerts.get(key)
    hit = record.risk >= rules.open_threshold or _rul_hit(record, rules)

    if alert is None:
        if _should_raise(track, record, rules):
            alert = _new_alert(track, record, now, rules)
            changes.append(AlertChange(ChangeKind.RAISED, alert, now))
    else:
        if hit:
            crossing = record.risk >= rules.open_threshold and not before.was_above
            severity = severity_for(record.risk, record.rul_cycles, rules)
            upgraded = severity.rank < alert.severity.rank
            alert = alert.model_copy(
                update={
                    "last_seen": record.event_ts,
                    "occurrence_count": alert.occurrence_count + (1 if crossing else 0),
                    "severity": severity if upgraded else alert.severity,
                    "trigger_risk": record.risk if upgraded else alert.trigger_risk,
                    "trigger_rul_cycles": record.rul_cycles if upgraded else alert.trigger_rul_cycles,
                    "model_version": record.model_version,
                }
            )
            if upgraded:
                changes.append(AlertChange(ChangeKind.SEVERITY_CHANGED, alert, now))
            elif crossing:
                changes.append(AlertChange(ChangeKind.UPDATED, alert, now, detail="risk crossed again"))
        elif _elapsed_s(track.below_clear_since, record.event_ts) >= rules.clear_s:
            change = _clear(alert, now, f"risk <= {rules.clear_threshold} for {rules.clear_s:g} s")
            changes.append(change)
            alert = change.alert
            track = replace(
                track,
                cooldown_until=record.event_ts + timedelta(seconds=rules.cooldown_s),
                window=(),
                above_since=None,
            )

    new_state = state.with_track(track)
    if alert is not None:
        new_state = new_state.with_alert(alert)
    stale = new_state.alerts.get((record.asset_id, STALE_FAILURE_MODE))
    if stale is not None:
        change = _clear(stale, now, "asset reports again")
        changes.append(change)
        new_state = new_state.with_alert(change.alert)
    return Evaluation(new_state, tuple(changes), key=key)


def _to_open_alert(state: EngineState, record: RiskRecord) -> RiskRecord:
    """The record under the failure mode of its asset's open risk alert, if another one is open."""
    for (asset, mode), alert in state.alerts.items():
        if (
            asset == record.asset_id
            and mode != record.failure_mode
            and alert.kind is AlertKind.RISK
            and alert.state is not AlertState.CLEARED
        ):
            return record.model_copy(update={"failure_mode": mode})
    return record


def _escalate(alert: Alert, now: datetime, rules: RuleConfig) -> AlertChange | None:
    if alert.state is AlertState.SNOOZED and alert.snoozed_until is not None and now >= alert.snoozed_until:
        woke = alert.model_copy(
            update={"state": AlertState.ACTIVE, "snoozed_until": None, "last_notified_at": now}
        )
        return AlertChange(ChangeKind.UNSNOOZED, woke, now, tier=rules.tiers[woke.escalation_tier].name)
    if alert.state is not AlertState.ACTIVE:
        return None
    last_tier = len(rules.tiers) - 1
    wait_s = rules.repeat_s if alert.escalation_tier >= last_tier else rules.ack_timeout_s
    if _elapsed_s(alert.last_notified_at, now) < wait_s:
        return None
    tier = min(alert.escalation_tier + 1, last_tier)
    escalated = alert.model_copy(update={"escalation_tier": tier, "last_notified_at": now})
    return AlertChange(ChangeKind.ESCALATED, escalated, now, tier=rules.tiers[tier].name)


def _stale_alert(asset_id: str, site: str, last_seen: datetime, now: datetime, rules: RuleConfig) -> Alert:
    return Alert(
        alert_id=alert_id_for(asset_id, STALE_FAILURE_MODE, last_seen),
        asset_id=asset_id,
        site=site,
        failure_mode=STALE_FAILURE_MODE,
        kind=AlertKind.STALE,
        severity=rules.stale_severity,
        state=AlertState.ACTIVE,
        first_seen=last_seen,
        last_seen=last_seen,
        occurrence_count=1,
        trigger_risk=None,
        trigger_rul_cycles=None,
        model_name=None,
        model_version=None,
        raised_at=now,
        last_notified_at=now,
    )


def tick(state: EngineState, now: datetime, rules: RuleConfig) -> tuple[EngineState, tuple[AlertChange, ...]]:
    """Apply the passing of time: wake snoozed alerts, escalate unacknowledged ones, flag silent assets.

    Escalation: an ACTIVE alert not acknowledged ``ack_timeout_s`` after its last notification goes
    to the next tier; at the last tier it is re-notified every ``repeat_s``.
    """
    changes: list[AlertChange] = []
    for alert in list(state.alerts.values()):
        change = _escalate(alert, now, rules)
        if change is not None:
            changes.append(change)
            state = state.with_alert(change.alert)

    if rules.stale_after_s is not None:
        last_seen: dict[str, tuple[datetime, str]] = {}
        for track in state.tracks.values():
            if track.last_seen_at is None:
                continue
            seen = last_seen.get(track.asset_id)
            if seen is None or track.last_seen_at > seen[0]:
                last_seen[track.asset_id] = (track.last_seen_at, track.site)
        for asset_id, (seen_at, site) in sorted(last_seen.items()):
            if (asset_id, STALE_FAILURE_MODE) in state.alerts:
                continue
            if _elapsed_s(seen_at, now) >= rules.stale_after_s:
                alert = _stale_alert(asset_id, site, seen_at, now, rules)
                changes.append(AlertChange(ChangeKind.RAISED, alert, now, detail="asset stopped reporting"))
                state = state.with_alert(alert)
    return state, tuple(changes)
