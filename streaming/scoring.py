"""The champion model in each Python worker: loaded once, its alias re-resolved on an interval.

Spark reuses Python workers across micro-batches, so a module-level cache means one load per
worker, and a promotion in the registry reaches every worker within ``alias_refresh_s`` without
restarting the query. Every score carries the name and version of the model that made it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

log = logging.getLogger(__name__)


@dataclass
class Champion:
    """A loaded model version and when its alias was last checked."""

    name: str
    alias: str
    version: str
    model: Any  # models.predictor.RulRiskModel
    checked_at_s: float

    @property
    def horizon_cycles(self) -> float:
        return float(self.model.horizon_cycles)


@dataclass(frozen=True)
class ModelRef:
    """Which registered model to score with, and where the registry is."""

    tracking_uri: str
    registry_uri: str
    name: str
    alias: str
    refresh_s: float


_CACHE: dict[ModelRef, Champion] = {}


def _load(ref: ModelRef, version: str) -> Any:
    import mlflow

    mlflow.set_tracking_uri(ref.tracking_uri)
    mlflow.set_registry_uri(ref.registry_uri)
    pyfunc = mlflow.pyfunc.load_model(f"models:/{ref.name}/{version}")
    return pyfunc.unwrap_python_model().model


def _alias_version(ref: ModelRef) -> str:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=ref.tracking_uri, registry_uri=ref.registry_uri)
    return str(client.get_model_version_by_alias(ref.name, ref.alias).version)


def champion(
    ref: ModelRef,
    clock: Callable[[], float] = time.monotonic,
    resolve: Callable[[ModelRef], str] = _alias_version,
    load: Callable[[ModelRef, str], Any] = _load,
) -> Champion:
    """The model ``ref`` points at, reloading only when the alias moved.

    If the registry cannot be reached but a model is loaded, scoring goes on with it (logged);
    with nothing loaded the error propagates and fails the micro-batch, which is then retried.
    """
    now = clock()
    cached = _CACHE.get(ref)
    if cached is not None and now - cached.checked_at_s < ref.refresh_s:
        return cached
    try:
        version = resolve(ref)
    except Exception:
        if cached is None:
            raise
        log.warning("cannot resolve %s@%s; scoring on with version %s", ref.name, ref.alias, cached.version)
        cached.checked_at_s = now
        return cached
    if cached is not None and cached.version == version:
        cached.checked_at_s = now
        return cached
    loaded = Champion(ref.name, ref.alias, version, load(ref, version), now)
    if cached is not None:
        log.info("%s@%s moved from version %s to %s", ref.name, ref.alias, cached.version, version)
    _CACHE[ref] = loaded
    return loaded


def required_history(model: Any) -> int:
    """Readings per asset the model's features need (models.features.required_history)."""
    from models.features import required_history as needed

    return int(needed(model.spec))


def score_rows(model: Any, readings: pd.DataFrame, rows: np.ndarray, top_k: int) -> pd.DataFrame:
    """RUL, risk and the top contributing features for ``rows`` (a boolean mask) of ``readings``.

    Features are computed on all of ``readings`` (one asset's window, oldest first) so each row
    sees the readings before it, exactly as in training; only the masked rows are scored.

    Returns:
        A frame aligned with the masked rows: ``rul_cycles``, ``risk``, ``top_features`` (a list
        of ``{"name", "contribution"}`` where contribution is the cycles of RUL that sensor takes away).
    """
    features = model.features(readings).loc[rows]
    rul = model.predict_rul(features)
    risk = model.risk(rul)
    if top_k > 0:
        effects = model.contributions(features, rul)
        top = [
            [
                {"name": str(name), "contribution": round(float(row[name]), 3)}
                for name in row.abs().sort_values(ascending=False, kind="stable").index[:top_k]
            ]
            for _, row in effects.iterrows()
        ]
    else:
        top = [[] for _ in range(len(features))]
    return pd.DataFrame({"rul_cycles": rul, "risk": risk, "top_features": top}, index=features.index)
