"""The parts plan's edges: predictions from InfluxDB ``risk``, kits, stock and lead times from the
store, and the plan's ``parts_plan`` points back to InfluxDB.

The latest risk per asset is the console fleet page's read (``alerts.console.fleet_view.read_latest``:
one statement, the riskiest failure mode of each asset with its horizon, and the lowest RUL of its
modes). RUL and horizon count model steps ("cycles"); ``PlanSettings.rul_step_s`` says how long one
lasts. Lead times come from ``part_policies`` (migration 0006); a SKU and site without a policy takes
``PlanSettings.parts_lead_time_days``. Nothing is on order in the store yet (there are no purchase
orders), so the position is the free stock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from alerts.console.fleet_view import Latest, read_latest
from alerts.planning.parts_demand import PartsPlan, Policy, Prediction, StockLevel, plan_parts
from alerts.planning.settings import PlanSettings
from alerts.report import Window
from alerts.store.tables import PartKitRow, PartPolicyRow, PartStockRow
from forewarn.contracts.influx_schema import PARTS_PLAN
from forewarn.settings import InfluxSettings
from forewarn.table import utc_text

DAY_S = 86_400.0


@dataclass(frozen=True)
class StoreInputs:
    """What the store knows: kits (failure mode → {sku: quantity}), stock, lead-time policies."""

    kits: Mapping[str, Mapping[str, int]]
    stock: tuple[StockLevel, ...]
    policies: tuple[Policy, ...]


@dataclass(frozen=True)
class PartsReport:
    """A plan and the assets it could not use (scored without a risk or a horizon)."""

    plan: PartsPlan
    predictions: int
    skipped_assets: tuple[str, ...]


def predictions_from_latest(
    latest: Mapping[str, Latest], rul_step_s: float
) -> tuple[list[Prediction], tuple[str, ...]]:
    """Each asset's latest scores as a :class:`Prediction` in days, and the assets left out (no risk
    or no horizon: a point written before ``horizon_cycles`` existed)."""
    out, skipped = [], []
    for asset_id, score in sorted(latest.items()):
        if score.risk is None or not score.horizon_cycles or score.horizon_cycles <= 0:
            skipped.append(asset_id)
            continue
        rul = None if score.rul is None else score.rul * rul_step_s / DAY_S
        horizon = score.horizon_cycles * rul_step_s / DAY_S
        risk = min(1.0, max(0.0, score.risk))
        out.append(Prediction(asset_id, score.site, score.failure_mode, risk, horizon, rul))
    return out, tuple(skipped)


def read_store(session: Session) -> StoreInputs:
    """Kits, stock and lead-time policies (three reads)."""
    kits: dict[str, dict[str, int]] = {}
    for kit in session.scalars(select(PartKitRow)):
        kits.setdefault(kit.failure_mode, {})[kit.sku] = kit.quantity
    stock = tuple(
        StockLevel(r.sku, r.site, r.on_hand, r.reserved) for r in session.scalars(select(PartStockRow))
    )
    policies = tuple(
        Policy(r.sku, r.site, r.lead_time_days, r.reorder_qty) for r in session.scalars(select(PartPolicyRow))
    )
    return StoreInputs(kits, stock, policies)


def build(
    session: Session,
    influx: InfluxSettings,
    settings: PlanSettings,
    now: datetime,
    service_level: float | None = None,
) -> PartsReport:
    """The parts plan now, from the latest risk of every asset scored in the risk window.

    Raises:
        forewarn.influx.InfluxQueryError: InfluxDB unreachable or refusing the statement.
        ValueError: a service level outside (0, 1).
    """
    window = Window(now - timedelta(hours=settings.parts_risk_window_h), now)
    predictions, skipped = predictions_from_latest(read_latest(influx, window), settings.rul_step_s)
    store = read_store(session)
    plan = plan_parts(
        predictions,
        store.kits,
        store.stock,
        store.policies,
        now=now,
        service_level=settings.parts_service_level if service_level is None else service_level,
        default_lead_time_days=settings.parts_lead_time_days,
        review_days=settings.parts_review_days,
    )
    return PartsReport(plan, len(predictions), skipped)


def parts_points(plan: PartsPlan) -> list[str]:
    """One ``parts_plan`` point per SKU and site, zeros included (a board's ``last()`` must not keep a
    suggestion that has since been met), at the plan's time."""
    ts_ms = int(plan.now.timestamp() * 1000)
    out = []
    for line in plan.lines:
        fields = {
            "expected_demand": line.expected_demand,
            "demand_sd": line.demand_sd,
            "safety_stock": line.safety_stock,
            "free_stock": line.free_stock,
            "suggested_qty": line.suggested_qty,
            "lead_time_days": float(line.lead_time_days),
        }
        point = PARTS_PLAN.point({"sku": line.sku, "site": line.site}, fields, ts_ms)
        if point is not None:
            out.append(point)
    return out


def report_json(report: PartsReport) -> dict[str, object]:
    """The report as JSON-ready data (``forewarn plan parts --json`` and ``GET /plan/parts``)."""
    plan = report.plan
    return {
        "now": utc_text(plan.now),
        "service_level": plan.service_level,
        "z": plan.z,
        "review_days": plan.review_days,
        "predictions": report.predictions,
        "skipped_assets": list(report.skipped_assets),
        "unkitted_modes": list(plan.unkitted_modes),
        "lines": [
            {
                "sku": x.sku,
                "site": x.site,
                "lead_time_days": x.lead_time_days,
                "expected_demand": x.expected_demand,
                "demand_sd": x.demand_sd,
                "safety_stock": x.safety_stock,
                "target": x.target,
                "free_stock": x.free_stock,
                "on_order": x.on_order,
                "assets": x.assets,
                "suggested_qty": x.suggested_qty,
                "order_by": utc_text(x.order_by) if x.order_by else None,
            }
            for x in plan.lines
        ],
    }
