"""Training on a small synthetic multi-regime fleet: grouped folds, family choice, risk, scoring."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from ingest.cmapss import run_to_failure_rul
from models.dataset import cmapss_columns
from models.metrics import phm08_score, pr_auc, rmse
from models.predictor import OUTPUT_COLUMNS
from models.settings import ModelsSettings
from models.training import TrainResult, asset_folds, evaluate, split_assets, steps, train
from tests.unit.models.conftest import synthetic_fleet


def test_no_asset_in_two_folds() -> None:
    assets = np.repeat([f"a{i}" for i in range(11)], 7)
    folds = asset_folds(assets, n_folds=3, seed=4)
    seen: list[str] = []
    for fit_rows, val_rows in folds:
        assert set(assets[fit_rows]).isdisjoint(assets[val_rows])
        assert len(fit_rows) + len(val_rows) == len(assets)
        seen.extend(set(assets[val_rows]))
    assert sorted(seen) == sorted(set(assets))  # each asset validated exactly once
    with pytest.raises(ValueError, match="cannot fill"):
        asset_folds(assets[:14], n_folds=3, seed=0)


def test_holdout_assets_are_kept_apart() -> None:
    assets = np.repeat(np.arange(10).astype(str), 3)
    fit, held = split_assets(assets, 0.2, seed=1)
    assert len(held) == 2
    assert len(fit) == 8
    assert set(fit).isdisjoint(held)
    assert split_assets(assets, 0.0, seed=1)[1].size == 0


def test_metrics_on_known_values() -> None:
    assert rmse(np.array([3.0, 5.0]), np.array([0.0, 1.0])) == pytest.approx(np.sqrt(12.5))
    # one late by 10 cycles, one early by 13: (e - 1) + (e - 1)
    assert phm08_score(np.array([20.0, 0.0]), np.array([10.0, 13.0])) == pytest.approx(2 * (np.e - 1))
    assert pr_auc(np.array([0.9, 0.1, 0.8]), np.array([1, 0, 1])) == pytest.approx(1.0)
    assert np.isnan(pr_auc(np.array([0.9]), np.array([0])))


@pytest.fixture(scope="module")
def fleet() -> pd.DataFrame:
    frame = synthetic_fleet(12, seed=11, min_life=80, max_life=160)
    frame["rul_cycles"] = run_to_failure_rul(frame)
    frame.insert(0, "asset_id", "syn-" + frame["unit"].astype(str))
    return frame


@pytest.fixture(scope="module")
def trained(fleet: pd.DataFrame) -> TrainResult:
    settings = ModelsSettings(families=("dummy", "ridge"), cv_folds=3, windows=(5, 10), rul_cap_cycles=60,
                              horizon_cycles=15)  # fmt: skip
    calls: list[str] = []
    result = train(fleet[fleet["unit"] <= 9], settings, cmapss_columns(), calls.append)
    assert len(calls) == steps(settings)
    return result


def test_the_better_family_wins_grouped_cv(trained: TrainResult) -> None:
    assert trained.cv["ridge"]["rmse"] < trained.cv["dummy"]["rmse"]
    assert trained.model.family == "ridge"
    assert trained.model.normaliser.n_regimes == 6


def test_risk_falls_as_predicted_rul_rises(trained: TrainResult) -> None:
    risk = trained.model.risk(np.array([0.0, 15.0, 30.0, 60.0]))
    assert (np.diff(risk) < 0).all()
    assert risk[0] > 0.5 > risk[-1]


def test_held_out_assets_score_better_than_a_constant(trained: TrainResult, fleet: pd.DataFrame) -> None:
    held = fleet[fleet["unit"] > 9].reset_index(drop=True)
    true = held["rul_cycles"].to_numpy(dtype=float)
    points = true <= 60
    scores = evaluate(trained.model, held, true, points)
    constant = rmse(np.full(points.sum(), np.minimum(true, 60).mean()), true[points])
    assert scores.rmse < constant
    assert scores.n_assets == 3
    assert scores.pr_auc > 0.5


def test_predict_gives_rul_risk_and_top_features_per_row(trained: TrainResult, fleet: pd.DataFrame) -> None:
    readings = fleet[fleet["unit"] > 9].drop(columns=["rul_cycles", "unit"])
    out = trained.model.predict(readings, top_k=2)
    assert tuple(out.columns) == OUTPUT_COLUMNS
    assert len(out) == len(readings)
    assert ((out["rul"] >= 0) & (out["rul"] <= 60)).all()
    assert ((out["risk"] >= 0) & (out["risk"] <= 1)).all()
    top = json.loads(out["top_features"].iloc[-1])
    assert len(top) == 2
    assert {t["feature"] for t in top} <= {*trained.model.spec.sensors, "age_cycles"}
    assert abs(top[0]["rul_cycles_lost"]) >= abs(top[1]["rul_cycles_lost"])


def test_latest_only_scores_each_assets_last_reading(trained: TrainResult, fleet: pd.DataFrame) -> None:
    readings = fleet[fleet["unit"] > 9].drop(columns=["rul_cycles", "unit"])
    full = trained.model.predict(readings)
    latest = trained.model.predict(readings.sample(frac=1.0, random_state=2), latest_only=True)
    assert sorted(latest["asset_id"]) == sorted(readings["asset_id"].unique())
    expected = full.loc[full.groupby("asset_id")["cycle"].idxmax()].set_index("asset_id")
    got = latest.set_index("asset_id").loc[expected.index]
    np.testing.assert_allclose(got["rul"], expected["rul"])
    assert (got["top_features"] == expected["top_features"]).all()
