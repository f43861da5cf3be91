"""Scores a reliability engineer compares models on: RMSE, the PHM08 score, PR-AUC and the Brier
score of the risk, and the reliability curve that shows whether the risk means what it says."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict

BinStrategy = Literal["uniform", "quantile"]


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


def brier(risk: np.ndarray, failed_within: np.ndarray) -> float:
    """Brier score of the risk: mean squared gap between P(failure within the horizon) and what happened.

    0 for perfect forecasts, 0.25 for a constant 0.5, lower is better; unlike PR-AUC it punishes a risk
    that ranks assets well but is too high or too low (uncalibrated). NaN without rows.
    """
    p = np.asarray(risk, dtype=np.float64).reshape(-1)
    y = np.asarray(failed_within, dtype=np.float64).reshape(-1)
    if p.shape != y.shape:
        raise ValueError(f"{p.size} risks for {y.size} outcomes")
    return float(np.mean((p - y) ** 2)) if p.size else float("nan")


@dataclass(frozen=True)
class ReliabilityCurve:
    """Risk binned: per bin the mean predicted risk, the observed failure rate and the rows in it.

    ``edges`` has one more entry than the other arrays; an empty bin has NaN mean and rate and count 0.
    """

    edges: np.ndarray
    mean_risk: np.ndarray
    observed_rate: np.ndarray
    counts: np.ndarray


def reliability_curve(
    risk: np.ndarray, failed: np.ndarray, bins: int = 10, strategy: BinStrategy = "uniform"
) -> ReliabilityCurve:
    """The reliability diagram's points: a calibrated risk has observed rate = mean risk in every bin.

    ``uniform`` (the default): equal-width bins over [0, 1], the classic diagram, read directly against
    the diagonal and comparable between models; most rows of a fleet are healthy, so the upper bins
    hold few rows, and the counts say how far to trust them. ``quantile``: bins with equal numbers of
    rows (edges at quantiles of the risk; tied edges merge, so there can be fewer bins), when the
    sparse bins matter more than comparable edges. Every row falls in exactly one bin (risk 1.0 in the last).
    """
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    p = np.asarray(risk, dtype=np.float64).reshape(-1)
    y = np.asarray(failed, dtype=np.float64).reshape(-1)
    if p.shape != y.shape:
        raise ValueError(f"{p.size} risks for {y.size} outcomes")
    if strategy == "quantile" and p.size:
        edges = np.unique(np.quantile(p, np.linspace(0.0, 1.0, bins + 1)))
        if edges.size == 1:  # every risk the same: one bin around it
            edges = np.array([edges[0], edges[0]])
    else:
        edges = np.linspace(0.0, 1.0, bins + 1)
    n_bins = edges.size - 1
    # right-open bins, the last one closed: searchsorted on the inner edges
    which = np.searchsorted(edges[1:-1], p, side="right")
    counts = np.bincount(which, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_risk = np.bincount(which, weights=p, minlength=n_bins) / counts
        observed = np.bincount(which, weights=y, minlength=n_bins) / counts
    return ReliabilityCurve(edges, mean_risk, observed, counts)


class EvalMetrics(BaseModel):
    """Scores of one model on one set of held-out assets (what the promotion gate compares).

    ``rmse`` and ``phm08_score`` judge the predicted RUL against the true RUL; ``rmse_capped`` and
    ``phm08_capped`` against the true RUL capped at the model's training cap (the convention of
    nearly every published C-MAPSS table); ``brier`` is the Brier score of the risk on every row.
    The later fields default to NaN: scores recorded before them (registry tags) still load.
    """

    model_config = ConfigDict(frozen=True)

    rmse: float
    phm08_score: float
    pr_auc: float
    n_assets: int
    n_points: int
    rmse_capped: float = math.nan
    phm08_capped: float = math.nan
    brier: float = math.nan

    def as_mlflow(self, prefix: str) -> dict[str, float]:
        """Metric names for MLflow, e.g. ``holdout_rmse``."""
        return {f"{prefix}_{k}": float(v) for k, v in self.model_dump().items()}
