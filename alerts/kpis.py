"""Service KPIs from the store: MTBF, MTTR, first-time fix, response times, alert precision per model
version, parts availability.

``compute`` is pure over plain facts; ``from_store`` reads those facts in one transaction.
Definitions (times are hours or seconds as named):
- MTBF: mean time between consecutive confirmed failures (completed with a fault found) of an asset.
- MTTR: mean repair time over confirmed failures: the time on site the technician reported, else
  (none reported) on site → completed. The API calls that start and complete a work order are often
  made together, from the office, after the visit; their gap says nothing about the repair.
- first-time fix: share of confirmed repairs with no new work order for the same asset and failure
  mode within ``revisit_window_s`` after completion.
- response: alert raised → work order created → technician on site. These stay on the times of the
  changes (``start`` marks the arrival): no reported arrival time exists to prefer.
- alert precision per model version: share of alert-driven work orders with an outcome that found a
  fault; false-alarm rate is the rest.
- parts availability: share of scheduling attempts that found the whole kit in stock.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from statistics import fmean

from pydantic import BaseModel
from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from alerts.store.tables import AlertRow, AuditRow, WorkOrderRow
from forewarn.contracts.alert import AlertState
from forewarn.contracts.work_order import OPEN_STATUSES

DEFAULT_REVISIT_WINDOW_S = 30 * 24 * 3600.0


@dataclass(frozen=True)
class WorkOrderFacts:
    """What the KPIs need to know about one work order."""

    asset_id: str
    failure_mode: str
    status: str
    created_at: datetime
    alert_raised_at: datetime | None
    on_site_at: datetime | None
    completed_at: datetime | None
    fault_found: bool | None
    model_version: str | None
    from_alert: bool
    time_on_site_min: float | None = None  # reported at completion; preferred to on site → completed


class ModelPrecision(BaseModel):
    """Alert precision of one model version."""

    model_version: str
    alerts_with_outcome: int
    faults_found: int
    precision: float
    false_alarm_rate: float


class Kpis(BaseModel):
    """The KPI set served on ``/kpis`` (None where there is no data yet)."""

    work_orders_total: int
    work_orders_open: int
    alerts_open: int
    mtbf_h: float | None
    mttr_h: float | None
    first_time_fix_rate: float | None
    alert_to_work_order_s: float | None
    work_order_to_on_site_s: float | None
    alert_to_on_site_s: float | None
    precision_by_model_version: list[ModelPrecision]
    parts_availability: float | None
    schedule_attempts: int


def _mean(values: Sequence[float]) -> float | None:
    return fmean(values) if values else None


def _repair_h(w: WorkOrderFacts) -> float | None:
    """Hours of repair: the reported time on site, else on site → completed, else unknown."""
    if w.time_on_site_min is not None:
        return w.time_on_site_min / 60
    if w.completed_at is not None and w.on_site_at is not None:
        return (w.completed_at - w.on_site_at).total_seconds() / 3600
    return None


def compute(
    work_orders: Sequence[WorkOrderFacts],
    *,
    alerts_open: int,
    schedule_ok: int,
    schedule_short: int,
    revisit_window_s: float = DEFAULT_REVISIT_WINDOW_S,
) -> Kpis:
    """Every KPI from plain facts."""
    fixes = [w for w in work_orders if w.fault_found and w.completed_at is not None]
    failures_by_asset: dict[str, list[datetime]] = defaultdict(list)
    for w in fixes:
        assert w.completed_at is not None
        failures_by_asset[w.asset_id].append(w.completed_at)
    gaps_h = [
        (b - a).total_seconds() / 3600
        for times in failures_by_asset.values()
        for a, b in zip(sorted(times), sorted(times)[1:], strict=False)
    ]
    repair_h = [h for h in (_repair_h(w) for w in fixes) if h is not None]

    def revisited(fix: WorkOrderFacts) -> bool:
        assert fix.completed_at is not None
        return any(
            o.asset_id == fix.asset_id
            and o.failure_mode == fix.failure_mode
            and o is not fix
            and 0 <= (o.created_at - fix.completed_at).total_seconds() <= revisit_window_s
            for o in work_orders
        )

    per_model: dict[str, list[bool]] = defaultdict(list)
    for w in work_orders:
        if w.from_alert and w.fault_found is not None:
            per_model[w.model_version or "unknown"].append(w.fault_found)
    precision = [
        ModelPrecision(
            model_version=version,
            alerts_with_outcome=len(found),
            faults_found=sum(found),
            precision=sum(found) / len(found),
            false_alarm_rate=1 - sum(found) / len(found),
        )
        for version, found in sorted(per_model.items())
    ]
    attempts = schedule_ok + schedule_short
    return Kpis(
        work_orders_total=len(work_orders),
        work_orders_open=sum(1 for w in work_orders if w.status in OPEN_STATUSES),
        alerts_open=alerts_open,
        mtbf_h=_mean(gaps_h),
        mttr_h=_mean(repair_h),
        first_time_fix_rate=(sum(1 for f in fixes if not revisited(f)) / len(fixes)) if fixes else None,
        alert_to_work_order_s=_mean(
            [(w.created_at - w.alert_raised_at).total_seconds() for w in work_orders if w.alert_raised_at]
        ),
        work_order_to_on_site_s=_mean(
            [(w.on_site_at - w.created_at).total_seconds() for w in work_orders if w.on_site_at]
        ),
        alert_to_on_site_s=_mean(
            [
                (w.on_site_at - w.alert_raised_at).total_seconds()
                for w in work_orders
                if w.on_site_at and w.alert_raised_at
            ]
        ),
        precision_by_model_version=precision,
        parts_availability=(schedule_ok / attempts) if attempts else None,
        schedule_attempts=attempts,
    )


def from_store(
    session: Session, revisit_window_s: float = DEFAULT_REVISIT_WINDOW_S, site: str | None = None
) -> Kpis:
    """Read the facts from the store and compute the KPIs (of one site, or of the whole fleet)."""
    orders = select(WorkOrderRow) if site is None else select(WorkOrderRow).where(WorkOrderRow.site == site)
    facts = [
        WorkOrderFacts(
            asset_id=r.asset_id,
            failure_mode=r.failure_mode,
            status=r.status,
            created_at=r.created_at,
            alert_raised_at=r.alert_raised_at,
            on_site_at=r.on_site_at,
            completed_at=r.completed_at,
            fault_found=r.fault_found,
            model_version=r.model_version,
            from_alert=r.source_alert_id is not None,
            time_on_site_min=r.time_on_site_min,
        )
        for r in session.scalars(orders)
    ]
    open_alerts = select(func.count()).select_from(AlertRow).where(AlertRow.state != AlertState.CLEARED.value)
    if site is not None:
        open_alerts = open_alerts.where(AlertRow.site == site)
    alerts_open = session.scalar(open_alerts)
    attempts = (
        select(AuditRow.action, func.count())
        .where(AuditRow.entity == "work_order", AuditRow.action.in_(["schedule", "waiting_parts"]))
        .group_by(AuditRow.action)
    )
    if site is not None:
        attempts = attempts.join(WorkOrderRow, AuditRow.entity_id == cast(WorkOrderRow.id, String)).where(
            WorkOrderRow.site == site
        )
    actions = dict(session.execute(attempts).all())
    return compute(
        facts,
        alerts_open=int(alerts_open or 0),
        schedule_ok=int(actions.get("schedule", 0)),
        schedule_short=int(actions.get("waiting_parts", 0)),
        revisit_window_s=revisit_window_s,
    )
