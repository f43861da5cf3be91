"""Risk from predicted RUL: ``risk = P(true RUL <= horizon | predicted RUL)``, calibrated out of fold.

Two calibrators, both monotone in the predicted RUL (so risk and RUL never contradict each other):

- ``logistic``: a logistic regression on the predicted RUL, two parameters; smooth, but it forces a
  sigmoid on whatever shape the true relation has.
- ``isotonic``: the best non-increasing step function of the predicted RUL (pool adjacent violators,
  linear between steps, clipped outside the fitted range); any shape, but it can overfit few rows.

Both are fitted on out-of-fold predicted RUL (the regressor had not seen those assets), never on
the regressor's own training predictions, which are too good. :func:`choose_calibrator` compares
the two on a second split of those rows, grouped by asset, and keeps isotonic only when its
out-of-fold Brier score is lower.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import numpy as np

from models.metrics import brier


class CalibrationMethod(StrEnum):
    """How predicted RUL becomes a probability."""

    LOGISTIC = "logistic"
    ISOTONIC = "isotonic"


@dataclass(frozen=True)
class CalibrationReport:
    """What the run records about the choice: the method kept and both out-of-fold Brier scores.

    A score is NaN when no fold could fit that calibrator (each needs both outcomes in its rows).
    """

    method: CalibrationMethod
    cv_brier_logistic: float
    cv_brier_isotonic: float
    n_rows: int

    def as_mlflow(self) -> tuple[dict[str, str], dict[str, float]]:
        """Run parameters (``calibration_method``) and metrics (``cv_brier_*``; NaN ones left out)."""
        metrics = {"cv_brier_logistic": self.cv_brier_logistic, "cv_brier_isotonic": self.cv_brier_isotonic}
        return (
            {"calibration_method": self.method.value},
            {k: v for k, v in metrics.items() if not np.isnan(v)},
        )


@dataclass(frozen=True)
class RiskCalibrator:
    """One interface over both calibrators: :meth:`risk` maps predicted RUL to P(failure within horizon)."""

    method: CalibrationMethod
    estimator: Any
    report: CalibrationReport | None = None

    def risk(self, rul: np.ndarray) -> np.ndarray:
        """P(failure within the horizon) per predicted RUL, in [0, 1]."""
        x = np.asarray(rul, dtype=np.float64).reshape(-1)
        if self.method is CalibrationMethod.ISOTONIC:
            p = self.estimator.predict(x)
        else:
            p = self.estimator.predict_proba(x.reshape(-1, 1))[:, 1]
        return np.clip(np.asarray(p, dtype=np.float64), 0.0, 1.0)


def risk_of(calibrator: Any, rul: np.ndarray) -> np.ndarray:
    """Risk from any calibrator a model may hold: a :class:`RiskCalibrator`, or the bare
    ``LogisticRegression`` of models pickled before it existed (registered versions still load)."""
    if isinstance(calibrator, RiskCalibrator):
        return calibrator.risk(rul)
    x = np.asarray(rul, dtype=np.float64).reshape(-1, 1)
    return np.asarray(calibrator.predict_proba(x)[:, 1], dtype=np.float64)


def fit_calibrator(
    method: CalibrationMethod, predicted_rul: np.ndarray, failed_within: np.ndarray
) -> RiskCalibrator:
    """Fit one calibrator on (predicted RUL, failed within the horizon) rows.

    Raises:
        ValueError: the rows hold only one outcome (nothing to calibrate against).
    """
    from sklearn.isotonic import IsotonicRegression
    from sklearn.linear_model import LogisticRegression

    x = np.asarray(predicted_rul, dtype=np.float64).reshape(-1)
    y = np.asarray(failed_within, dtype=np.int64).reshape(-1)
    if len(np.unique(y)) < 2:
        raise ValueError("risk calibration needs readings both inside and outside the horizon")
    if method is CalibrationMethod.ISOTONIC:
        isotonic = IsotonicRegression(increasing=False, out_of_bounds="clip", y_min=0.0, y_max=1.0)
        estimator: Any = isotonic.fit(x, y)
    else:
        estimator = LogisticRegression(C=1.0).fit(x.reshape(-1, 1), y)
    return RiskCalibrator(method, estimator)


def cv_brier(
    method: CalibrationMethod,
    predicted_rul: np.ndarray,
    failed_within: np.ndarray,
    folds: list[tuple[np.ndarray, np.ndarray]],
) -> float:
    """Brier score of ``method`` with each fold's rows scored by a calibrator fitted on the others.

    Pooled over every held-out row of the folds whose fitting rows hold both outcomes (a fold
    without them is skipped); NaN when no fold qualifies.
    """
    x = np.asarray(predicted_rul, dtype=np.float64).reshape(-1)
    y = np.asarray(failed_within, dtype=np.int64).reshape(-1)
    risks, outcomes = [], []
    for fit_rows, held_rows in folds:
        if len(np.unique(y[fit_rows])) < 2 or held_rows.size == 0:
            continue
        risks.append(fit_calibrator(method, x[fit_rows], y[fit_rows]).risk(x[held_rows]))
        outcomes.append(y[held_rows])
    if not risks:
        return float("nan")
    return brier(np.concatenate(risks), np.concatenate(outcomes))


def choose_calibrator(
    predicted_rul: np.ndarray, failed_within: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]]
) -> RiskCalibrator:
    """Logistic or isotonic, by out-of-fold Brier score; the winner refitted on every row.

    Args:
        predicted_rul: out-of-fold predicted RUL of the training rows.
        failed_within: 1 where the row's asset failed within the horizon, else 0.
        folds: (fit rows, held rows) over those rows, grouped by asset, and another split than the
            one that produced the out-of-fold predictions.

    Returns:
        The refitted calibrator, its :class:`CalibrationReport` attached. Isotonic is kept only when
        it scores strictly better: logistic is the smaller model and wins ties and NaN.

    Raises:
        ValueError: the rows hold only one outcome.
    """
    scores = {m: cv_brier(m, predicted_rul, failed_within, folds) for m in CalibrationMethod}
    logistic, isotonic = scores[CalibrationMethod.LOGISTIC], scores[CalibrationMethod.ISOTONIC]
    better = not np.isnan(isotonic) and (np.isnan(logistic) or isotonic < logistic)
    method = CalibrationMethod.ISOTONIC if better else CalibrationMethod.LOGISTIC
    fitted = fit_calibrator(method, predicted_rul, failed_within)
    report = CalibrationReport(method, logistic, isotonic, int(np.asarray(predicted_rul).size))
    return RiskCalibrator(method, fitted.estimator, report)
