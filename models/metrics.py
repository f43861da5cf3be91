"""Scores a reliability engineer compares models on: RMSE, the PHM08 score and PR-AUC of the risk."""

from __future__ import annotations

import numpy as np
from pydantic import BaseModel, ConfigDict


def rmse(predicted: np.ndarray, true: np.ndarray) -> float:
    """Root mean squared error in cycles."""
    d = np.asarray(predicted, dtype=np.float64) - np.asarray(true, dtype=np.float64)
    return float(np.sqrt(np.mean(d**2)))


def phm08_score(predicted: np.ndarray, true: np.ndarray) -> float:
    """The PHM08 challenge score (lower is better): late predictions cost more than early ones.

    With ``d = predicted - true``: ``exp(-d/13) - 1`` when early (d < 0), ``exp(d/10) - 1`` when late.
    """
    d = np.asarray(predicted, dtype=np.float64) - np.asarray(true, dtype=np.float64)
    return float(np.sum(np.where(d < 0, np.exp(-d / 13.0) - 1.0, np.exp(d / 10.0) - 1.0)))


def pr_auc(risk: np.ndarray, failed_within: np.ndarray) -> float:
    """Area under the precision-recall curve (average precision) of the risk; NaN without positives."""
    from sklearn.metrics import average_precision_score

    labels = np.asarray(failed_within)
    if labels.sum() == 0:
        return float("nan")
    return float(average_precision_score(labels, np.asarray(risk, dtype=np.float64)))


class EvalMetrics(BaseModel):
    """Scores of one model on one set of held-out assets (what the promotion gate compares)."""

    model_config = ConfigDict(frozen=True)

    rmse: float
    phm08_score: float
    pr_auc: float
    n_assets: int
    n_points: int

    def as_mlflow(self, prefix: str) -> dict[str, float]:
        """Metric names for MLflow, e.g. ``holdout_rmse``."""
        return {f"{prefix}_{k}": float(v) for k, v in self.model_dump().items()}
