"""Parts demand from predictions: expected demand per SKU and site over the supplier lead time, its
variance, safety stock for a service level, and purchase suggestions. Pure: no store, no clock.

**From the model's risk to the lead time.** A prediction gives ``risk`` = P(failure within the
model's horizon H) and a RUL. The lead time L is not H, so the probability is converted with a
*constant hazard* over the horizon, ``p(t) = 1 - (1 - risk) ** (t / H)``, floored by the risk itself
when the RUL says the failure comes before t (``rul <= t``: the horizon's whole probability mass is
expected before t, and a CDF cannot fall, so ``p(t) >= risk``). Why this and not a RUL error model:
the risk is the model's calibrated probability (the promotion gate judges it), while the RUL is a
point estimate whose error spread nobody has recorded for a model version; a constant hazard is the
least-assuming curve through the one point the model gives, (H, risk), exact at t = H, in [0, 1],
0 for zero risk and monotone in risk (more risk never lowers demand). Its bias: for a degrading
asset the hazard rises, so p(L) for L < H is over-stated when the RUL is beyond L (a cautious error
for parts) and under-stated when it is short, which the RUL floor corrects.

**Demand.** Each prediction is an independent Bernoulli failure that consumes its failure mode's kit
(q units of each SKU): over an interval, ``E = Σ p·q`` and ``Var = Σ p(1 - p)·q²`` per SKU and site.
Safety stock is ``z·sd`` with ``z`` the normal quantile of the service level (a normal approximation
of the sum; a few assets make it rough, which the bench measures).

**Suggestions.** The plan protects the lead time plus a review period R (the time until the plan is
looked at again; R = 0 is a pure lead-time plan). The inventory position is free stock (on hand minus
reserved) plus what is on order. When it is below ``E + z·sd`` over L + R, the suggestion raises it to
that level (at least the policy's reorder quantity), to be ordered by the last day s in [0, R] at
which the position still covers ``E + z·sd`` over s + L: an order placed then arrives before the
stock falls below the service level; with nothing to spare that day is today.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import NormalDist

Moments = dict[tuple[str, str], tuple[float, float, int]]
"""(sku, site) → (Σ p·q, Σ p(1-p)·q², how many predictions had p > 0), over one interval."""


@dataclass(frozen=True)
class Prediction:
    """An asset's latest prediction for one failure mode, with times in days."""

    asset_id: str
    site: str
    failure_mode: str
    risk: float  # P(failure within horizon_days), 0..1
    horizon_days: float
    rul_days: float | None = None


@dataclass(frozen=True)
class StockLevel:
    """One SKU at one site: on hand, reserved for work orders, and ordered but not yet received."""

    sku: str
    site: str
    on_hand: int
    reserved: int = 0
    on_order: int = 0

    @property
    def free(self) -> int:
        """What is on the shelf and promised to no work order."""
        return self.on_hand - self.reserved


@dataclass(frozen=True)
class Policy:
    """The supplier lead time of one SKU at one site, and a reorder quantity when one is set."""

    sku: str
    site: str
    lead_time_days: float
    reorder_qty: int | None = None


@dataclass(frozen=True)
class PartLine:
    """One SKU at one site: the demand over the protected interval and what to order.

    ``expected_demand``, ``demand_sd`` and ``safety_stock`` cover lead time + review period;
    ``suggested_qty`` is 0 and ``order_by`` None when the position covers the target.
    """

    sku: str
    site: str
    lead_time_days: float
    expected_demand: float
    demand_sd: float
    safety_stock: float
    free_stock: int
    on_order: int
    assets: int  # predictions that contributed demand (p > 0)
    suggested_qty: int
    order_by: datetime | None

    @property
    def target(self) -> float:
        """The level the position should reach: expected demand + safety stock."""
        return self.expected_demand + self.safety_stock


@dataclass(frozen=True)
class PartsPlan:
    """Every SKU and site with demand or stock, and what the plan could not use (errors as data)."""

    now: datetime
    service_level: float
    z: float
    review_days: float
    lines: tuple[PartLine, ...]
    unkitted_modes: tuple[str, ...]  # failure modes predicted that have no kit: no parts planned

    @property
    def suggestions(self) -> tuple[PartLine, ...]:
        """The lines with something to order, the earliest order-by first."""
        todo = [line for line in self.lines if line.suggested_qty > 0]
        return tuple(sorted(todo, key=lambda x: (x.order_by or self.now, x.site, x.sku)))


def failure_probability(
    risk: float, horizon_days: float, within_days: float, rul_days: float | None
) -> float:
    """P(failure within ``within_days``) from P(failure within the horizon) (the module's docstring says
    why a constant hazard, floored by the risk when the RUL falls inside the interval)."""
    if not 0.0 <= risk <= 1.0 or horizon_days <= 0 or within_days < 0:
        raise ValueError(
            f"risk in [0, 1], horizon > 0 and interval >= 0, got {risk}, {horizon_days}, {within_days}"
        )
    p = 1.0 if risk >= 1.0 else 1.0 - (1.0 - risk) ** (within_days / horizon_days)
    if rul_days is not None and rul_days <= within_days:
        p = max(p, risk)
    return min(1.0, max(0.0, p))


def z_of(service_level: float) -> float:
    """The normal quantile of the service level (1.645 for 0.95)."""
    if not 0.0 < service_level < 1.0:
        raise ValueError(f"service level must be in (0, 1), got {service_level}")
    return NormalDist().inv_cdf(service_level)


def _moments(
    predictions: Sequence[Prediction], kits: Mapping[str, Mapping[str, int]], days: float
) -> Moments:
    """:data:`Moments` over ``days``."""
    out: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for pr in predictions:
        kit = kits.get(pr.failure_mode)
        if not kit:
            continue
        p = failure_probability(pr.risk, pr.horizon_days, days, pr.rul_days)
        if p <= 0.0:
            continue
        for sku, q in kit.items():
            acc = out[(sku, pr.site)]
            acc[0] += p * q
            acc[1] += p * (1.0 - p) * q * q
            acc[2] += 1
    return {k: (v[0], v[1], int(v[2])) for k, v in out.items()}


def plan_parts(
    predictions: Iterable[Prediction],
    kits: Mapping[str, Mapping[str, int]],
    stock: Iterable[StockLevel],
    policies: Iterable[Policy],
    *,
    now: datetime,
    service_level: float,
    default_lead_time_days: float,
    review_days: float = 0.0,
) -> PartsPlan:
    """The parts plan for these predictions, kits (failure mode → {sku: quantity}), stock and lead
    times (a SKU and site without a policy takes ``default_lead_time_days``).

    Raises:
        ValueError: a service level outside (0, 1), a negative quantity, lead time or review period.
    """
    if default_lead_time_days < 0 or review_days < 0:
        raise ValueError("lead time and review period must not be negative")
    for mode, kit in kits.items():
        if any(q < 0 for q in kit.values()):
            raise ValueError(f"kit {mode!r} has a negative quantity")
    z = z_of(service_level)
    preds = list(predictions)
    levels = {(s.sku, s.site): s for s in stock}
    if any(s.on_hand < 0 or s.reserved < 0 or s.on_order < 0 for s in levels.values()):
        raise ValueError("stock quantities must not be negative")
    lead = {(p.sku, p.site): p for p in policies}
    if any(p.lead_time_days < 0 or (p.reorder_qty or 0) < 0 for p in lead.values()):
        raise ValueError("a policy's lead time and reorder quantity must not be negative")
    sites = {p.site for p in preds}
    skus = {sku for kit in kits.values() for sku in kit}
    keys = set(levels) | {(sku, site) for sku in skus for site in sites}
    lead_days = {k: lead[k].lead_time_days if k in lead else default_lead_time_days for k in keys}
    # one pass over the predictions per distinct interval (lead times are few)
    cache: dict[float, Moments] = {}

    def moments(days: float) -> Moments:
        if days not in cache:
            cache[days] = _moments(preds, kits, days)
        return cache[days]

    lines = []
    for key in sorted(keys, key=lambda k: (k[1], k[0])):
        sku, site = key
        level = levels.get(key, StockLevel(sku, site, 0))
        lt = lead_days[key]
        mean, var, n = moments(lt + review_days).get(key, (0.0, 0.0, 0))
        sd = math.sqrt(max(0.0, var))
        position = level.free + level.on_order
        qty, order_by = 0, None
        if position < mean + z * sd:
            reorder = lead[key].reorder_qty if key in lead else None
            qty = max(math.ceil(mean + z * sd - position), reorder or 0)
            order_by = now + timedelta(days=_spare_days(position, lt, review_days, z, key, moments))
        lines.append(PartLine(sku, site, lt, mean, sd, z * sd, level.free, level.on_order, n, qty, order_by))
    modes = sorted({p.failure_mode for p in preds if not kits.get(p.failure_mode)})
    return PartsPlan(now, service_level, z, review_days, tuple(lines), tuple(modes))


def _spare_days(
    position: int,
    lead_days: float,
    review_days: float,
    z: float,
    key: tuple[str, str],
    moments: Callable[[float], Moments],
) -> float:
    """The last whole day s in [0, review] at which the position still covers the target over s + L."""
    spare = 0.0
    for s in range(1, math.floor(review_days) + 1):
        mean, var, _ = moments(lead_days + s).get(key, (0.0, 0.0, 0))
        if position < mean + z * math.sqrt(max(0.0, var)):
            break
        spare = float(s)
    return spare
