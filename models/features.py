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


_CHUNK_ROWS = 4096
"""Feature rows computed per pass (bounds the temporaries: a few (rows, sensors) arrays each)."""


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

    Every number of a feature row is computed from the values of that row's own window only, in a
    fixed order and memory layout (see ``_feature_block``), never by a reduction whose order numpy
    may choose by the caller's layout or row count. So a row's features are bit for bit the same
    whether it is computed with an asset's whole history, with the last :func:`required_history`
    readings, alone or beside thousands of other assets' rows.
    """
    ends = np.asarray(ends, dtype=np.int64)
    starts = np.asarray(starts, dtype=np.int64)
    width = len(feature_names(spec))
    out = np.empty((len(ends), width), dtype=np.float64)
    for first in range(0, len(ends), _CHUNK_ROWS):
        chunk = slice(first, first + _CHUNK_ROWS)
        out[chunk] = _feature_block(normalised, ends[chunk], starts[chunk], cycles, spec)
    return out


def _feature_block(
    normalised: np.ndarray, ends: np.ndarray, starts: np.ndarray, cycles: np.ndarray, spec: FeatureSpec
) -> np.ndarray:
    history = max(spec.windows)
    have = ends - starts + 1  # readings in the row's life so far, up to and including it
    steps = np.arange(history)
    # back[row, sensor, k]: the row's reading k steps back (k = 0: the row itself), one contiguous
    # block in this layout whoever calls. Where life had not begun it holds the row's own reading
    # (which leaves min and max alone); ``masked`` holds 0 there.
    valid = steps[None, :] < have[:, None]  # (rows, history)
    gather = np.where(valid, ends[:, None] - steps[None, :], ends[:, None])
    back = np.ascontiguousarray(normalised[gather].transpose(0, 2, 1))  # (rows, sensors, history)
    partial = not bool(valid.all())
    masked = back * valid[:, None, :] if partial else back
    wants = set(spec.stats)
    squared = masked * masked if Stat.STD in wants else None
    weighted = masked * steps if Stat.SLOPE in wants else None
    rows, sensors = back.shape[0], back.shape[1]
    total = np.zeros((rows, sensors))
    squares = np.zeros((rows, sensors))
    positions = np.zeros((rows, sensors))
    low = np.full((rows, sensors), np.inf)
    high = np.full((rows, sensors), -np.inf)
    per_sensor: list[np.ndarray] = [back[:, :, 0]]  # ``__last``
    done = 0
    for w in spec.windows:
        # The windows are nested: add the block of readings this window adds to the last one's
        # sums. Each block is summed along the contiguous last axis, and the blocks are added in
        # window order: the same numbers in the same order for one row or thousands.
        block = slice(done, w)
        done = w
        total = total + masked[:, :, block].sum(axis=2)
        if squared is not None:
            squares = squares + squared[:, :, block].sum(axis=2)
        if weighted is not None:
            positions = positions + weighted[:, :, block].sum(axis=2)
        if Stat.MIN in wants:
            low = np.minimum(low, back[:, :, block].min(axis=2))
        if Stat.MAX in wants:
            high = np.maximum(high, back[:, :, block].max(axis=2))
        count = np.minimum(have, w).astype(np.float64)[:, None]
        mean = total / count
        for stat in spec.stats:
            if stat is Stat.MEAN:
                per_sensor.append(mean)
            elif stat is Stat.MIN:
                per_sensor.append(low)
            elif stat is Stat.MAX:
                per_sensor.append(high)
            elif stat is Stat.STD:
                # E[x^2] - mean^2: the values are regime z-scores (order 1), far from cancelling
                per_sensor.append(np.sqrt(np.maximum(squares / count - mean * mean, 0.0)))
            elif stat is Stat.SLOPE:
                # least squares on the reading position: the reading k steps back sits ``centre - k``
                # from the centre of the valid positions, so sum(dx * (x - mean)) = centre * sum(x)
                # - sum(k * x), and sum(dx^2) = c (c^2 - 1) / 12; 0 with a single reading
                centre = (count - 1.0) / 2.0
                spread = count * (count * count - 1.0) / 12.0
                products = centre * total - positions
                slope = np.divide(
                    products,
                    spread,
                    out=np.zeros_like(products),
                    where=np.broadcast_to(spread > 0, products.shape),
                )
                per_sensor.append(slope)
    out = np.stack(per_sensor, axis=2).reshape(rows, sensors * len(per_sensor))
    if spec.age:
        out = np.hstack([np.asarray(cycles, dtype=np.float64)[ends, None], out])
    return out


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
