"""Brier score, reliability curve and the held-out scores' record (old registry tags still load)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from models.metrics import EvalMetrics, brier, reliability_curve

OLD_TAG = '{"rmse": 12.9, "phm08_score": 252.1, "pr_auc": 0.97, "n_assets": 100, "n_points": 100}'

probabilities = st.floats(0.0, 1.0, allow_nan=False)


@st.composite
def forecasts(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 200))
    risk = draw(arrays(np.float64, n, elements=probabilities))
    failed = draw(arrays(np.int64, n, elements=st.integers(0, 1)))
    return risk, failed


@given(forecasts())
def test_brier_lies_in_the_unit_interval(case: tuple[np.ndarray, np.ndarray]) -> None:
    risk, failed = case
    assert 0.0 <= brier(risk, failed) <= 1.0


@given(arrays(np.int64, st.integers(1, 200), elements=st.integers(0, 1)))
def test_perfect_forecasts_score_zero_and_the_opposite_one(failed: np.ndarray) -> None:
    assert brier(failed.astype(float), failed) == 0.0
    assert brier(1.0 - failed, failed) == 1.0


def test_brier_on_known_values() -> None:
    assert brier(np.full(4, 0.5), np.array([0, 1, 0, 1])) == pytest.approx(0.25)
    assert brier(np.array([0.8, 0.1]), np.array([1, 0])) == pytest.approx((0.04 + 0.01) / 2)
    assert math.isnan(brier(np.array([]), np.array([])))
    with pytest.raises(ValueError, match="3 risks for 2 outcomes"):
        brier(np.zeros(3), np.zeros(2))


@given(forecasts(), st.integers(1, 20), st.sampled_from(["uniform", "quantile"]))
def test_every_row_falls_in_exactly_one_bin(
    case: tuple[np.ndarray, np.ndarray], bins: int, strategy: str
) -> None:
    risk, failed = case
    curve = reliability_curve(risk, failed, bins=bins, strategy=strategy)  # type: ignore[arg-type]
    assert curve.counts.sum() == len(risk)
    assert len(curve.edges) == len(curve.counts) + 1 == len(curve.mean_risk) + 1
    assert len(curve.counts) <= bins
    filled = curve.counts > 0
    # each bin's mean risk lies within its edges, its observed rate is a rate
    assert (curve.mean_risk[filled] >= curve.edges[:-1][filled] - 1e-12).all()
    assert (curve.mean_risk[filled] <= curve.edges[1:][filled] + 1e-12).all()
    assert ((curve.observed_rate[filled] >= 0) & (curve.observed_rate[filled] <= 1)).all()
    assert np.isnan(curve.mean_risk[~filled]).all()
    # the rows' outcomes are all counted: failures per bin add up to the failures
    assert np.nansum(curve.observed_rate * curve.counts) == pytest.approx(failed.sum())


def test_reliability_curve_on_known_values() -> None:
    risk = np.array([0.05, 0.05, 0.15, 0.95, 1.0])
    failed = np.array([0, 1, 0, 1, 1])
    curve = reliability_curve(risk, failed, bins=10)
    np.testing.assert_allclose(curve.edges, np.linspace(0, 1, 11))
    assert curve.counts.tolist() == [2, 1, 0, 0, 0, 0, 0, 0, 0, 2]  # 1.0 falls in the last bin
    assert curve.observed_rate[0] == 0.5
    assert curve.mean_risk[9] == pytest.approx(0.975)
    quantile = reliability_curve(np.arange(8) / 8, np.zeros(8), bins=4, strategy="quantile")
    assert quantile.counts.tolist() == [2, 2, 2, 2]
    same = reliability_curve(np.full(5, 0.3), np.ones(5), bins=4, strategy="quantile")
    assert same.counts.tolist() == [5]


def test_metrics_recorded_before_the_capped_and_brier_fields_still_load() -> None:
    old = EvalMetrics(**json.loads(OLD_TAG))
    assert old.rmse == 12.9
    assert math.isnan(old.rmse_capped)
    assert math.isnan(old.phm08_capped)
    assert math.isnan(old.brier)
    new = EvalMetrics(**json.loads(OLD_TAG), rmse_capped=11.8, phm08_capped=200.0, brier=0.03)
    assert EvalMetrics(**json.loads(json.dumps(new.model_dump()))) == new
    assert new.as_mlflow("holdout")["holdout_brier"] == 0.03
    assert {"holdout_rmse_capped", "holdout_phm08_capped"} <= set(new.as_mlflow("holdout"))
