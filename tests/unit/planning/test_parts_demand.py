"""Parts demand from predictions: the conversion to the lead time, the moments per SKU and site,
safety stock and purchase suggestions (pure; properties with hypothesis)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.planning.parts_demand import (
    PartLine,
    PartsPlan,
    Policy,
    Prediction,
    StockLevel,
    failure_probability,
    plan_parts,
    z_of,
)

NOW = datetime(2026, 6, 1, tzinfo=UTC)
KITS = {"bearing_wear": {"BRG": 1, "GRS": 2}, "seal_leak": {"SEAL": 1, "GSK": 1}, "cavitation": {"GSK": 1}}


def plan(
    preds: Sequence[Prediction],
    stock: Sequence[StockLevel] = (),
    policies: Sequence[Policy] = (),
    *,
    service_level: float = 0.95,
    lead: float = 14.0,
    review: float = 0.0,
) -> PartsPlan:
    return plan_parts(preds, KITS, stock, policies, now=NOW, service_level=service_level,
                      default_lead_time_days=lead, review_days=review)  # fmt: skip


def line(p: PartsPlan, sku: str, site: str = "s1") -> PartLine:
    return next(x for x in p.lines if (x.sku, x.site) == (sku, site))


def test_constant_hazard_is_exact_at_the_horizon_and_compounds_beyond() -> None:
    assert failure_probability(0.3, 30, 30, None) == pytest.approx(0.3)
    assert failure_probability(0.5, 30, 60, None) == pytest.approx(0.75)
    assert failure_probability(0.5, 30, 15, None) == pytest.approx(1 - math.sqrt(0.5))
    assert failure_probability(1.0, 30, 1, None) == 1.0
    assert failure_probability(0.0, 30, 60, 1.0) == 0.0


def test_a_rul_inside_the_interval_lifts_the_probability_to_the_risk() -> None:
    short = failure_probability(0.8, 30, 14, rul_days=5)
    long_ = failure_probability(0.8, 30, 14, rul_days=25)
    assert short == pytest.approx(0.8)
    assert long_ == pytest.approx(1 - 0.2 ** (14 / 30))
    assert short > long_


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="risk in"):
        failure_probability(1.2, 30, 14, None)
    with pytest.raises(ValueError, match="service level"):
        z_of(1.0)
    with pytest.raises(ValueError, match="negative"):
        plan([], [StockLevel("BRG", "s1", -1)])
    with pytest.raises(ValueError, match="negative"):
        plan_parts([], {"m": {"X": -1}}, [], [], now=NOW, service_level=0.9, default_lead_time_days=14)


def test_demand_and_variance_sum_bernoulli_failures_times_kit_quantities() -> None:
    preds = [
        Prediction("a1", "s1", "bearing_wear", 0.5, 14.0),  # p = 0.5 over L = H
        Prediction("a2", "s1", "bearing_wear", 0.2, 14.0),
        Prediction("a3", "s2", "bearing_wear", 0.9, 14.0),  # another site
    ]
    p = plan(preds)
    grs = line(p, "GRS")
    assert grs.expected_demand == pytest.approx(2 * (0.5 + 0.2))
    assert grs.demand_sd == pytest.approx(math.sqrt(4 * (0.25 + 0.16)))
    assert grs.safety_stock == pytest.approx(z_of(0.95) * grs.demand_sd)
    assert grs.assets == 2
    assert line(p, "BRG", "s2").expected_demand == pytest.approx(0.9)


def test_a_sku_in_two_kits_adds_both_modes() -> None:
    p = plan(
        [Prediction("a1", "s1", "seal_leak", 0.5, 14.0), Prediction("a2", "s1", "cavitation", 0.5, 14.0)]
    )
    assert line(p, "GSK").expected_demand == pytest.approx(1.0)
    assert line(p, "SEAL").expected_demand == pytest.approx(0.5)


def test_stock_below_target_gets_a_suggestion_up_to_target_now() -> None:
    preds = [Prediction(f"a{i}", "s1", "bearing_wear", 0.9, 14.0) for i in range(4)]
    p = plan(preds, [StockLevel("BRG", "s1", on_hand=3, reserved=2, on_order=0)])
    brg = line(p, "BRG")
    assert brg.free_stock == 1
    assert brg.suggested_qty == math.ceil(brg.target - 1)
    assert brg.order_by == NOW
    assert brg in p.suggestions


def test_enough_stock_means_nothing_to_order() -> None:
    p = plan([Prediction("a1", "s1", "bearing_wear", 0.3, 14.0)], [StockLevel("BRG", "s1", on_hand=10)])
    assert line(p, "BRG").suggested_qty == 0
    assert line(p, "BRG").order_by is None
    assert all(x.sku != "BRG" for x in p.suggestions)


def test_the_reorder_quantity_is_a_minimum_and_the_policy_lead_time_wins() -> None:
    preds = [Prediction("a1", "s1", "bearing_wear", 0.9, 30.0)]
    p = plan(preds, policies=[Policy("BRG", "s1", lead_time_days=30.0, reorder_qty=5)])
    assert line(p, "BRG").lead_time_days == 30.0
    assert line(p, "BRG").suggested_qty == 5
    assert line(p, "GRS").lead_time_days == 14.0


def test_order_by_is_later_when_stock_covers_the_first_days_of_the_review() -> None:
    # ten assets at risk 0.5 over 30 days, lead time 3 days, review 14: three on the shelf cover the
    # target over 3 + 2 days (2.7 units) but not over 3 + 3 (3.03): order within two days
    preds = [Prediction(f"a{i}", "s1", "cavitation", 0.5, 30.0) for i in range(10)]
    p = plan(preds, [StockLevel("GSK", "s1", on_hand=3)], lead=3.0, review=14.0)
    gsk = line(p, "GSK")
    assert gsk.suggested_qty == math.ceil(gsk.target - 3)
    assert gsk.order_by == NOW + timedelta(days=2)
    assert (
        line(plan(preds, [StockLevel("GSK", "s1", on_hand=1)], lead=3.0, review=14.0), "GSK").order_by == NOW
    )


def test_unknown_failure_modes_are_reported_not_planned() -> None:
    p = plan([Prediction("a1", "s1", "gearbox", 0.9, 14.0)])
    assert p.unkitted_modes == ("gearbox",)
    assert all(x.expected_demand == 0 for x in p.lines)


risks = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)
modes = st.sampled_from(sorted(KITS))
prediction = st.builds(
    Prediction,
    asset_id=st.text(min_size=1, max_size=4),
    site=st.sampled_from(["s1", "s2"]),
    failure_mode=modes,
    risk=risks,
    horizon_days=st.floats(min_value=0.5, max_value=90),
    rul_days=st.none() | st.floats(min_value=0, max_value=200),
)
stock_levels = st.lists(
    st.builds(StockLevel, sku=st.sampled_from(["BRG", "GRS", "SEAL", "GSK"]), site=st.sampled_from(["s1"]),
              on_hand=st.integers(0, 20), reserved=st.integers(0, 2), on_order=st.integers(0, 5)),
    max_size=6,
)  # fmt: skip
lead_times = st.floats(min_value=0, max_value=60)


@given(st.lists(prediction, max_size=12), st.data(), lead_times)
def test_more_risk_never_lowers_demand(preds: list[Prediction], data: st.DataObject, lead: float) -> None:
    bumps = [data.draw(st.floats(min_value=p.risk, max_value=1.0)) for p in preds]
    riskier = [Prediction(p.asset_id, p.site, p.failure_mode, r, p.horizon_days, p.rul_days)
               for p, r in zip(preds, bumps, strict=True)]  # fmt: skip
    before = {(x.sku, x.site): x.expected_demand for x in plan(preds, lead=lead).lines}
    after = {(x.sku, x.site): x.expected_demand for x in plan(riskier, lead=lead).lines}
    for key, value in before.items():
        assert after[key] >= value - 1e-9


@given(st.lists(prediction, max_size=12), stock_levels, lead_times, st.floats(0, 14))
def test_zero_risk_means_zero_demand_and_no_suggestion(
    preds: list[Prediction], stock: list[StockLevel], lead: float, review: float
) -> None:
    calm = [Prediction(p.asset_id, p.site, p.failure_mode, 0.0, p.horizon_days, p.rul_days) for p in preds]
    for x in plan(calm, stock, lead=lead, review=review).lines:
        assert x.expected_demand == 0
        assert x.demand_sd == 0
        assert x.suggested_qty == max(0, -(x.free_stock + x.on_order))  # only to cover over-reservation


@given(
    st.lists(prediction, max_size=12),
    stock_levels,
    lead_times,
    st.floats(0, 14),
    st.floats(min_value=0.5, max_value=0.999),
)
def test_variance_and_suggestions_are_well_formed(
    preds: list[Prediction], stock: list[StockLevel], lead: float, review: float, level: float
) -> None:
    p = plan(preds, stock, lead=lead, review=review, service_level=level)
    for x in p.lines:
        assert x.demand_sd >= 0
        assert x.safety_stock >= 0
        assert isinstance(x.suggested_qty, int)
        assert x.suggested_qty >= 0
        if x.suggested_qty:
            assert x.free_stock + x.on_order + x.suggested_qty >= x.target - 1e-9
            assert x.order_by is not None
            assert NOW <= x.order_by <= NOW + timedelta(days=review)
        else:
            assert x.free_stock + x.on_order >= x.target - 1e-9
