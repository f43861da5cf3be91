"""The fleet page's data: every asset ranked by its latest risk, with its latest RUL and its open
alerts and work orders, and a summary per site.

Three reads whatever the fleet's size: one InfluxDB statement (the last ``risk`` point of each
asset and failure mode, ``GROUP BY``), one grouped count of open alerts, one of open work orders.
An asset is listed when it was scored in the window or has open work (its risk then shows as ``-``).
"""

# InfluxQL here is built from the contract's names, never from input (the window is bound): no S608.
# ruff: noqa: S608

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from alerts.console import timeseries as ts
from alerts.console.alert_board import asset_href
from alerts.console.respond import number, utc_minutes
from alerts.report import Window
from alerts.store.tables import AlertRow, WorkOrderRow
from forewarn.contracts.alert import AlertState, Severity
from forewarn.contracts.influx_schema import RISK
from forewarn.contracts.work_order import OPEN_STATUSES
from forewarn.influx import Series, query
from forewarn.settings import InfluxSettings

LATEST_QUERY = (
    f'SELECT last("risk") AS "risk", "rul_cycles", "horizon_cycles", "model_name", "model_version" '
    f'FROM "{RISK.name}" '
    'WHERE time >= $since AND time <= $until GROUP BY "site", "asset_id", "failure_mode"'
)


@dataclass(frozen=True)
class Latest:
    """An asset's latest scores: the riskiest failure mode's risk, the lowest RUL of any mode."""

    site: str
    risk: float | None
    failure_mode: str
    rul: float | None
    model: str
    at_ms: int
    horizon_cycles: float | None = None  # the riskiest mode's horizon (parts planning reads it)


@dataclass(frozen=True)
class OpenWork:
    """An asset's open alerts (by severity) and open work orders (and how many are overdue)."""

    site: str = ""
    alerts: Mapping[str, int] = field(default_factory=dict)
    work_orders: int = 0
    overdue: int = 0

    @property
    def open_alerts(self) -> int:
        return sum(self.alerts.values())

    @property
    def worst(self) -> str:
        """The most severe open alert's severity ("" when none)."""
        for s in Severity:
            if self.alerts.get(s.value):
                return s.value
        return ""


@dataclass(frozen=True)
class FleetRow:
    """One asset on the fleet page."""

    asset_id: str
    site: str
    risk: float | None
    failure_mode: str
    rul: float | None
    model: str
    scored: str
    work: OpenWork

    @property
    def href(self) -> str:
        return asset_href(self.asset_id)

    @property
    def risk_text(self) -> str:
        return number(self.risk, 2)

    @property
    def rul_text(self) -> str:
        return number(self.rul, 0)


@dataclass(frozen=True)
class SiteSummary:
    """One site at the top of the fleet page."""

    site: str
    assets: int
    max_risk: float | None
    riskiest: str
    min_rul: float | None
    assets_with_alerts: int
    open_alerts: int
    critical: int
    work_orders: int
    overdue: int

    @property
    def riskiest_href(self) -> str:
        return asset_href(self.riskiest)

    @property
    def max_risk_text(self) -> str:
        return number(self.max_risk, 2)

    @property
    def min_rul_text(self) -> str:
        return number(self.min_rul, 0)


def _num(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def latest_by_asset(series: Iterable[Series]) -> dict[str, Latest]:
    """:data:`LATEST_QUERY`'s answer (one series per site, asset and failure mode) → one per asset."""
    out: dict[str, Latest] = {}
    for s in series:
        asset_id = s.tags.get("asset_id", "")
        if not asset_id:
            continue
        for row in s.rows():
            risk, rul = _num(row.get("risk")), _num(row.get("rul_cycles"))
            model = f"{row.get('model_name') or '?'} v{row.get('model_version') or '?'}"
            here = Latest(s.tags.get("site", ""), risk, s.tags.get("failure_mode", ""), rul, model,
                          int(row["time"]), _num(row.get("horizon_cycles")))  # fmt: skip
            out[asset_id] = _merge(out.get(asset_id), here)
    return out


def _order(risk: float | None) -> float:
    return -1.0 if risk is None else risk


def _merge(old: Latest | None, new: Latest) -> Latest:
    if old is None:
        return new
    riskier = new if _order(new.risk) > _order(old.risk) else old
    ruls = [r for r in (old.rul, new.rul) if r is not None]
    return Latest(
        riskier.site or old.site or new.site,
        riskier.risk,
        riskier.failure_mode,
        min(ruls) if ruls else None,
        riskier.model,
        max(old.at_ms, new.at_ms),
        riskier.horizon_cycles,
    )


def open_work(
    alert_counts: Iterable[tuple[str, str, str, int]],
    work_order_counts: Iterable[tuple[str, str, int, int]],
) -> dict[str, OpenWork]:
    """Grouped counts → per asset: ``(asset, site, severity, n)`` of open alerts and
    ``(asset, site, n, overdue)`` of open work orders."""
    alerts: dict[str, dict[str, int]] = defaultdict(dict)
    sites: dict[str, str] = {}
    for asset_id, site, severity, n in alert_counts:
        alerts[asset_id][severity] = alerts[asset_id].get(severity, 0) + int(n)
        sites.setdefault(asset_id, site)
    orders: dict[str, tuple[int, int]] = {}
    for asset_id, site, n, overdue in work_order_counts:
        before = orders.get(asset_id, (0, 0))
        orders[asset_id] = (before[0] + int(n), before[1] + int(overdue or 0))
        sites.setdefault(asset_id, site)
    return {
        a: OpenWork(sites[a], alerts.get(a, {}), *orders.get(a, (0, 0)))
        for a in sorted(set(alerts) | set(orders))
    }


def rank(latest: Mapping[str, Latest], work: Mapping[str, OpenWork]) -> list[FleetRow]:
    """Every asset, riskiest first; unscored assets after the scored, those with the most open alerts
    first; then by asset id."""
    rows = []
    for asset_id in set(latest) | set(work):
        score = latest.get(asset_id)
        open_ = work.get(asset_id, OpenWork())
        where = (score.site if score else "") or open_.site
        rows.append(
            FleetRow(
                asset_id,
                where,
                score.risk if score else None,
                score.failure_mode if score else "",
                score.rul if score else None,
                score.model if score else "-",
                utc_minutes(ts.at_ms(score.at_ms)) if score else "-",
                open_,
            )
        )
    return sorted(
        rows,
        key=lambda r: (
            r.risk is None,
            -(r.risk or 0.0),
            -r.work.open_alerts,
            -r.work.work_orders,
            r.asset_id,
        ),
    )


def summarize(rows: Sequence[FleetRow]) -> list[SiteSummary]:
    """Per site, in site order: its assets, riskiest asset, lowest RUL, open alerts and work orders."""
    by_site: dict[str, list[FleetRow]] = defaultdict(list)
    for r in rows:
        by_site[r.site].append(r)
    out = []
    for site, members in sorted(by_site.items()):
        scored = [r for r in members if r.risk is not None]
        riskiest = max(scored, key=lambda r: (r.risk or 0.0, r.asset_id)) if scored else None
        ruls = [r.rul for r in members if r.rul is not None]
        out.append(
            SiteSummary(
                site=site or "?",
                assets=len(members),
                max_risk=riskiest.risk if riskiest else None,
                riskiest=riskiest.asset_id if riskiest else "",
                min_rul=min(ruls) if ruls else None,
                assets_with_alerts=sum(1 for r in members if r.work.open_alerts),
                open_alerts=sum(r.work.open_alerts for r in members),
                critical=sum(r.work.alerts.get(Severity.CRITICAL.value, 0) for r in members),
                work_orders=sum(r.work.work_orders for r in members),
                overdue=sum(r.work.overdue for r in members),
            )
        )
    return out


def read_latest(settings: InfluxSettings, window: Window) -> dict[str, Latest]:
    """The latest scores of every asset scored in the window (one statement).

    Raises:
        forewarn.influx.InfluxQueryError: InfluxDB unreachable or refusing the statement.
    """
    return latest_by_asset(query(settings, LATEST_QUERY, params=ts.window_params(window)))


def read_open_work(session: Session, now: datetime) -> dict[str, OpenWork]:
    """Open alerts and open work orders per asset (two grouped queries)."""
    alert_counts = session.execute(
        select(AlertRow.asset_id, AlertRow.site, AlertRow.severity, func.count())
        .where(AlertRow.state != AlertState.CLEARED.value)
        .group_by(AlertRow.asset_id, AlertRow.site, AlertRow.severity)
    )
    overdue = func.sum(case((WorkOrderRow.due_by < now, 1), else_=0))
    order_counts = session.execute(
        select(WorkOrderRow.asset_id, WorkOrderRow.site, func.count(), overdue)
        .where(WorkOrderRow.status.in_([s.value for s in OPEN_STATUSES]))
        .group_by(WorkOrderRow.asset_id, WorkOrderRow.site)
    )
    return open_work(alert_counts, order_counts)
