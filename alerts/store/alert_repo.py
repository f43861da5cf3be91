"""Alerts, rule tracks and the outbox in the store: the engine's state survives restarts here.

The store is the source of truth for alerts (operators acknowledge and snooze through the API while
the engine evaluates); each alert change is written together with an outbox row, in the same
transaction, and published to Kafka from the outbox afterwards.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import fields
from datetime import datetime
from enum import Enum, StrEnum
from typing import Any, cast

from pydantic import AwareDatetime, BaseModel
from sqlalchemy import Select, Table, bindparam, case, insert, select, update
from sqlalchemy.orm import Session

from alerts.rules import EngineState, Key
from alerts.state import Alert, AlertChange, Track, event_from_change
from alerts.store.tables import AlertRow, AuditRow, OutboxRow, TrackRow
from forewarn.contracts.alert import AlertState, ChangeKind, Severity, decode_alert_event


class Missing(Enum):
    """Not given (``None`` means: looked for, absent)."""

    MISSING = "missing"


MISSING = Missing.MISSING


def row_to_alert(row: AlertRow) -> Alert:
    """The domain alert of a stored row (the codes, stored as text, come back as the contract's enums)."""
    return Alert.model_validate(row, from_attributes=True)


def save_alert(
    session: Session, alert: Alert, row: AlertRow | Missing | None = MISSING, *, flush: bool = True
) -> AlertRow:
    """Insert or update the alert's row (optimistic version check on update).

    ``row``: the alert's row as read earlier in this transaction, or None when it was looked for and
    is not there; by default it is looked up here. ``flush=False`` leaves the write to the session's
    next flush (or the commit): for a caller that reads nothing of the row back (its ``version``
    changes at the flush), e.g. many rows saved in a row.
    """
    if isinstance(row, Missing):
        row = session.get(AlertRow, alert.alert_id)
    values = {name: value.value if isinstance(value, StrEnum) else value for name, value in alert}
    if row is None:
        row = AlertRow(**values)
        session.add(row)
    else:
        for name, value in values.items():
            setattr(row, name, value)
    if flush:
        session.flush()
    return row


def add_to_outbox(session: Session, change: AlertChange, now: datetime) -> None:
    """Queue the change for publishing on Kafka ``alerts``."""
    session.add(
        OutboxRow(
            alert_id=change.alert.alert_id,
            asset_id=change.alert.asset_id,
            payload=event_from_change(change).encode(),
            created_at=now,
        )
    )


_TRACK_FIELDS = tuple(f.name for f in fields(Track))


def _track_to_json(track: Track) -> dict[str, Any]:
    """The track as the JSON its row stores.

    Read field by field: ``dataclasses.asdict`` deep-copies every value, and was a fifth of the
    engine's time (py-spy over ``bench.alerts``, 2,000 assets, 4 Dec 2026).
    """
    data: dict[str, Any] = {}
    for name in _TRACK_FIELDS:
        value = getattr(track, name)
        data[name] = value.isoformat() if isinstance(value, datetime) else value
    data["window"] = list(track.window)
    return data


def _track_from_json(data: dict[str, Any]) -> Track:
    values = dict(data)
    for name in ("last_event_ts", "last_seen_at", "above_since", "below_clear_since", "cooldown_until"):
        if values.get(name) is not None:
            values[name] = datetime.fromisoformat(values[name])
    values["window"] = tuple(values.get("window", ()))
    return Track(**values)


def load_state(session: Session, keys: Iterable[Key] | None = None) -> EngineState:
    """Tracks and open alerts for ``keys`` (None: everything), read in the current transaction.

    With ``keys``, also the tracks behind the open alerts of their assets (a record may be
    evaluated under another failure mode's open alert).
    """
    alert_q = select(AlertRow).where(AlertRow.state != AlertState.CLEARED.value)
    if keys is None:
        alerts = {(r.asset_id, r.failure_mode): row_to_alert(r) for r in session.scalars(alert_q)}
        rows = session.execute(select(*_TRACK_COLUMNS)).all()
        return EngineState(tracks={(a, m): _track_from_json(d) for a, m, d in rows}, alerts=alerts)
    wanted = set(keys)
    if not wanted:
        return EngineState()
    assets = sorted({k[0] for k in wanted})
    alerts = {}
    for part in _parts(assets):
        query = alert_q.where(AlertRow.asset_id.in_(part))
        alerts.update(((r.asset_id, r.failure_mode), row_to_alert(r)) for r in session.scalars(query))
    wanted |= set(alerts)
    tracks = {key: _track_from_json(data) for key, data in _track_data(session, assets) if key in wanted}
    return EngineState(tracks=tracks, alerts=alerts)


TRACK_KEYS_PER_QUERY = 500
"""Assets (or alert ids) named in one ``IN`` of the engine's reads."""

_TRACK_COLUMNS = (TrackRow.asset_id, TrackRow.failure_mode, TrackRow.data)


def _parts(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), TRACK_KEYS_PER_QUERY):
        yield items[start : start + TRACK_KEYS_PER_QUERY]


def _track_data(session: Session, assets: list[str]) -> Iterator[tuple[Key, dict[str, Any]]]:
    """Every stored track of these assets, as (key, JSON), read as plain rows.

    By asset with a plain ``IN`` rather than by key with a tuple ``IN``: SQLAlchemy renders a tuple
    ``IN`` literally on SQLite (5 % of the engine's time), and an asset has few tracks. Plain
    columns rather than ORM objects: the engine only reads the JSON.
    """
    for part in _parts(assets):
        for asset_id, mode, data in session.execute(
            select(*_TRACK_COLUMNS).where(TrackRow.asset_id.in_(part))
        ):
            yield (asset_id, mode), data


def alert_rows(session: Session, alert_ids: Iterable[str]) -> dict[str, AlertRow]:
    """The stored rows of these alerts, by id, read :data:`TRACK_KEYS_PER_QUERY` ids a query.

    ``load_state`` keeps no rows (the session's identity map holds them only weakly), so a
    ``session.get`` per alert afterwards went back to the database for each one.
    """
    rows: dict[str, AlertRow] = {}
    for part in _parts(list(dict.fromkeys(alert_ids))):
        rows.update(
            (row.alert_id, row)
            for row in session.scalars(select(AlertRow).where(AlertRow.alert_id.in_(part)))
        )
    return rows


def save_tracks(session: Session, tracks: Iterable[Track]) -> None:
    """Upsert rule tracks (a key given twice: the last one is stored).

    Two executemany statements (UPDATE the known keys, INSERT the new ones) after one read of the
    batch's stored keys: an ORM object per track (a ``session.get`` each, then the unit of work)
    was half of the engine's time (py-spy over ``bench.alerts``, 4 Dec 2026). The statements go
    to the table, not through ORM objects: no ``TrackRow`` loaded in this session is refreshed
    (the engine reads tracks as plain rows, :func:`load_state`).
    """
    by_key = {(t.asset_id, t.failure_mode): t for t in tracks}
    if not by_key:
        return
    stored: set[Key] = set()
    for part in _parts(sorted({k[0] for k in by_key})):
        query = select(TrackRow.asset_id, TrackRow.failure_mode).where(TrackRow.asset_id.in_(part))
        stored.update((asset_id, mode) for asset_id, mode in session.execute(query))
    updates = [
        {"k_asset": k[0], "k_mode": k[1], "data": _track_to_json(t)} for k, t in by_key.items() if k in stored
    ]
    inserts = [
        {"asset_id": k[0], "failure_mode": k[1], "data": _track_to_json(t)}
        for k, t in by_key.items()
        if k not in stored
    ]
    table = cast(Table, TrackRow.__table__)  # mapped to a Table; typed as any FromClause
    if updates:
        session.execute(
            update(table)
            .where(table.c.asset_id == bindparam("k_asset"), table.c.failure_mode == bindparam("k_mode"))
            .values(data=bindparam("data")),
            updates,
        )
    if inserts:
        session.execute(insert(table), inserts)


def pending_outbox(session: Session, limit: int = 1000) -> Sequence[OutboxRow]:
    """Outbox rows not yet published, oldest first."""
    return session.scalars(
        select(OutboxRow).where(OutboxRow.published_at.is_(None)).order_by(OutboxRow.id).limit(limit)
    ).all()


def mark_published(session: Session, ids: Sequence[int], now: datetime) -> None:
    """Record that these outbox rows reached Kafka."""
    if ids:
        session.execute(update(OutboxRow).where(OutboxRow.id.in_(ids)).values(published_at=now))


def select_alerts(
    *,
    asset_id: str | None = None,
    site: str | None = None,
    state: AlertState | None = None,
    severity: Severity | None = None,
    open_only: bool = False,
) -> Select[AlertRow]:
    """The alerts matching every filter given (the API's ``GET /alerts`` and ``forewarn alerts list``)."""
    q = select(AlertRow)
    if asset_id is not None:
        q = q.where(AlertRow.asset_id == asset_id)
    if site is not None:
        q = q.where(AlertRow.site == site)
    if state is not None:
        q = q.where(AlertRow.state == state.value)
    if severity is not None:
        q = q.where(AlertRow.severity == severity.value)
    if open_only:
        q = q.where(AlertRow.state != AlertState.CLEARED.value)
    return q


def most_severe_first(q: Select[AlertRow]) -> Select[AlertRow]:
    """``q`` ordered most severe first, then newest first (what a person triages by)."""
    rank = case({s.value: s.rank for s in Severity}, value=AlertRow.severity, else_=len(Severity))
    return q.order_by(rank, AlertRow.raised_at.desc(), AlertRow.alert_id)


class HistoryEntry(BaseModel):
    """One change of an alert as the outbox holds it (what was published on ``alerts``), and who made it.

    ``by`` is the actor the audit log recorded with the change (the engine, or the operator who
    acknowledged or snoozed); ``published_at`` is None while the change waits for Kafka. The model
    and the risk and RUL are the alert's as of that change (what the operator saw then).
    """

    at: AwareDatetime
    change: ChangeKind
    state: AlertState
    severity: Severity
    escalation_tier: int
    tier: str | None
    detail: str
    by: str | None
    published_at: AwareDatetime | None
    model_name: str | None = None
    model_version: str | None = None
    risk: float | None = None
    rul_cycles: float | None = None


def alert_history(session: Session, alert_id: str) -> list[HistoryEntry]:
    """Every change of the alert, oldest first, from the outbox (never pruned) and the audit log.

    Both are written in the same loop of ``alerts.effects.store_changes``, one row each per change, so
    the n-th outbox row of an alert and its n-th audit entry are the same change (checked by action).
    """
    outbox = session.scalars(select(OutboxRow).where(OutboxRow.alert_id == alert_id).order_by(OutboxRow.id))
    of_alert = (AuditRow.entity == "alert", AuditRow.entity_id == alert_id)
    audits = session.scalars(select(AuditRow).where(*of_alert).order_by(AuditRow.id)).all()
    entries = []
    for i, row in enumerate(outbox):
        event = decode_alert_event(row.payload)
        audit = audits[i] if i < len(audits) else None
        by = audit.actor if audit is not None and audit.action == event.change.value else None
        entries.append(
            HistoryEntry(
                at=event.change_ts,
                change=event.change,
                state=event.state,
                severity=event.severity,
                escalation_tier=event.escalation_tier,
                tier=event.tier,
                detail=event.detail,
                by=by,
                published_at=row.published_at,
                model_name=event.model_name,
                model_version=event.model_version,
                risk=event.trigger_risk,
                rul_cycles=event.trigger_rul_cycles,
            )
        )
    return entries
