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

from forewarn.contracts.labels import NO_FAILURE
from models.columns import SourceColumns
from models.features import FeatureSpec, feature_names
from models.labels import capped_rul, failure_within
from models.metrics import EvalMetrics, brier, phm08_score, pr_auc, rmse
from models.predictor import ASSET, UNSPECIFIED_MODE, RulRiskModel
from models.regimes import fit_regimes
from models.settings import ModelsSettings

Progress = Callable[[str], None]
HGB_SEEDS = 3  # boosted models averaged by the ``hgb_avg`` family
# Families whose predictions stay within the targets they were fitted on: they may skip the rows
# before ``fit_min_history_cycles`` and still predict those rows sensibly. Ridge extrapolates
# there (partial windows, ages it never saw: FD001 held-out PR-AUC 0.97 -> 0.74), so it fits every row.
BOUNDED_FAMILIES = frozenset({"dummy", "extra_trees", "hgb", "hgb_avg"})


def make_estimator(family: str, seed: int) -> Any:
    """A fresh scikit-learn regressor of ``family`` sized for minutes on 2 cores.

    ``dummy`` predicts the training mean: the baseline every other family has to beat.
    """
    from sklearn.dummy import DummyRegressor
    from sklearn.ensemble import ExtraTreesRegressor, VotingRegressor
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
        return _hgb(seed)
    if family == "hgb_avg":
        # the mean of HGB_SEEDS boosted models: above 10 000 rows each stops early on its own random
        # validation split, and averaging them cuts that variance
        return VotingRegressor([(f"seed{i}", _hgb(seed + i)) for i in range(HGB_SEEDS)])
    raise ValueError(f"unknown model family {family!r}")


def _hgb(seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingRegressor

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


def truncation_points(
    assets: np.ndarray,
    cycles: np.ndarray,
    true_rul: np.ndarray,
    cuts_per_asset: int,
    min_history_cycles: int,
    max_rul_cycles: float,
    seed: int,
) -> np.ndarray:
    """Rows where a benchmark-like score judges each asset: up to ``cuts_per_asset`` truncation points.

    The C-MAPSS benchmark judges one prediction per test engine, at the last cycle of a history
    cut "some time prior to failure", against the true (uncapped) RUL. Its truncation rule is not
    published; the test engines of FD001 and FD003 run at least 31 cycles and end 6 to 145
    cycles before failure. So each asset is cut at cycles drawn uniformly, without replacement,
    among its rows with at least ``min_history_cycles`` of history and a true RUL from 1 to
    ``max_rul_cycles``. Features depend only on the readings up to a row, so the out-of-fold
    prediction at a cut row is the prediction for the asset truncated there.

    Args:
        assets: asset of every row.
        cycles: the asset's age in cycles (or reading count) of every row.
        true_rul: uncapped true RUL of every row.
        cuts_per_asset: truncation points per asset (fewer when it has fewer eligible rows).
        min_history_cycles: earliest cycle a cut may fall on.
        max_rul_cycles: largest true RUL at a cut.
        seed: the same seed and readings give the same points, whatever the row order.

    Returns:
        Sorted row indices.
    """
    rng = np.random.default_rng(seed)
    eligible = (np.asarray(cycles) >= min_history_cycles) & (true_rul >= 1) & (true_rul <= max_rul_cycles)
    chosen: list[np.ndarray] = []
    for asset in np.unique(assets):
        rows = np.flatnonzero((assets == asset) & eligible)
        rows = rows[np.argsort(np.asarray(cycles)[rows], kind="stable")]  # row order does not matter
        if rows.size:
            chosen.append(rng.choice(rows, size=min(cuts_per_asset, rows.size), replace=False))
    return np.sort(np.concatenate(chosen)) if chosen else np.empty(0, dtype=np.int64)


def cv_scores(
    predicted: np.ndarray, capped: np.ndarray, true_rul: np.ndarray, cuts: np.ndarray
) -> dict[str, float]:
    """Out-of-fold scores: over all rows against the capped target (``rmse``, ``phm08_score`` per row)
    and benchmark-like at the truncation points, against the capped target there (``cut_rmse_capped``,
    ``cut_phm08_score_capped``: the convention C-MAPSS results are usually quoted in) and against the
    true RUL (``cut_rmse``, ``cut_phm08_score``); per point, ``cut_points``; NaN without points.
    """
    scores = {"rmse": rmse(predicted, capped), "phm08_score": phm08_score(predicted, capped) / len(capped)}
    nan = float("nan")
    at_cuts = {"cut_rmse": nan, "cut_phm08_score": nan, "cut_rmse_capped": nan, "cut_phm08_score_capped": nan}
    if cuts.size:
        at_cuts = {
            "cut_rmse": rmse(predicted[cuts], true_rul[cuts]),
            "cut_phm08_score": phm08_score(predicted[cuts], true_rul[cuts]) / cuts.size,
            "cut_rmse_capped": rmse(predicted[cuts], capped[cuts]),
            "cut_phm08_score_capped": phm08_score(predicted[cuts], capped[cuts]) / cuts.size,
        }
    return scores | at_cuts | {"cut_points": float(cuts.size)}


def selection_score(scores: dict[str, float]) -> float:
    """What picks the family: the benchmark-like RMSE against the capped target at the truncation
    points, or the all-rows RMSE without truncation points.

    Capped, because a prediction at the cap for an asset far from failure is right as far as the
    model can know (its target never exceeds the cap): the uncapped figure mostly measures how far
    beyond the cap the truncated assets happen to be.
    """
    cut = scores["cut_rmse_capped"]
    return scores["rmse"] if np.isnan(cut) else cut


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
    return len(settings.families) * settings.cv_folds + 3


def train(
    readings: pd.DataFrame,
    settings: ModelsSettings,
    columns: SourceColumns,
    progress: Progress | None = None,
) -> TrainResult:
    """Fit the regime normaliser, compare families by grouped CV, refit the best on all readings.

    Args:
        readings: run-to-failure readings with ``asset_id``, ``cycle``, settings, sensors and
            ``rul_cycles`` (true RUL; rows with NaN RUL are censored: the regime normaliser learns
            from them, the regressor skips them); optionally
            ``failure_mode`` (the coming failure's mode), which trains the failure-mode classifier
            when at least two named modes occur within the RUL cap.
        settings: families, folds, cap, horizon, windows.
        columns: the source's settings and sensor columns (the model's input columns).
        progress: called once per step with a short description.
    """
    step = progress or (lambda _: None)
    started = time.perf_counter()
    # the regimes' statistics need no label: censored readings (after an asset's last known failure,
    # or a live pump whose outcome is not known yet) are the fleet's telemetry all the same, and after
    # a change they are most of what shows the new operating point; leaving them out learned a new
    # duty point from the few labelled readings, mostly the run-up of failing pumps
    normaliser = fit_regimes(
        readings, columns.settings, columns.sensors, columns.setting_decimals, settings.regime_min_rows
    )
    readings = readings[readings["rul_cycles"].notna()]
    spec = FeatureSpec(
        sensors=normaliser.informative_sensors(), windows=settings.windows, age=columns.cycle_is_age
    )
    skeleton = RulRiskModel(
        spec, normaliser, "", None, None, (), settings.rul_cap_cycles, settings.horizon_cycles
    )
    x = skeleton.features(readings).loc[:, feature_names(spec)].to_numpy(dtype=np.float64)
    true_rul = readings["rul_cycles"].to_numpy(dtype=np.float64)
    keep = thin_healthy(true_rul, settings.rul_cap_cycles, settings.healthy_stride)
    readings, x, true_rul = readings[keep], x[keep], true_rul[keep]
    y = capped_rul(true_rul, settings.rul_cap_cycles)
    assets = readings[ASSET].astype(str).to_numpy()
    folds = asset_folds(assets, settings.cv_folds, settings.seed)
    cuts = truncation_points(
        assets,
        readings["cycle"].to_numpy(dtype=np.float64),
        true_rul,
        settings.cv_cuts_per_asset,
        settings.cv_min_history_cycles,
        settings.cv_max_rul_cycles,
        settings.seed,
    )
    # bounded families fit on rows with enough history; every row is still predicted and scored
    history_ok = readings["cycle"].to_numpy(dtype=np.float64) >= settings.fit_min_history_cycles
    if not history_ok.any():
        raise ValueError(f"no readings at cycle >= fit_min_history_cycles={settings.fit_min_history_cycles}")
    cv: dict[str, dict[str, float]] = {}
    oof: dict[str, np.ndarray] = {}
    for family in settings.families:
        predicted = np.empty(len(y))
        for k, (fit_rows, val_rows) in enumerate(folds):
            step(f"cv {family} fold {k + 1}/{len(folds)}")
            fit_ok = history_ok if family in BOUNDED_FAMILIES else np.ones(len(y), dtype=bool)
            fit_rows = fit_rows[fit_ok[fit_rows]]
            estimator = make_estimator(family, settings.seed).fit(x[fit_rows], y[fit_rows])
            predicted[val_rows] = np.clip(estimator.predict(x[val_rows]), 0.0, settings.rul_cap_cycles)
        oof[family] = predicted
        cv[family] = cv_scores(predicted, y, true_rul, cuts)
    best = min(settings.families, key=lambda f: selection_score(cv[f]))
    step(f"fit {best} on all assets")
    fit_ok = history_ok if best in BOUNDED_FAMILIES else np.ones(len(y), dtype=bool)
    regressor = make_estimator(best, settings.seed).fit(x[fit_ok], y[fit_ok])
    step("calibrate risk")
    calibrator = _fit_risk(oof[best], failure_within(true_rul, settings.horizon_cycles), assets, settings)
    step("fit failure-mode classifier")
    modes, mode_classifier = _fit_modes(x, y, readings, settings)
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
        modes=modes,
        mode_classifier=mode_classifier,
    )
    return TrainResult(model, cv, oof[best], time.perf_counter() - started, len(readings))


def thin_healthy(true_rul: np.ndarray, cap_cycles: float, stride: int) -> np.ndarray:
    """Rows to fit on: every row below the RUL cap, every ``stride``-th row at or above it.

    At the cap the target is flat and consecutive readings of a healthy asset are near copies;
    long healthy histories (a simulated fleet, months of telemetry) can be thinned to cut
    training time without losing what the model learns from the run-up to failures.
    """
    healthy = np.asarray(true_rul) >= cap_cycles
    keep: np.ndarray = ~healthy | (np.cumsum(healthy) % stride == 0)
    return keep


def named_modes(modes: pd.Series | np.ndarray) -> np.ndarray:
    """Which entries name a failure mode (not empty, not ``none``, not ``unknown``/``unspecified``)."""
    text = pd.Series(np.asarray(modes, dtype=object)).fillna("").astype(str).str.strip()
    named: np.ndarray = ~text.isin(["", NO_FAILURE, "unknown", UNSPECIFIED_MODE]).to_numpy()
    return named


def _fit_modes(
    x: np.ndarray, capped: np.ndarray, readings: pd.DataFrame, settings: ModelsSettings
) -> tuple[tuple[str, ...], Any]:
    """A failure-mode classifier on readings within the RUL cap of a named failure, or none.

    Readings at the cap look like a healthy asset whatever comes later, so only the run-up to a
    failure teaches which mode it is; a source with fewer than two named modes gets no classifier.
    """
    from sklearn.ensemble import ExtraTreesClassifier

    if "failure_mode" not in readings.columns:
        return (), None
    modes = readings["failure_mode"].fillna("").astype(str).to_numpy()
    rows = named_modes(modes) & (capped < settings.rul_cap_cycles)
    classes = tuple(sorted(set(modes[rows])))
    if len(classes) < 2:
        return (), None
    # extra trees: on 200 simulated pumps as accurate as gradient boosting (0.977 vs 0.964 within
    # 50 steps of a failure, another seed) at a twentieth of the CPU time
    classifier = ExtraTreesClassifier(
        n_estimators=100, min_samples_leaf=5, max_features=0.3, n_jobs=2, random_state=settings.seed
    ).fit(x[rows], modes[rows])
    return classes, classifier


def mode_accuracy(
    model: RulRiskModel, features: pd.DataFrame, true_modes: np.ndarray, rows: np.ndarray
) -> float:
    """Share of ``rows`` whose predicted failure mode is the true one (NaN without rows or modes)."""
    if not rows.any() or model.mode_classifier is None:
        return float("nan")
    predicted, _ = model.failure_modes(features.loc[rows])
    return float(np.mean(predicted == np.asarray(true_modes, dtype=object)[rows]))


def extra_scores(
    model: RulRiskModel, readings: pd.DataFrame, labels: pd.DataFrame | None, step_s: float | None
) -> dict[str, float]:
    """Held-out scores beyond the gate's: failure-mode accuracy and warning lead times.

    ``holdout_mode_accuracy``: share of readings within the horizon of a named failure whose
    predicted mode is right. ``holdout_lead_steps_*``: steps between risk first reaching 0.5 and
    each failure (:mod:`models.lead_time`), with ``holdout_failures`` and ``holdout_missed``.
    Each needs what the source has (modes; reading times and timed labels); absent ones are left out.
    """
    from models.columns import TIME_MS
    from models.lead_time import lead_summary, lead_times

    out: dict[str, float] = {}
    known = readings[readings["rul_cycles"].notna()]
    if model.mode_classifier is not None and "failure_mode" in known.columns and len(known):
        true_rul = known["rul_cycles"].to_numpy(dtype=np.float64)
        modes = known["failure_mode"].to_numpy()
        rows = (true_rul <= model.horizon_cycles) & named_modes(modes)
        out["holdout_mode_accuracy"] = mode_accuracy(model, model.features(known), modes, rows)
    if labels is not None and step_s and TIME_MS in readings.columns and len(readings):
        risk = model.risk(model.predict_rul(model.features(readings)))
        summary = lead_summary(lead_times(readings.assign(risk=risk), labels, ASSET, TIME_MS, step_s))
        out |= {f"holdout_{k}": float(v) for k, v in summary.items() if v is not None}
    return out


def _fit_risk(
    predicted_rul: np.ndarray, failed_within: np.ndarray, assets: np.ndarray, settings: ModelsSettings
) -> Any:
    """The risk calibrator (logistic or isotonic on the out-of-fold predicted RUL), its choice attached.

    The two are compared on a second split of the out-of-fold rows, grouped by asset like the CV
    but with another seed (:func:`models.calibration.choose_calibrator`); the report rides on the
    calibrator (``calibrator.report``) for the run to log.
    """
    from models.calibration import choose_calibrator

    folds = asset_folds(assets, settings.cv_folds, settings.seed + 2)
    return choose_calibrator(predicted_rul, failed_within, folds)


def evaluate(
    model: RulRiskModel, readings: pd.DataFrame, true_rul: np.ndarray, points: np.ndarray
) -> EvalMetrics:
    """Scores on held-out assets: RMSE and PHM08 at the ``points`` rows, PR-AUC and Brier of risk on all rows.

    RMSE and PHM08 both ways: against the true RUL (``rmse``, ``phm08_score``) and against the true
    RUL capped at the model's training cap (``rmse_capped``, ``phm08_capped``: the published convention).

    Args:
        model: the model to score.
        readings: held-out readings (``asset_id``, ``cycle``, settings, sensors).
        true_rul: true RUL of every row (uncapped).
        points: boolean mask of the rows where RUL is judged (e.g. each test engine's last cycle).
    """
    rul = model.predict_rul(model.features(readings))
    return scores(
        rul, model.risk(rul), true_rul, points, model.rul_cap_cycles, model.horizon_cycles,
        int(readings[ASSET].nunique()),
    )  # fmt: skip


def scores(
    rul: np.ndarray,
    risk: np.ndarray,
    true_rul: np.ndarray,
    points: np.ndarray,
    cap_cycles: int,
    horizon_cycles: int,
    n_assets: int,
) -> EvalMetrics:
    """:func:`evaluate` on predictions already made (e.g. out of fold, each row by its own model)."""
    failed = failure_within(true_rul, horizon_cycles)
    capped = capped_rul(true_rul[points], cap_cycles)
    return EvalMetrics(
        rmse=rmse(rul[points], true_rul[points]),
        phm08_score=phm08_score(rul[points], true_rul[points]),
        pr_auc=pr_auc(risk, failed),
        n_assets=n_assets,
        n_points=int(points.sum()),
        rmse_capped=rmse(rul[points], capped),
        phm08_capped=phm08_score(rul[points], capped),
        brier=brier(risk, failed),
    )
