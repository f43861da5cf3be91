"""The KPI page's data: :func:`alerts.kpis.compute` per site over a period, and the fleet's total.

A work order belongs to the period when it was opened in it (``since`` ≤ created < ``until``): MTBF,
MTTR, first-time fix, response times and the false-alarm rate per model version are then those of
the work requested in the period. Open alerts are counted now (a period has no "open"), scheduling
attempts (parts availability) by when they were made. A revisit opened after ``until`` is not seen,
so the first-time fix of a period's last weeks can read higher than it will be.

The store is read in three queries whatever the number of sites; the rest is pure.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import String, cast, func, select
from sqlalchemy.orm import Session

from alerts.console.timeseries import WindowError, parse_instant
from alerts.kpis import Kpis, WorkOrderFacts, compute
from alerts.store.tables import AlertRow, AuditRow, WorkOrderRow
from forewarn.contracts.alert import AlertState

ALL_SITES = ""
DEFAULT_PERIOD = timedelta(days=30)
LONGEST_PERIOD = timedelta(days=5 * 366)
SCHEDULE_OK, SCHEDULE_SHORT = "schedule", "waiting_parts"  # the audit actions of a scheduling attempt


@dataclass(frozen=True)
class Period:
    """``since`` ≤ t < ``until``, timezone-aware."""

    since: datetime
    until: datetime

    def contains(self, at: datetime) -> bool:
        return self.since <= at < self.until


def parse_period(since: str, until: str, now: datetime) -> Period:
    """The period of the page's ``since`` and ``until`` (dates or times, UTC; an ``until`` date
    includes its day); the last 30 days by default.

    Raises:
        WindowError: a value that is no date, ``since`` not before ``until``, or a period over 5 years.
    """
    end = parse_instant(until, end_of_day=True) if until.strip() else now
    start = parse_instant(since) if since.strip() else end - DEFAULT_PERIOD
    if start >= end:
        raise WindowError("the period's start must be before its end")
    if end - start > LONGEST_PERIOD:
        raise WindowError("a period is at most 5 years")
    return Period(start, end)


@dataclass(frozen=True)
class SiteFacts:
    """One work order's KPI facts and its site."""

    site: str
    facts: WorkOrderFacts


@dataclass(frozen=True)
class SiteKpis:
    """The KPIs of one site (``site`` "" is the whole fleet)."""

    site: str
    kpis: Kpis


def site_kpis(
    rows: Iterable[SiteFacts],
    period: Period,
    *,
    alerts_open: Mapping[str, int],
    attempts: Mapping[tuple[str, str], int],
    site: str = ALL_SITES,
) -> list[SiteKpis]:
    """The KPIs of each site with work orders opened in ``period`` (of ``site`` alone when given),
    in site order, and then the fleet's (all those sites together) unless one site was asked for.

    ``alerts_open`` is open alerts per site; ``attempts`` scheduling attempts per (site, audit action).
    """
    kept = [r for r in rows if period.contains(r.facts.created_at) and (not site or r.site == site)]
    by_site: dict[str, list[WorkOrderFacts]] = defaultdict(list)
    for r in kept:
        by_site[r.site].append(r.facts)
    sites = sorted(set(by_site) | ({site} if site else {s for s, n in alerts_open.items() if n}))

    def of(facts: Sequence[WorkOrderFacts], names: Iterable[str]) -> Kpis:
        names = list(names)
        return compute(
            facts,
            alerts_open=sum(alerts_open.get(n, 0) for n in names),
            schedule_ok=sum(attempts.get((n, SCHEDULE_OK), 0) for n in names),
            schedule_short=sum(attempts.get((n, SCHEDULE_SHORT), 0) for n in names),
        )

    out = [SiteKpis(s, of(by_site.get(s, []), [s])) for s in sites]
    if not site:
        everything = [r.facts for r in kept]
        out.append(
            SiteKpis(ALL_SITES, of(everything, set(alerts_open) | {s for s, _ in attempts} | set(by_site)))
        )
    return out


def duration_text(seconds: float | None) -> str:
    """Seconds as an operator reads them: ``45 s``, ``12 min``, ``3.5 h``, ``2.1 d``; ``-`` for none."""
    if seconds is None:
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 3 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def share_text(value: float | None) -> str:
    """A 0..1 share as a percentage, ``-`` for none."""
    return "-" if value is None else f"{100 * value:.0f} %"


def facts_of(r: WorkOrderRow) -> WorkOrderFacts:
    """A stored work order's KPI facts (as :func:`alerts.kpis.from_store` reads them)."""
    return WorkOrderFacts(
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


@dataclass(frozen=True)
class StoreFacts:
    """What the KPI page reads from the store."""

    rows: list[SiteFacts]
    alerts_open: dict[str, int]
    attempts: dict[tuple[str, str], int]
    sites: list[str]  # every site with work orders or alerts, for the filter


def read_store(session: Session, period: Period, site: str = ALL_SITES) -> StoreFacts:
    """The period's work orders (of ``site``), open alerts per site, scheduling attempts per site."""
    orders = select(WorkOrderRow).where(
        WorkOrderRow.created_at >= period.since, WorkOrderRow.created_at < period.until
    )
    if site:
        orders = orders.where(WorkOrderRow.site == site)
    rows = [SiteFacts(r.site, facts_of(r)) for r in session.scalars(orders)]
    alerts_open = {
        s: int(n)
        for s, n in session.execute(
            select(AlertRow.site, func.count())
            .where(AlertRow.state != AlertState.CLEARED.value)
            .group_by(AlertRow.site)
        )
    }
    attempted = (
        select(WorkOrderRow.site, AuditRow.action, func.count())
        .join(WorkOrderRow, AuditRow.entity_id == cast(WorkOrderRow.id, String))
        .where(
            AuditRow.entity == "work_order",
            AuditRow.action.in_([SCHEDULE_OK, SCHEDULE_SHORT]),
            AuditRow.at >= period.since,
            AuditRow.at < period.until,
        )
        .group_by(WorkOrderRow.site, AuditRow.action)
    )
    attempts = {(s, a): int(n) for s, a, n in session.execute(attempted)}
    known = set(session.scalars(select(WorkOrderRow.site).distinct())) | set(alerts_open)
    return StoreFacts(rows, alerts_open, attempts, sorted(known))
