"""Feature rows from one asset's ordered readings: shared by training, batch scoring and streaming.

The streaming job keeps, per asset, only the last :func:`required_history` readings and calls
:func:`asset_features` on them; training calls the same function on each asset's whole history.
Every feature of a row depends only on that row and the ``W - 1`` readings before it, and each
window is computed from exactly the same numbers in the same order either way, so the last row
of a window equals the batch row (tested in ``tests/unit/models/test_features.py``).

Input frame (one asset, oldest first): ``cycle`` (the asset's age in cycles, strictly rising),
the settings and sensor columns the normaliser knows. Output columns, in :func:`feature_names`
order: ``age_cycles`` (unless the spec leaves age out), then per sensor ``<sensor>__last`` and
``<sensor>__<stat>_<w>`` for every window ``w`` and statistic. Partial windows at the start of
life use the readings there are; the slope is per reading (least squares on the reading
position), 0 with a single reading.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view
from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.regimes import RegimeNormaliser


class Stat(StrEnum):
    """Rolling statistics over a window of readings."""

    MEAN = "mean"
    STD = "std"
    SLOPE = "slope"
    MIN = "min"
    MAX = "max"


class FeatureErrorReason(StrEnum):
    """Why a frame of readings cannot be turned into features."""

    EMPTY = "empty"
    MISSING_COLUMN = "missing_column"
    NOT_FINITE = "not_finite"
    NOT_ORDERED = "not_ordered"


class FeatureInputError(ValueError):
    """Readings that cannot be featurised; ``reason`` says why, the message says where."""

    def __init__(self, reason: FeatureErrorReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class FeatureSpec(BaseModel):
    """Which features to compute: logged with every training run and stored with the model."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sensors: tuple[str, ...] = Field(min_length=1)
    windows: tuple[int, ...] = Field(default=(5, 10, 20, 30), min_length=1)
    stats: tuple[Stat, ...] = (Stat.MEAN, Stat.STD, Stat.SLOPE, Stat.MIN, Stat.MAX)
    # age_cycles (the ``cycle`` column) as a feature: right where ``cycle`` counts the asset's life
    # (C-MAPSS); wrong where it keeps counting across replacements (the fleet's ``seq``)
    age: bool = True

    def __setstate__(self, state: dict[str, Any]) -> None:
        # specs pickled before ``age`` existed (registered models) load with its default
        fields = state.get("__dict__")
        if isinstance(fields, dict):
            fields.setdefault("age", True)
        super().__setstate__(state)

    @field_validator("windows")
    @classmethod
    def _positive_sorted(cls, windows: tuple[int, ...]) -> tuple[int, ...]:
        if any(w < 1 for w in windows):
            raise ValueError(f"windows must be positive reading counts, got {windows}")
        return tuple(sorted(set(windows)))


def required_history(spec: FeatureSpec) -> int:
    """Readings per asset the streaming state must keep so its last row equals the batch row.

    Every statistic, the slope included, looks at most ``max(windows)`` readings back.
    """
    return max(spec.windows)


def feature_names(spec: FeatureSpec) -> list[str]:
    """Output columns of :func:`asset_features`, in order."""
    names = ["age_cycles"] if spec.age else []
    for sensor in spec.sensors:
        names.append(f"{sensor}__last")
        names.extend(f"{sensor}__{stat}_{w}" for w in spec.windows for stat in spec.stats)
    return names


def feature_sensor(name: str) -> str:
    """The sensor a feature comes from (``age_cycles`` for the age)."""
    return name.split("__", 1)[0]


def _check(readings: pd.DataFrame, columns: list[str]) -> None:
    if readings.empty:
        raise FeatureInputError(FeatureErrorReason.EMPTY, "no readings")
    missing = [c for c in columns if c not in readings.columns]
    if missing:
        raise FeatureInputError(FeatureErrorReason.MISSING_COLUMN, f"readings lack {missing}")
    values = readings.loc[:, columns].to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        bad = [c for c, ok in zip(columns, np.isfinite(values).all(axis=0), strict=True) if not ok]
        raise FeatureInputError(FeatureErrorReason.NOT_FINITE, f"NaN or infinite values in {bad}")
    cycles = readings["cycle"].to_numpy(dtype=np.float64)
    if (np.diff(cycles) <= 0).any():
        raise FeatureInputError(FeatureErrorReason.NOT_ORDERED, "cycle must rise strictly within an asset")


def _window_stats(
    values: np.ndarray, window: int, stats: tuple[Stat, ...], first_row: int = 0
) -> dict[Stat, np.ndarray]:
    """Statistics over the trailing ``window`` readings of every row from ``first_row`` on: each
    (rows - first_row, sensors)."""
    _rows, sensors = values.shape
    padded = np.vstack([np.full((window - 1, sensors), np.nan), values])
    # (rows, sensors, window), NaN before life starts
    view = sliding_window_view(padded, window, axis=0)[first_row:]
    valid = ~np.isnan(view)
    count = valid.sum(axis=2)
    filled = np.where(valid, view, 0.0)
    mean = filled.sum(axis=2) / count
    out: dict[Stat, np.ndarray] = {}
    for stat in stats:
        if stat is Stat.MEAN:
            out[stat] = mean
        elif stat is Stat.STD:
            deviation = np.where(valid, view - mean[:, :, None], 0.0)
            out[stat] = np.sqrt((deviation**2).sum(axis=2) / count)
        elif stat is Stat.MIN:
            out[stat] = np.where(valid, view, np.inf).min(axis=2)
        elif stat is Stat.MAX:
            out[stat] = np.where(valid, view, -np.inf).max(axis=2)
        elif stat is Stat.SLOPE:
            position = np.arange(window, dtype=np.float64)[None, None, :]
            centre = np.where(valid, position, 0.0).sum(axis=2) / count
            dx = np.where(valid, position - centre[:, :, None], 0.0)
            dy = np.where(valid, view - mean[:, :, None], 0.0)
            denominator = (dx**2).sum(axis=2)
            out[stat] = np.divide(
                (dx * dy).sum(axis=2), denominator, out=np.zeros_like(mean), where=denominator > 0
            )
    return out


def asset_features(
    readings: pd.DataFrame, spec: FeatureSpec, normaliser: RegimeNormaliser, first_row: int = 0
) -> pd.DataFrame:
    """Feature rows for one asset's readings, oldest first; same index as ``readings`` (from ``first_row``).

    Args:
        readings: one asset's readings ordered by ``cycle`` (the whole history, or the last
            :func:`required_history` readings in streaming: the last row is the same either way).
        spec: which sensors, windows and statistics.
        normaliser: the regime normaliser learned at training time.
        first_row: rows before it are history only: no feature rows for them (the streaming
            state holds readings it scored in earlier micro-batches; their rows would be thrown away).

    Raises:
        FeatureInputError: empty input, a missing column, a NaN/infinite value, or cycles that
            do not rise strictly.
    """
    _check(readings, ["cycle", *normaliser.settings, *spec.sensors])
    normalised = normaliser.transform(readings).loc[:, list(spec.sensors)].to_numpy(dtype=np.float64)
    rows = len(readings) - first_row
    # One float64 block in feature_names order (per sensor: the last value, then each window's
    # statistics), built with one reshape: a frame from a dict of hundreds of columns, or a copy
    # per column, cost most of each call, and the streaming job calls this per asset and micro-batch.
    per_sensor = [normalised[first_row:, :, None]]
    for w in spec.windows:
        window = _window_stats(normalised, w, spec.stats, first_row)
        per_sensor.extend(window[stat][:, :, None] for stat in spec.stats)
    block = np.concatenate(per_sensor, axis=2).reshape(rows, len(spec.sensors) * len(per_sensor))
    if spec.age:
        cycles = readings["cycle"].to_numpy(dtype=np.float64)[first_row:, None]
        block = np.hstack([cycles, block])
    return pd.DataFrame(block, index=readings.index[first_row:], columns=feature_names(spec), copy=False)


def fleet_features(
    readings: pd.DataFrame, spec: FeatureSpec, normaliser: RegimeNormaliser, asset_column: str
) -> pd.DataFrame:
    """:func:`asset_features` for every asset of a frame (batch training and scoring).

    Rows are ordered by cycle within each asset here, so input order does not matter; the result
    keeps the input's index, so it aligns with labels computed on the same frame.
    """
    if asset_column not in readings.columns:
        raise FeatureInputError(FeatureErrorReason.MISSING_COLUMN, f"readings lack {asset_column!r}")
    if readings.empty:
        raise FeatureInputError(FeatureErrorReason.EMPTY, "no readings")
    parts = [
        asset_features(group.sort_values("cycle", kind="stable"), spec, normaliser)
        for _, group in readings.groupby(asset_column, sort=False)
    ]
    return pd.concat(parts).loc[readings.index]
