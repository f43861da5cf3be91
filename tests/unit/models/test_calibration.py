"""Risk calibration: logistic or isotonic chosen by out-of-fold Brier score; models pickled with a bare
logistic regression still score; held-out scores both ways (capped and uncapped truth) and the Brier."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from ingest.cmapss import run_to_failure_rul
from models.calibration import CalibrationMethod, RiskCalibrator, choose_calibrator, fit_calibrator
from models.dataset import cmapss_columns
from models.labels import failure_within
from models.metrics import brier, phm08_score, rmse
from models.plots import reliability_figure
from models.settings import ModelsSettings
from models.training import TrainResult, asset_folds, evaluate, train
from models.units import unit_of_source
from tests.unit.models.conftest import synthetic_fleet


def synthetic(
    p_fail: Callable[[np.ndarray], np.ndarray], n_assets: int, rows_per_asset: int, seed: int
) -> tuple[np.ndarray, np.ndarray, list[tuple[np.ndarray, np.ndarray]]]:
    """Predicted RUL uniform on [0, 125], outcomes drawn with ``p_fail(rul)``, folds grouped by asset."""
    rng = np.random.default_rng(seed)
    assets = np.repeat([f"a{i}" for i in range(n_assets)], rows_per_asset)
    rul = rng.uniform(0.0, 125.0, size=assets.size)
    failed = (rng.uniform(size=assets.size) < p_fail(rul)).astype(np.int64)
    return rul, failed, asset_folds(assets, 3, seed)


def test_isotonic_wins_when_the_risk_is_a_staircase() -> None:
    # P(fail) 0.95 below 20 cycles, 0.4 up to 60, then 0: no sigmoid fits both steps
    rul, failed, folds = synthetic(lambda r: np.where(r < 20, 0.95, np.where(r < 60, 0.4, 0.0)), 40, 50, 1)
    calibrator = choose_calibrator(rul, failed, folds)
    report = calibrator.report
    assert report is not None
    assert calibrator.method is CalibrationMethod.ISOTONIC
    assert report.cv_brier_isotonic < report.cv_brier_logistic - 0.005
    assert report.n_rows == len(rul)
    risk = calibrator.risk(np.array([5.0, 40.0, 100.0, -3.0, 500.0]))  # outside the fitted range: clipped
    assert risk[0] == pytest.approx(0.95, abs=0.1)
    assert risk[1] == pytest.approx(0.4, abs=0.1)
    assert risk[2] == pytest.approx(0.0, abs=0.05)
    assert risk[3] == risk[0]
    assert risk[4] == risk[2]
    # refitted on every row: its in-sample Brier is no worse than the logistic's
    logistic = fit_calibrator(CalibrationMethod.LOGISTIC, rul, failed)
    assert brier(calibrator.risk(rul), failed) < brier(logistic.risk(rul), failed)


def test_logistic_is_kept_when_isotonic_only_fits_the_noise() -> None:
    # a true sigmoid, few rows: the step function chases noise and loses out of fold
    rul, failed, folds = synthetic(lambda r: 1 / (1 + np.exp(-(2 - r / 30))), 10, 5, 0)
    calibrator = choose_calibrator(rul, failed, folds)
    assert calibrator.report is not None
    assert calibrator.method is CalibrationMethod.LOGISTIC
    assert calibrator.report.cv_brier_logistic < calibrator.report.cv_brier_isotonic
    assert (np.diff(calibrator.risk(np.linspace(0, 125, 20))) < 0).all()
    params, metrics = calibrator.report.as_mlflow()
    assert params == {"calibration_method": "logistic"}
    assert set(metrics) == {"cv_brier_logistic", "cv_brier_isotonic"}


def test_one_outcome_cannot_be_calibrated() -> None:
    rul, _, folds = synthetic(lambda r: np.zeros_like(r), 6, 5, 0)
    with pytest.raises(ValueError, match="both inside and outside the horizon"):
        choose_calibrator(rul, np.zeros(len(rul), dtype=np.int64), folds)


@pytest.fixture(scope="module")
def fleet() -> pd.DataFrame:
    frame = synthetic_fleet(12, seed=11, min_life=80, max_life=160)
    frame["rul_cycles"] = run_to_failure_rul(frame)
    frame.insert(0, "asset_id", "syn-" + frame["unit"].astype(str))
    return frame


@pytest.fixture(scope="module")
def trained(fleet: pd.DataFrame) -> TrainResult:
    settings = ModelsSettings(families=("ridge",), cv_folds=3, windows=(5, 10), rul_cap_cycles=60,
                              horizon_cycles=15)  # fmt: skip
    return train(fleet[fleet["unit"] <= 9], settings, cmapss_columns())


def test_training_attaches_the_calibration_choice(trained: TrainResult) -> None:
    calibrator = trained.model.calibrator
    assert isinstance(calibrator, RiskCalibrator)
    assert calibrator.report is not None
    scores = {calibrator.report.cv_brier_logistic, calibrator.report.cv_brier_isotonic}
    assert all(0.0 <= s <= 0.25 for s in scores)  # both beat a coin on the training engines' OOF rows
    kept = getattr(calibrator.report, f"cv_brier_{calibrator.method.value}")
    assert kept == min(scores)


def test_a_model_pickled_with_a_bare_logistic_regression_still_scores(
    trained: TrainResult, fleet: pd.DataFrame, tmp_path: Path
) -> None:
    # what registered versions hold: the calibrator was the fitted LogisticRegression itself
    rul = trained.oof_rul
    true = trained.model.horizon_cycles + np.linspace(-20, 40, len(rul))
    bare = LogisticRegression().fit(rul.reshape(-1, 1), failure_within(true, trained.model.horizon_cycles))
    old = dataclasses.replace(trained.model, calibrator=bare)
    joblib.dump(old, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    readings = fleet[fleet["unit"] > 9].drop(columns=["rul_cycles", "unit"])
    out = loaded.predict(readings, top_k=0)
    np.testing.assert_allclose(out["risk"], bare.predict_proba(out["rul"].to_numpy().reshape(-1, 1))[:, 1])
    # and a new model survives the same round trip with its choice
    joblib.dump(trained.model, tmp_path / "new.joblib")
    new = joblib.load(tmp_path / "new.joblib")
    np.testing.assert_allclose(new.risk(out["rul"].to_numpy()), trained.model.risk(out["rul"].to_numpy()))
    assert new.calibrator.method is trained.model.calibrator.method


def test_evaluate_scores_against_the_truth_both_ways(trained: TrainResult, fleet: pd.DataFrame) -> None:
    held = fleet[fleet["unit"] > 9].reset_index(drop=True)
    true = held["rul_cycles"].to_numpy(dtype=float)
    points = np.ones(len(held), dtype=bool)  # every row, many beyond the cap of 60
    scores = evaluate(trained.model, held, true, points)
    rul = trained.model.predict_rul(trained.model.features(held))
    assert scores.rmse_capped == pytest.approx(rmse(rul, np.minimum(true, 60)))
    assert scores.phm08_capped == pytest.approx(phm08_score(rul, np.minimum(true, 60)))
    assert scores.rmse == pytest.approx(rmse(rul, true))
    assert scores.rmse_capped < scores.rmse  # the predictions never exceed the cap; the truth does
    risk = trained.model.risk(rul)
    assert scores.brier == pytest.approx(brier(risk, true <= 15))
    assert 0.0 < scores.brier < 0.25


def test_the_reliability_plot_shows_the_brier_and_the_rows_per_bin() -> None:
    risk = np.array([0.02, 0.03, 0.5, 0.55, 0.9])
    failed = np.array([0, 0, 1, 0, 1])
    fig = reliability_figure(risk, failed, 30, unit_of_source("cmapss:FD001", None))
    curve_axes, bar_axes = fig.axes
    assert f"Brier {brier(risk, failed):.4f}" in curve_axes.get_title()
    assert sorted(t.get_text() for t in bar_axes.texts) == ["1", "2", "2"]
