"""The trained model: readings in; RUL, failure risk and the top contributing sensors out.

One object holds everything scoring needs (feature spec, regime normaliser, regressor, risk
calibration, healthy reference), so training, batch scoring, the MLflow pyfunc and the streaming
job all compute the same thing.

Risk is derived from the predicted RUL by a calibration fitted on out-of-fold predictions
(logistic or isotonic, whichever has the lower out-of-fold Brier score: :mod:`models.calibration`):
``risk = P(true RUL <= horizon | predicted RUL)``. Risk and RUL therefore never contradict each
other, and the risk is calibrated on assets the regressor had not seen.

Contributions are occlusion effects per sensor: how many cycles of RUL the model would give
back if that sensor's features looked like a healthy engine's (the training median over rows
with RUL at the cap). ``age_cycles`` counts as a sensor here.

The failure mode comes from a classifier on the same features, trained on readings within the
RUL cap of a failure with a named mode, when the source has at least two such modes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd

from forewarn.contracts.risk import UNSPECIFIED_FAILURE_MODE
from models.calibration import risk_of
from models.features import FeatureSpec, feature_names, feature_sensor, fleet_features
from models.regimes import RegimeNormaliser

ASSET = "asset_id"
OUTPUT_COLUMNS = (ASSET, "cycle", "rul", "risk", "failure_mode", "failure_mode_p", "top_features")
UNSPECIFIED_MODE = UNSPECIFIED_FAILURE_MODE  # the risk contract's word for "the model names none"
_CHUNK_ROWS = 256


@dataclass(frozen=True)
class RulRiskModel:
    """A fitted RUL regressor with its features, risk calibration and healthy reference."""

    spec: FeatureSpec
    normaliser: RegimeNormaliser
    family: str
    regressor: Any
    calibrator: Any
    reference: tuple[float, ...]
    rul_cap_cycles: int
    horizon_cycles: int
    # failure-mode classifier over the same features; none when the source had fewer than two
    # named modes (C-MAPSS): every row then gets ``unspecified``
    modes: tuple[str, ...] = ()
    mode_classifier: Any = None

    def features(self, readings: pd.DataFrame) -> pd.DataFrame:
        """Feature rows for readings of any number of assets (column ``asset_id``)."""
        return fleet_features(readings, self.spec, self.normaliser, ASSET)

    def predict_rul(self, features: pd.DataFrame) -> np.ndarray:
        """RUL in cycles, clipped to ``[0, rul_cap_cycles]`` (the range the target was trained on)."""
        values = features.loc[:, feature_names(self.spec)].to_numpy(dtype=np.float64)
        return np.clip(
            np.asarray(self.regressor.predict(values), dtype=np.float64), 0.0, float(self.rul_cap_cycles)
        )

    def risk(self, rul: np.ndarray) -> np.ndarray:
        """P(failure within the horizon) for predicted RULs.

        ``calibrator`` is a :class:`models.calibration.RiskCalibrator` (logistic or isotonic), or the
        bare ``LogisticRegression`` of versions registered before it: both still score.
        """
        return risk_of(self.calibrator, rul)

    def failure_modes(self, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """Most likely failure mode per row and its probability (``unspecified`` and NaN without modes).

        The mode is the one the asset would fail by if it failed now: meaningful when risk is
        high, a guess for a healthy asset (its probability says how much of one).
        """
        if self.mode_classifier is None or not self.modes:
            return np.full(len(features), UNSPECIFIED_MODE, dtype=object), np.full(len(features), np.nan)
        values = features.loc[:, feature_names(self.spec)].to_numpy(dtype=np.float64)
        proba = np.asarray(self.mode_classifier.predict_proba(values), dtype=np.float64)
        classes = [str(c) for c in self.mode_classifier.classes_]
        best = proba.argmax(axis=1)
        return np.asarray(classes, dtype=object)[best], proba[np.arange(len(best)), best]

    def sensor_groups(self) -> dict[str, list[int]]:
        """Feature positions per sensor (``age_cycles`` counts as one), in feature order."""
        groups: dict[str, list[int]] = {}
        for i, name in enumerate(feature_names(self.spec)):
            groups.setdefault(feature_sensor(name), []).append(i)
        return groups

    def occluded(self, values: np.ndarray) -> np.ndarray:
        """Feature rows with one sensor at a time made healthy: (sensors x rows, features), sensor-major.

        What :meth:`contributions` predicts; the streaming job stacks it under the rows it scores
        so one ``predict`` call does both (a boosted model's call costs milliseconds whatever its rows).
        """
        reference = np.asarray(self.reference)
        groups = self.sensor_groups()
        healthy = np.repeat(values[None, :, :], len(groups), axis=0)
        for g, columns in enumerate(groups.values()):
            healthy[g][:, columns] = reference[columns]
        return healthy.reshape(-1, values.shape[1])

    def as_healthy(self, values: np.ndarray) -> np.ndarray:
        """The regressor's raw predictions of :meth:`occluded` rows (sensor-major).

        A regressor with ``predict_occluded`` (``models.occlusion``: a forest walked once per tree
        for all sensors, the same numbers to the bit) answers without building the occluded rows;
        one that refuses the rows leaves them to ``predict``, which then raises its own error.
        """
        fast = getattr(self.regressor, "predict_occluded", None)
        if fast is not None:
            try:
                return np.asarray(
                    fast(values, np.asarray(self.reference), list(self.sensor_groups().values())),
                    dtype=np.float64,
                )
            except ValueError:
                pass
        return np.asarray(self.regressor.predict(self.occluded(values)), dtype=np.float64)

    def effects(self, as_healthy: np.ndarray, rul: np.ndarray) -> np.ndarray:
        """(rows, sensors) cycles of RUL each sensor takes away: the regressor's raw predictions of
        :meth:`occluded` rows, clipped as :meth:`predict_rul` clips, minus the rows' RUL."""
        groups = len(self.sensor_groups())
        clipped = np.clip(np.asarray(as_healthy, dtype=np.float64), 0.0, float(self.rul_cap_cycles))
        return np.asarray(clipped.reshape(groups, len(rul)).T - np.asarray(rul)[:, None], dtype=np.float64)

    def contributions(self, features: pd.DataFrame, rul: np.ndarray) -> pd.DataFrame:
        """Cycles of RUL each sensor takes away (positive) or adds (negative), per row."""
        values = features.loc[:, feature_names(self.spec)].to_numpy(dtype=np.float64)
        groups = self.sensor_groups()
        effect = np.empty((len(values), len(groups)))
        for start in range(0, len(values), _CHUNK_ROWS):
            chunk = values[start : start + _CHUNK_ROWS]
            part = rul[start : start + len(chunk)]
            effect[start : start + len(chunk)] = self.effects(self.as_healthy(chunk), part)
        return pd.DataFrame(effect, index=features.index, columns=list(groups))

    def predict(self, readings: pd.DataFrame, top_k: int = 3, latest_only: bool = False) -> pd.DataFrame:
        """Per input row (or per asset's latest row): asset, cycle, ``rul``, ``risk``,
        ``failure_mode`` (most likely mode, ``unspecified`` for a model without modes),
        ``failure_mode_p`` (its probability, NaN without modes), ``top_features``.

        Each row is scored from its asset's readings up to it within ``readings``: pass at least
        the last :func:`models.features.required_history` readings per asset for exact features.
        ``top_features`` is a JSON list ``[{"feature": sensor, "rul_cycles_lost": x}, ...]``,
        largest effect first. ``latest_only`` scores only each asset's last reading (streaming).
        """
        features = self.features(readings)
        if latest_only:
            latest = readings.groupby(ASSET, sort=False)["cycle"].idxmax().to_numpy()
            readings, features = readings.loc[latest], features.loc[latest]
        rul = self.predict_rul(features)
        risk = self.risk(rul)
        mode, mode_p = self.failure_modes(features)
        effects = self.contributions(features, rul) if top_k > 0 else None
        top: list[str] = []
        for i in range(len(features)):
            if effects is None:
                top.append("[]")
                continue
            row = effects.iloc[i]
            best = row.abs().sort_values(ascending=False, kind="stable").index[:top_k]
            top.append(
                orjson.dumps(
                    [{"feature": name, "rul_cycles_lost": round(float(row[name]), 2)} for name in best]
                ).decode()
            )
        return pd.DataFrame(
            {
                ASSET: readings[ASSET].astype(str).to_numpy(),
                "cycle": readings["cycle"].to_numpy(dtype=np.int64),
                "rul": rul,
                "risk": risk,
                "failure_mode": mode,
                "failure_mode_p": mode_p,
                "top_features": top,
            },
            index=readings.index,
        )
