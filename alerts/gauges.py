"""Periodic InfluxDB gauges from the store: open alerts and work orders, service KPIs, model quality.

The points are built through ``forewarn.contracts.influx_schema``'s ``alert_counts``,
``work_order_counts``, ``service_kpis`` and ``model_quality``. A gauge broken down by tags is written
for every combination of the known sites and the enumerations, zeros included: the boards take
``last()`` per series, which would otherwise keep showing a count that has since dropped to zero.
Known sites are every site the store has seen (alerts, work orders, technicians, stock).

The engine that holds the tick lease queues these into the InfluxDB outbox (one writer, no
double counting), so they share its retry and outage handling.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from itertools import product

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts import kpis
from alerts.store.tables import AlertRow, PartStockRow, TechnicianRow, WorkOrderRow
from forewarn.contracts.alert import AlertKind, AlertState, Severity
from forewarn.contracts.influx_schema import ALERT_COUNTS, MODEL_QUALITY, SERVICE_KPIS, WORK_ORDER_COUNTS
from forewarn.contracts.work_order import OPEN_STATUSES, Priority, WorkOrderStatus

OPEN_ALERT_STATES = (AlertState.ACTIVE, AlertState.ACKNOWLEDGED, AlertState.SNOOZED)


def _ms(ts: datetime) -> int:
    return int(ts.timestamp() * 1000)


def alert_count_lines(
    open_alerts: Iterable[tuple[str, str, str, str]], sites: Iterable[str], at: datetime
) -> list[str]:
    """``alert_counts``: open alerts per (site, severity, state, kind), every combination.

    Args:
        open_alerts: (site, severity, state, kind) of each open alert.
        sites: every known site.
        at: the snapshot time.
    """
    counts = Counter(open_alerts)
    out = []
    for site, severity, state, kind in product(sorted(set(sites)), Severity, OPEN_ALERT_STATES, AlertKind):
        n = counts.get((site, severity.value, state.value, kind.value), 0)
        tags = {"site": site, "severity": severity.value, "state": state.value, "kind": kind.value}
        out.append(ALERT_COUNTS.point(tags, {"open_alerts": n}, _ms(at)))
    return [p for p in out if p is not None]


def work_order_count_lines(
    open_orders: Iterable[tuple[str, str, str, datetime]], sites: Iterable[str], at: datetime
) -> list[str]:
    """``work_order_counts``: open work orders and SLA breaches per (site, status, priority).

    Args:
        open_orders: (site, status, priority, due_by) of each open work order.
        sites: every known site.
        at: the snapshot time (a work order is breached when ``at`` is past its ``due_by``).
    """
    counts: Counter[tuple[str, str, str]] = Counter()
    breached: Counter[tuple[str, str, str]] = Counter()
    for site, status, priority, due_by in open_orders:
        counts[(site, status, priority)] += 1
        breached[(site, status, priority)] += int(at > due_by)
    out = []
    open_statuses = [s for s in WorkOrderStatus if s in OPEN_STATUSES]  # lifecycle order
    for site, status, priority in product(sorted(set(sites)), open_statuses, Priority):
        key = (site, status.value, priority.value)
        fields = {"open_work_orders": counts.get(key, 0), "sla_breached": breached.get(key, 0)}
        tags = {"site": site, "status": status.value, "priority": priority.value}
        out.append(WORK_ORDER_COUNTS.point(tags, fields, _ms(at)))
    return [p for p in out if p is not None]


def kpi_lines(snapshot: kpis.Kpis, site: str, at: datetime) -> list[str]:
    """``service_kpis`` of one site (missing values left out)."""
    fields = {
        "mtbf_h": snapshot.mtbf_h,
        "mttr_h": snapshot.mttr_h,
        "first_time_fix_rate": snapshot.first_time_fix_rate,
        "alert_to_work_order_s": snapshot.alert_to_work_order_s,
        "alert_to_on_site_s": snapshot.alert_to_on_site_s,
        "parts_availability": snapshot.parts_availability,
        "work_orders_open": snapshot.work_orders_open,
        "alerts_open": snapshot.alerts_open,
    }
    point = SERVICE_KPIS.point({"site": site}, {k: v for k, v in fields.items() if v is not None}, _ms(at))
    return [point] if point is not None else []


def model_quality_lines(snapshot: kpis.Kpis, at: datetime) -> list[str]:
    """``model_quality``: alert precision per model version (fleet-wide)."""
    out = []
    for p in snapshot.precision_by_model_version:
        point = MODEL_QUALITY.point(
            {"model_version": p.model_version},
            {
                "alerts_with_outcome": p.alerts_with_outcome,
                "faults_found": p.faults_found,
                "precision": p.precision,
                "false_alarm_rate": p.false_alarm_rate,
            },
            _ms(at),
        )
        if point is not None:
            out.append(point)
    return out


def known_sites(session: Session) -> set[str]:
    """Every site the store has seen."""
    sites: set[str] = set()
    for column in (AlertRow.site, WorkOrderRow.site, TechnicianRow.site, PartStockRow.site):
        sites.update(session.scalars(select(column).distinct()))
    return sites


def count_lines(session: Session, at: datetime) -> list[str]:
    """The open-alert and open-work-order gauges now."""
    sites = known_sites(session)
    open_alerts = session.execute(
        select(AlertRow.site, AlertRow.severity, AlertRow.state, AlertRow.kind).where(
            AlertRow.state != AlertState.CLEARED.value
        )
    ).tuples()
    open_orders = session.execute(
        select(WorkOrderRow.site, WorkOrderRow.status, WorkOrderRow.priority, WorkOrderRow.due_by).where(
            WorkOrderRow.status.in_([s.value for s in OPEN_STATUSES])
        )
    ).tuples()
    return alert_count_lines(open_alerts, sites, at) + work_order_count_lines(open_orders, sites, at)


def kpi_snapshot_lines(session: Session, at: datetime) -> list[str]:
    """Service KPIs per site and model quality now."""
    out = []
    for site in sorted(known_sites(session)):
        out += kpi_lines(kpis.from_store(session, site=site), site, at)
    return out + model_quality_lines(kpis.from_store(session), at)
