"""A simulated year of parts supply: a static reorder point against prediction-driven reordering.

The fleet is the simulator's (``ingest.fleet``): 500 pumps on three sites, each with a hidden life
(failure mode, onset of degradation, failure day) drawn by ``AssetSim.new_life``, one simulated step
a day for 365 days; at a failure the pump is replaced with a new life exactly as ``Fleet._reading``
does (failing again within the run with probability 1/2). Readings are not generated: only the
failure process matters here. Each failure consumes its mode's kit (``alerts/catalog.default.toml``)
at its site; what is not on the shelf is a stock-out (unfilled, lost: the repair waits for an
expedited part outside this model). Orders arrive after the SKU's lead time.

Both policies review every day and order up to a level against the inventory position (on hand +
on order), at the same service level:

- **static**: the level is the reorder point ``d·(L+1) + z·sqrt(d·(L+1))`` from the average demand
  rate d of the SKU at the site (Poisson demand; d is the year's true average, an oracle that favours
  the static policy);
- **predicted**: the level is ``E + z·sd`` from :func:`alerts.planning.parts_demand.plan_parts` over
  lead time + one day, fed with simulated predictions. From the onset of degradation the model sees
  the asset: RUL = true remaining days x a lognormal error (a per-life bias times a daily error) and
  risk = P(failure within the 30-day horizon) under that error; the failure mode is right 9 times in
  10. Before the onset the asset looks healthy and gets no prediction.

Reported for each: fill rate (units filled / units demanded), average units on hand (all SKUs and
sites, end of day), stock-outs and orders placed.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from alerts.catalog import load_catalog
from alerts.planning.parts_demand import Policy, Prediction, StockLevel, plan_parts, z_of
from ingest.fleet import AssetSim, FailureMode, Fleet, FleetConfig

DAYS = 365
ASSETS = 500
SITES = ("site-a", "site-b", "site-c")
HORIZON_DAYS = 30.0
SERVICE_LEVEL = 0.95
RUL_SD_LIFE = 0.25  # lognormal sd of a life's persistent RUL bias
RUL_SD_DAY = 0.15  # lognormal sd of the day-to-day RUL error
MODE_RIGHT = 0.9  # share of lives whose failure mode the model names right
DEFAULT_LEAD_DAYS = 14.0
LEAD_DAYS = {"IMP-CF-200": 28.0, "MTR-VARN-1L": 21.0, "BRG-6309-2RS": 7.0, "BRG-6307-2RS": 7.0}
START = datetime(2026, 1, 1, tzinfo=UTC)

Key = tuple[str, str]  # (sku, site)


@dataclass
class _Life:
    asset: AssetSim
    mode: FailureMode
    onset: int
    failure: int
    predicted_mode: str
    bias: float


def _lives(fleet: Fleet, rng: np.random.Generator) -> list[list[_Life]]:
    """Every asset's lives over the year, drawn by the simulator (``AssetSim.new_life``)."""
    modes = [m.value for m in FailureMode]
    out = []
    for asset in fleet.assets:
        lives: list[_Life] = []
        life = asset.life
        assert life is not None
        while True:
            wrong = rng.random() >= MODE_RIGHT
            named = str(rng.choice([m for m in modes if m != life.mode.value])) if wrong else life.mode.value
            bias = float(rng.lognormal(0.0, RUL_SD_LIFE))
            lives.append(_Life(asset, life.mode, life.onset_step, life.failure_step, named, bias))
            if life.failure_step >= DAYS:
                break
            # as Fleet._reading: a replaced pump gets new offsets and a new life
            asset.offsets = {name: float(asset.rng.normal(1.0, 0.04)) for name in asset.offsets}
            life = asset.new_life(life.failure_step, failing_in_run=bool(asset.rng.random() < 0.5))
        out.append(lives)
    return out


def _predictions(day: int, lives: list[list[_Life]], rng: np.random.Generator) -> list[Prediction]:
    """What the model says today about every asset it sees degrading."""
    sd = math.hypot(RUL_SD_LIFE, RUL_SD_DAY)
    out = []
    for asset_lives in lives:
        life = next((x for x in asset_lives if x.failure > day), None)
        if life is None or day < life.onset:
            continue
        rul = max(0.01, (life.failure - day) * life.bias * float(rng.lognormal(0.0, RUL_SD_DAY)))
        risk = 0.5 * math.erfc(math.log(rul / HORIZON_DAYS) / (sd * math.sqrt(2)))  # P(T <= H | rul)
        out.append(
            Prediction(life.asset.asset_id, life.asset.site, life.predicted_mode, risk, HORIZON_DAYS, rul)
        )
    return out


@dataclass
class _Shelf:
    """One policy's stock: on hand, pipeline of arrivals, and its counters."""

    on_hand: dict[Key, int]
    arrivals: dict[int, dict[Key, int]]
    demanded: int = 0
    filled: int = 0
    stockouts: int = 0
    orders: int = 0
    stock_days: float = 0.0

    def on_order(self, key: Key) -> int:
        return sum(batch.get(key, 0) for batch in self.arrivals.values())

    def order_up_to(self, day: int, key: Key, level: float, lead: float) -> None:
        position = self.on_hand.get(key, 0) + self.on_order(key)
        if position < level:
            qty = math.ceil(level - position)
            due = self.arrivals.setdefault(day + max(1, round(lead)), {})
            due[key] = due.get(key, 0) + qty
            self.orders += 1

    def issue(self, key: Key, qty: int) -> None:
        have = self.on_hand.get(key, 0)
        take = min(have, qty)
        self.on_hand[key] = have - take
        self.demanded += qty
        self.filled += take
        self.stockouts += int(take < qty)

    def result(self) -> dict[str, Any]:
        return {
            "fill_rate": round(self.filled / self.demanded, 4) if self.demanded else None,
            "avg_units_on_hand": round(self.stock_days / DAYS, 2),
            "units_demanded": self.demanded,
            "units_short": self.demanded - self.filled,
            "stockouts": self.stockouts,
            "orders": self.orders,
        }


def parts_bench(seed: int) -> dict[str, Any]:
    """One simulated year, both policies on the same failures; the figures as JSON-ready data."""
    started = time.perf_counter()
    kits = {mode: dict(lines) for mode, lines in load_catalog().kits.items()}
    config = FleetConfig(ASSETS, SITES, seed, START, interval_s=86_400.0, steps=DAYS)
    fleet = Fleet(config)
    rng = np.random.default_rng(np.random.SeedSequence([seed, 17]))
    lives = _lives(fleet, rng)
    failures: dict[int, list[_Life]] = defaultdict(list)
    for asset_lives in lives:
        for life in asset_lives:
            if life.failure < DAYS:
                failures[life.failure].append(life)
    keys = sorted({(sku, site) for kit in kits.values() for sku in kit for site in SITES})
    lead = {key: LEAD_DAYS.get(key[0], DEFAULT_LEAD_DAYS) for key in keys}
    yearly: dict[Key, int] = defaultdict(int)
    for day_failures in failures.values():
        for life in day_failures:
            for sku, qty in kits[life.mode.value].items():
                yearly[(sku, life.asset.site)] += qty
    z = z_of(SERVICE_LEVEL)
    rop = {}
    for key in keys:
        mean = yearly[key] / DAYS * (lead[key] + 1)
        rop[key] = mean + z * math.sqrt(mean)
    policies = [Policy(sku, site, lead[(sku, site)]) for sku, site in keys]

    def predicted_levels(day: int, shelf: _Shelf) -> dict[Key, float]:
        stock = [StockLevel(sku, site, shelf.on_hand.get((sku, site), 0)) for sku, site in keys]
        plan = plan_parts(_predictions(day, lives, rng), kits, stock, policies,
                          now=START + timedelta(days=day), service_level=SERVICE_LEVEL,
                          default_lead_time_days=DEFAULT_LEAD_DAYS, review_days=1.0)  # fmt: skip
        return {(x.sku, x.site): x.target for x in plan.lines}

    static = _Shelf({k: math.ceil(rop[k]) for k in keys}, {})
    predicted = _Shelf({}, {})
    predicted.on_hand = {k: math.ceil(v) for k, v in predicted_levels(0, predicted).items()}
    for day in range(DAYS):
        for shelf in (static, predicted):
            for key, qty in shelf.arrivals.pop(day, {}).items():
                shelf.on_hand[key] = shelf.on_hand.get(key, 0) + qty
            for life in failures.get(day, []):
                for sku, qty in kits[life.mode.value].items():
                    shelf.issue((sku, life.asset.site), qty)
            shelf.stock_days += sum(shelf.on_hand.values())
        for key in keys:
            static.order_up_to(day, key, rop[key], lead[key])
        for key, level in predicted_levels(day, predicted).items():
            predicted.order_up_to(day, key, level, lead[key])
    return {
        "seed": seed,
        "days": DAYS,
        "assets": ASSETS,
        "sites": len(SITES),
        "skus": len({k[0] for k in keys}),
        "failures": sum(len(v) for v in failures.values()),
        "service_level": SERVICE_LEVEL,
        "horizon_days": HORIZON_DAYS,
        "rul_error_sd": round(math.hypot(RUL_SD_LIFE, RUL_SD_DAY), 3),
        "mode_right": MODE_RIGHT,
        "static_reorder_point": static.result(),
        "prediction_driven": predicted.result(),
        "wall_s": round(time.perf_counter() - started, 2),
    }


if __name__ == "__main__":
    import sys

    import orjson

    print(
        orjson.dumps(
            parts_bench(int(sys.argv[1]) if len(sys.argv) > 1 else 7), option=orjson.OPT_INDENT_2
        ).decode()
    )
