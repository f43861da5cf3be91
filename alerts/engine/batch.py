"""One batch of risk messages through the rules into the store, in one transaction.

Kept apart from the Kafka loop so the same code is tested on a plain list of messages.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from alerts.config import RuleConfig
from alerts.effects import store_changes
from alerts.rules import EngineState, IgnoreReason, Key, evaluate, tick
from alerts.state import STALE_FAILURE_MODE, Alert, AlertChange, Track
from alerts.store import alert_repo
from alerts.store.db import transaction
from alerts.store.lease import TICK_LEASE, try_acquire
from alerts.store.tables import RiskRejectionRow
from forewarn.contracts.dead_letter import DeadLetter, Stage
from forewarn.contracts.risk import RiskRecord, RiskRejection, decode_risk
from forewarn.contracts.work_order import Priority

MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class RiskMessage:
    """A raw ``risk`` message and where it came from."""

    value: bytes
    source: str  # topic/partition/offset


@dataclass
class BatchResult:
    """What one batch did."""

    records: int = 0
    rejected: int = 0
    ignored: dict[IgnoreReason, int] = field(default_factory=dict)
    changes: list[AlertChange] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)  # for ``risk.dlq``, in order


def dead_letter_of(rejection: RiskRejection, source: str, received_at: datetime) -> DeadLetter:
    """The ``risk.dlq`` dead letter of a record read at ``source`` (``topic/partition/offset``) that
    failed the risk contract: stage ``alerts``, the original bytes, so ``forewarn dlq replay`` can
    revive it once fixed."""
    return DeadLetter(
        Stage.ALERTS, rejection.reason, rejection.detail, f"kafka:{source}", rejection.raw, received_at
    )


@dataclass(frozen=True)
class EngineContext:
    """What the batch and tick functions need."""

    sessions: sessionmaker[Session]
    rules: RuleConfig
    actor: str
    sla_h: Mapping[Priority, float]


def _store(
    ctx: EngineContext, session: Session, changes: list[AlertChange], now: datetime
) -> list[AlertChange]:
    return store_changes(
        session,
        changes,
        actor=ctx.actor,
        now=now,
        work_order_min_severity=ctx.rules.work_order_min_severity,
        sla_h=ctx.sla_h,
    )


def _save_quiet_updates(session: Session, alerts: list[Alert], loaded: Mapping[Key, Alert]) -> None:
    """Store what changed without a published change (last seen, model version) of open alerts.

    An alert still as ``loaded`` at the batch's start changed nothing (a published change always
    changes the alert), so only the others are compared with their rows; they are written by the
    transaction's last flush, not one flush each.
    """
    alerts = [alert for alert in alerts if loaded.get(alert.key) != alert]
    rows = alert_repo.alert_rows(session, (alert.alert_id for alert in alerts))
    for alert in alerts:
        row = rows.get(alert.alert_id)
        if row is None:
            continue
        if alert.work_order_id is None and row.work_order_id is not None:
            alert = alert.model_copy(update={"work_order_id": row.work_order_id})
        if alert != alert_repo.row_to_alert(row):
            alert_repo.save_alert(session, alert, row, flush=False)


_NO_STATE = EngineState()  # an asset the store knows nothing of yet


def _per_asset(state: EngineState) -> dict[str, EngineState]:
    """The state split by asset.

    A record is evaluated against its asset's part only: ``evaluate`` reads and writes nothing but
    its own asset's tracks and alerts (its key, the asset's stale alert, the asset's open alert of
    another failure mode), and each step copies the state's dicts, so evaluating against the whole
    batch's state cost a copy of every loaded track per record (quadratic in the batch).
    """
    tracks: dict[str, dict[Key, Track]] = {}
    alerts: dict[str, dict[Key, Alert]] = {}
    for key, track in state.tracks.items():
        tracks.setdefault(key[0], {})[key] = track
    for key, alert in state.alerts.items():
        alerts.setdefault(key[0], {})[key] = alert
    return {
        asset: EngineState(tracks=tracks.get(asset, {}), alerts=alerts.get(asset, {}))
        for asset in tracks.keys() | alerts.keys()
    }


def process_batch(ctx: EngineContext, messages: Sequence[RiskMessage], now: datetime) -> BatchResult:
    """Evaluate every message in order and store tracks, alerts, work orders, outbox and rejections.

    All of it commits together or not at all; a concurrent operator change of an alert (optimistic
    version check) makes the whole batch run again on fresh state.
    """
    decoded: list[tuple[RiskMessage, RiskRecord | RiskRejection]] = [
        (m, decode_risk(m.value)) for m in messages
    ]
    keys = set()
    for _, item in decoded:
        if isinstance(item, RiskRecord):
            keys.add((item.asset_id, item.failure_mode))
            keys.add((item.asset_id, STALE_FAILURE_MODE))
    for attempt in range(MAX_ATTEMPTS):
        result = BatchResult()
        try:
            with transaction(ctx.sessions) as session:
                loaded = alert_repo.load_state(session, keys)
                by_asset = _per_asset(loaded)
                touched = set()
                changes: list[AlertChange] = []
                for message, item in decoded:
                    if isinstance(item, RiskRejection):
                        result.rejected += 1
                        result.dead_letters.append(dead_letter_of(item, message.source, now))
                        session.add(
                            RiskRejectionRow(
                                reason=item.reason.value,
                                detail=item.detail[:2000],
                                raw=item.raw,
                                source=message.source,
                                received_at=now,
                            )
                        )
                        continue
                    result.records += 1
                    asset = by_asset.get(item.asset_id, _NO_STATE)
                    outcome = evaluate(asset, item, now, ctx.rules)
                    if outcome.ignored is not None:
                        result.ignored[outcome.ignored] = result.ignored.get(outcome.ignored, 0) + 1
                        continue
                    by_asset[item.asset_id] = outcome.state
                    touched.add(outcome.key or (item.asset_id, item.failure_mode))
                    changes.extend(outcome.changes)
                tracks = [by_asset[k[0]].tracks[k] for k in sorted(touched)]
                alert_repo.save_tracks(session, tracks)
                result.changes = _store(ctx, session, changes, now)
                opened = [by_asset[k[0]].alerts.get(k) for k in sorted(touched)]
                _save_quiet_updates(session, [alert for alert in opened if alert is not None], loaded.alerts)
            return result
        except StaleDataError:
            if attempt == MAX_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


@dataclass(frozen=True)
class TickLease:
    """Who this engine instance is, and how long a tick lease lasts (see ``alerts.store.lease``)."""

    holder: str
    lease_s: float


def process_tick(
    ctx: EngineContext, now: datetime, lease: TickLease | None = None
) -> list[AlertChange] | None:
    """Escalations, snooze wake-ups and stale assets, stored like rule changes.

    With ``lease``, the tick runs only in the instance holding the tick lease, taken in the same
    transaction (so two engines on one store never both escalate or raise a stale alert).

    Returns:
        The stored changes, or None when another instance holds the lease (nothing was done).
    """
    for attempt in range(MAX_ATTEMPTS):
        try:
            with transaction(ctx.sessions) as session:
                if lease is not None and not try_acquire(
                    session, TICK_LEASE, lease.holder, now, lease.lease_s
                ):
                    return None
                state = alert_repo.load_state(session)
                _, changes = tick(state, now, ctx.rules)
                return _store(ctx, session, list(changes), now)
        except StaleDataError:
            if attempt == MAX_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")
