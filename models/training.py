"""Training: compare model families with cross-validation grouped by asset, fit the best one.

Pure computation on frames of readings with an ``asset_id`` and a true ``rul_cycles`` column;
reading files and logging to MLflow happen at the edges (``models/cli.py``, ``models/tracking.py``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ingest.cmapss import SENSOR_COLUMNS, SETTING_COLUMNS
from models.features import FeatureSpec, feature_names
from models.labels import capped_rul, failure_within
from models.metrics import EvalMetrics, phm08_score, pr_auc, rmse
from models.predictor import ASSET, RulRiskModel
from models.regimes import fit_regimes
from models.settings import ModelsSettings

Progress = Callable[[str], None]


def make_estimator(family: str, seed: int) -> Any:
    """A fresh scikit-learn regressor of ``family`` sized for minutes on 2 cores.

    ``dummy`` predicts the training mean: the baseline every other family has to beat.
    """
    from sklearn.dummy import DummyRegressor
    from sklearn.ensemble import ExtraTreesRegressor, HistGradientBoostingRegressor
    from sklearn.linear_model import Ridge
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if family == "dummy":
        return DummyRegressor(strategy="mean")
    if family == "ridge":
        return make_pipeline(StandardScaler(), Ridge(alpha=10.0))
    if family == "extra_trees":
        return ExtraTreesRegressor(
            n_estimators=60, max_features=0.3, min_samples_leaf=10, n_jobs=2, random_state=seed
        )
    if family == "hgb":
        # small trees, slow learning: chosen by grouped CV on FD001 training engines (10.8 vs 11.2 RMSE
        # for 300 x 31 leaves at 0.05)
        return HistGradientBoostingRegressor(
            max_iter=600,
            learning_rate=0.03,
            max_leaf_nodes=15,
            min_samples_leaf=80,
            l2_regularization=1.0,
            random_state=seed,
        )
    raise ValueError(f"unknown model family {family!r}")


def asset_folds(assets: np.ndarray, n_folds: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Row indices (train, validation) per fold; every asset's rows fall in exactly one validation fold.

    Raises:
        ValueError: fewer assets than folds.
    """
    unique = np.unique(assets)
    if len(unique) < n_folds:
        raise ValueError(f"{len(unique)} assets cannot fill {n_folds} folds grouped by asset")
    order = np.random.default_rng(seed).permutation(unique)
    fold_of = {asset: i % n_folds for i, asset in enumerate(order)}
    fold = np.asarray([fold_of[a] for a in assets])
    return [(np.flatnonzero(fold != k), np.flatnonzero(fold == k)) for k in range(n_folds)]


def split_assets(assets: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Assets for training and for holding out (at least one each when ``fraction`` > 0)."""
    unique = np.random.default_rng(seed + 1).permutation(np.unique(assets))
    n_hold = round(len(unique) * fraction)
    if fraction > 0:
        n_hold = min(max(n_hold, 1), len(unique) - 1)
    return np.sort(unique[n_hold:]), np.sort(unique[:n_hold])


@dataclass
class TrainResult:
    """A fitted model plus what the run should record about how it was chosen."""

    model: RulRiskModel
    cv: dict[str, dict[str, float]]
    oof_rul: np.ndarray
    train_seconds: float
    data_rows: int
    timings: dict[str, float] = field(default_factory=dict)


def steps(settings: ModelsSettings) -> int:
    """Progress steps of :func:`train` (for a progress bar)."""
    return len(settings.families) * settings.cv_folds + 2


def train(readings: pd.DataFrame, settings: ModelsSettings, progress: Progress | None = None) -> TrainResult:
    """Fit the regime normaliser, compare families by grouped CV, refit the best on all readings.

    Args:
        readings: run-to-failure readings with ``asset_id``, ``cycle``, settings, sensors and
            ``rul_cycles`` (true RUL; rows with NaN RUL are censored and skipped).
        settings: families, folds, cap, horizon, windows.
        progress: called once per step with a short description.
    """
    step = progress or (lambda _: None)
    started = time.perf_counter()
    readings = readings[readings["rul_cycles"].notna()]
    normaliser = fit_regimes(
        readings, SETTING_COLUMNS, SENSOR_COLUMNS, settings.setting_decimals, settings.regime_min_rows
    )
    spec = FeatureSpec(sensors=normaliser.informative_sensors(), windows=settings.windows)
    skeleton = RulRiskModel(
        spec, normaliser, "", None, None, (), settings.rul_cap_cycles, settings.horizon_cycles
    )
    x = skeleton.features(readings).loc[:, feature_names(spec)].to_numpy(dtype=np.float64)
    true_rul = readings["rul_cycles"].to_numpy(dtype=np.float64)
    y = capped_rul(true_rul, settings.rul_cap_cycles)
    assets = readings[ASSET].astype(str).to_numpy()
    folds = asset_folds(assets, settings.cv_folds, settings.seed)
    cv: dict[str, dict[str, float]] = {}
    oof: dict[str, np.ndarray] = {}
    for family in settings.families:
        predicted = np.empty(len(y))
        for k, (fit_rows, val_rows) in enumerate(folds):
            step(f"cv {family} fold {k + 1}/{len(folds)}")
            estimator = make_estimator(family, settings.seed).fit(x[fit_rows], y[fit_rows])
            predicted[val_rows] = np.clip(estimator.predict(x[val_rows]), 0.0, settings.rul_cap_cycles)
        oof[family] = predicted
        cv[family] = {"rmse": rmse(predicted, y), "phm08_score": phm08_score(predicted, y) / len(y)}
    best = min(settings.families, key=lambda f: cv[f]["rmse"])
    step(f"fit {best} on all assets")
    regressor = make_estimator(best, settings.seed).fit(x, y)
    step("calibrate risk")
    calibrator = _fit_risk(oof[best], failure_within(true_rul, settings.horizon_cycles))
    healthy = y >= settings.rul_cap_cycles
    reference = np.median(x[healthy] if healthy.any() else x, axis=0)
    model = RulRiskModel(
        spec=spec,
        normaliser=normaliser,
        family=best,
        regressor=regressor,
        calibrator=calibrator,
        reference=tuple(float(v) for v in reference),
        rul_cap_cycles=settings.rul_cap_cycles,
        horizon_cycles=settings.horizon_cycles,
    )
    return TrainResult(model, cv, oof[best], time.perf_counter() - started, len(readings))


def _fit_risk(predicted_rul: np.ndarray, failed_within: np.ndarray) -> Any:
    from sklearn.linear_model import LogisticRegression

    if len(np.unique(failed_within)) < 2:
        raise ValueError("risk calibration needs readings both inside and outside the horizon")
    return LogisticRegression(C=1.0).fit(predicted_rul.reshape(-1, 1), failed_within)


def evaluate(
    model: RulRiskModel, readings: pd.DataFrame, true_rul: np.ndarray, points: np.ndarray
) -> EvalMetrics:
    """Scores on held-out assets: RMSE and PHM08 at the ``points`` rows, PR-AUC of risk on all rows.

    Args:
        model: the model to score.
        readings: held-out readings (``asset_id``, ``cycle``, settings, sensors).
        true_rul: true RUL of every row (uncapped).
        points: boolean mask of the rows where RUL is judged (e.g. each test engine's last cycle).
    """
    features = model.features(readings)
    rul = model.predict_rul(features)
    risk = model.risk(rul)
    return EvalMetrics(
        rmse=rmse(rul[points], true_rul[points]),
        phm08_score=phm08_score(rul[points], true_rul[points]),
        pr_auc=pr_auc(risk, failure_within(true_rul, model.horizon_cycles)),
        n_assets=int(readings[ASSET].nunique()),
        n_points=int(points.sum()),
    )
