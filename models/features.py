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
from pydantic import BaseModel, ConfigDict, Field, field_validator

from models.feature_kernel import MAX, MEAN, MIN, SLOPE, STD, feature_rows
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


def _check(readings: pd.DataFrame, columns: list[str], ordered: bool = True) -> None:
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
    if ordered and (np.diff(cycles) <= 0).any():
        raise FeatureInputError(FeatureErrorReason.NOT_ORDERED, "cycle must rise strictly within an asset")


def window_features(
    normalised: np.ndarray, ends: np.ndarray, starts: np.ndarray, cycles: np.ndarray, spec: FeatureSpec
) -> np.ndarray:
    """The one feature computation: feature rows (:func:`feature_names` order) for many rows of many
    assets at once. Training (:func:`asset_features`, :func:`fleet_features`) and the streaming job
    (``streaming.step``) both call it.

    Args:
        normalised: (rows, spec sensors) z-scores; each asset's rows contiguous, oldest first.
        ends: the rows to compute features for (positions in ``normalised``).
        starts: for each of ``ends``, the position of its asset's first row there: no window
            reaches before it (partial windows at the start of life use the readings there are).
        cycles: (rows,) each row's age in cycles (``age_cycles``).
        spec: which windows and statistics.

    Every number of a feature row is computed from the values of that row's own window only, one
    value at a time from the row backwards (:func:`models.feature_kernel.feature_rows`, compiled
    without fast-math), never by a reduction whose order depends on the caller's layout or row
    count. So a row's features are bit for bit the same whether it is computed with an asset's whole
    history, with the last :func:`required_history` readings, alone or beside thousands of other
    assets' rows.
    """
    ends = np.asarray(ends, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    values = np.ascontiguousarray(np.asarray(normalised, dtype=np.float64).T)  # (sensors, readings)
    # the compiled loop does not check bounds: a bad index would read memory, not raise
    outside = len(ends) and (ends.min() < 0 or ends.max() >= values.shape[1] or starts.min() < 0)
    if outside or (starts > ends).any():
        raise IndexError("window_features: ends and starts must be rows of normalised, starts <= ends")
    codes = np.array([_STAT_CODES[stat] for stat in spec.stats], dtype=np.int64)
    windows = np.array(spec.windows, dtype=np.int64)
    sensors = values.shape[0]
    # the age column first, then the kernel's columns, written in place: a stacked copy of a
    # 50,000-row call of 200-reading windows was 220 MB, and a tenth of the step's time
    lead = 1 if spec.age else 0
    block = np.empty((len(ends), lead + sensors * (1 + len(windows) * len(codes))), dtype=np.float64)
    if spec.age:
        block[:, 0] = np.asarray(cycles, dtype=np.float64)[ends]
    if len(ends):
        feature_rows(values, ends, starts, windows, codes, block[:, lead:])
    return block


_STAT_CODES = {Stat.MEAN: MEAN, Stat.STD: STD, Stat.SLOPE: SLOPE, Stat.MIN: MIN, Stat.MAX: MAX}


def asset_features(
    readings: pd.DataFrame, spec: FeatureSpec, normaliser: RegimeNormaliser, first_row: int = 0
) -> pd.DataFrame:
    """Feature rows for one asset's readings, oldest first; same index as ``readings`` (from ``first_row``).

    Args:
        readings: one asset's readings ordered by ``cycle`` (the whole history, or the last
            :func:`required_history` readings: the last row is the same either way).
        spec: which sensors, windows and statistics.
        normaliser: the regime normaliser learned at training time.
        first_row: rows before it are history only: no feature rows for them.

    Raises:
        FeatureInputError: empty input, a missing column, a NaN/infinite value, or cycles that
            do not rise strictly.
    """
    _check(readings, ["cycle", *normaliser.settings, *spec.sensors])
    normalised = normaliser.transform(readings).loc[:, list(spec.sensors)].to_numpy(dtype=np.float64)
    ends = np.arange(first_row, len(readings), dtype=np.int64)
    cycles = readings["cycle"].to_numpy(dtype=np.float64)
    block = window_features(normalised, ends, np.zeros_like(ends), cycles, spec)
    return pd.DataFrame(block, index=readings.index[first_row:], columns=feature_names(spec), copy=False)


def fleet_features(
    readings: pd.DataFrame, spec: FeatureSpec, normaliser: RegimeNormaliser, asset_column: str
) -> pd.DataFrame:
    """:func:`asset_features` for every asset of a frame (batch training and scoring), in one pass.

    Rows are ordered by cycle within each asset here, so input order does not matter; the result
    keeps the input's index, so it aligns with labels computed on the same frame.
    """
    if asset_column not in readings.columns:
        raise FeatureInputError(FeatureErrorReason.MISSING_COLUMN, f"readings lack {asset_column!r}")
    _check(readings, ["cycle", *normaliser.settings, *spec.sensors], ordered=False)
    codes = pd.factorize(readings[asset_column], sort=False)[0]
    cycles = readings["cycle"].to_numpy(dtype=np.float64)
    order = np.lexsort((cycles, codes))  # by asset, then cycle (stable)
    ordered = readings.iloc[order]
    sorted_codes, sorted_cycles = codes[order], cycles[order]
    same_asset = sorted_codes[1:] == sorted_codes[:-1]
    if (same_asset & (np.diff(sorted_cycles) <= 0)).any():
        raise FeatureInputError(FeatureErrorReason.NOT_ORDERED, "cycle must rise strictly within an asset")
    first_of_asset = np.concatenate([[True], ~same_asset])
    starts = np.maximum.accumulate(np.where(first_of_asset, np.arange(len(order)), 0))
    normalised = normaliser.transform(ordered).loc[:, list(spec.sensors)].to_numpy(dtype=np.float64)
    block = window_features(normalised, np.arange(len(order)), starts, sorted_cycles, spec)
    features = pd.DataFrame(block, index=ordered.index, columns=feature_names(spec), copy=False)
    return features.loc[readings.index]
