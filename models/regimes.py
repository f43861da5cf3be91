"""Normalisation per operating regime, learned on training data and stored with the model.

Sensor levels depend strongly on the operating condition (altitude, Mach number, throttle): in
the six-condition C-MAPSS subsets the spread between conditions dwarfs the degradation signal.
Each reading is assigned to the nearest learned operating point and its sensors are expressed as
z-scores against that regime's training mean and standard deviation.

Operating points are learned without knowing how many there are: settings are rounded to a
configured precision per setting (noise goes, conditions stay), every rounded combination seen
at least ``min_rows`` times becomes a regime, and rarer combinations join the nearest regime.
New readings go to the nearest regime in units of that precision, so noise never creates a
regime the model has not seen.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

_MIN_STD = 1e-9


@dataclass(frozen=True)
class RegimeNormaliser:
    """Learned operating points and per-regime sensor statistics.

    Attributes:
        settings: the operational-setting columns that define the regime.
        steps: rounding precision of each setting (distance unit for assignment).
        centroids: (regimes, settings) mean setting values of each regime.
        sensors: the sensor columns normalised.
        means: (regimes, sensors) training mean of each sensor per regime.
        stds: (regimes, sensors) training standard deviation (1.0 where a sensor is constant).
        counts: training readings per regime.
        varying: per sensor, whether it varies within at least one regime.
    """

    settings: tuple[str, ...]
    steps: tuple[float, ...]
    centroids: tuple[tuple[float, ...], ...]
    sensors: tuple[str, ...]
    means: tuple[tuple[float, ...], ...]
    stds: tuple[tuple[float, ...], ...]
    counts: tuple[int, ...]
    varying: tuple[bool, ...]

    @property
    def n_regimes(self) -> int:
        """How many operating regimes were learned."""
        return len(self.centroids)

    def assign(self, readings: pd.DataFrame) -> np.ndarray:
        """Index of the nearest learned regime for each reading (int64 array)."""
        return self.assign_values(readings.loc[:, list(self.settings)].to_numpy(dtype=np.float64))

    def assign_values(self, values: np.ndarray) -> np.ndarray:
        """:meth:`assign` on a (readings, settings) array in ``self.settings`` order."""
        if not self.settings:  # one regime (a source without operating settings)
            return np.zeros(len(values), dtype=np.int64)
        steps = np.asarray(self.steps)
        centroids = np.asarray(self.centroids) / steps
        # (n, 1, settings) - (1, regimes, settings) -> squared distances (n, regimes)
        distance = ((values[:, None, :] / steps - centroids[None, :, :]) ** 2).sum(axis=2)
        return np.asarray(distance.argmin(axis=1), dtype=np.int64)

    def transform(self, readings: pd.DataFrame) -> pd.DataFrame:
        """Sensors as z-scores against their regime; same index, columns ``self.sensors``."""
        regime = self.assign(readings)
        values = readings.loc[:, list(self.sensors)].to_numpy(dtype=np.float64)
        normalised = (values - np.asarray(self.means)[regime]) / np.asarray(self.stds)[regime]
        return pd.DataFrame(normalised, index=readings.index, columns=list(self.sensors))

    def normalise(self, settings: np.ndarray, sensors: np.ndarray, which: tuple[str, ...]) -> np.ndarray:
        """:meth:`transform` on arrays, for the sensors ``which`` only (a subset of ``self.sensors``).

        Args:
            settings: (readings, settings) in ``self.settings`` order.
            sensors: (readings, len(which)) in ``which`` order.

        Element by element the same arithmetic as :meth:`transform` (a z-score of one value
        against its regime), so the streaming job, which calls this on many assets' readings at
        once, gets the numbers training got.
        """
        position = {name: i for i, name in enumerate(self.sensors)}
        columns = [position[name] for name in which]
        regime = self.assign_values(settings)
        means = np.asarray(self.means)[:, columns]
        stds = np.asarray(self.stds)[:, columns]
        return np.asarray((sensors - means[regime]) / stds[regime], dtype=np.float64)

    def informative_sensors(self) -> tuple[str, ...]:
        """Sensors that vary within at least one regime (constant ones carry no signal)."""
        return tuple(s for s, keep in zip(self.sensors, self.varying, strict=True) if keep)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data (logged to MLflow and stored with the model)."""
        return {
            "settings": list(self.settings),
            "steps": list(self.steps),
            "centroids": [list(c) for c in self.centroids],
            "sensors": list(self.sensors),
            "means": [list(m) for m in self.means],
            "stds": [list(s) for s in self.stds],
            "counts": list(self.counts),
            "varying": list(self.varying),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RegimeNormaliser:
        """Rebuild from :meth:`to_dict` output."""
        return cls(
            settings=tuple(data["settings"]),
            steps=tuple(float(s) for s in data["steps"]),
            centroids=tuple(tuple(float(v) for v in c) for c in data["centroids"]),
            sensors=tuple(data["sensors"]),
            means=tuple(tuple(float(v) for v in m) for m in data["means"]),
            stds=tuple(tuple(float(v) for v in s) for s in data["stds"]),
            counts=tuple(int(c) for c in data["counts"]),
            varying=tuple(bool(v) for v in data["varying"]),
        )


def fit_regimes(
    readings: pd.DataFrame,
    settings: tuple[str, ...],
    sensors: tuple[str, ...],
    decimals: tuple[int, ...],
    min_rows: int = 30,
) -> RegimeNormaliser:
    """Learn operating regimes and per-regime sensor statistics from training readings.

    Args:
        readings: training readings with the ``settings`` and ``sensors`` columns.
        settings: operational-setting columns.
        sensors: sensor columns to normalise.
        decimals: rounding precision per setting, e.g. ``(0, 2, 0)`` for C-MAPSS altitude (kft),
            Mach number and throttle angle.
        min_rows: a rounded setting combination seen fewer times joins the nearest larger one.

    Raises:
        ValueError: no readings, mismatched ``decimals``, or missing columns.
    """
    if len(decimals) != len(settings):
        raise ValueError(f"need one rounding precision per setting: {len(settings)} settings, {decimals}")
    missing = [c for c in (*settings, *sensors) if c not in readings.columns]
    if missing:
        raise ValueError(f"readings lack columns {missing}")
    if readings.empty:
        raise ValueError("cannot learn regimes from no readings")
    steps = tuple(10.0 ** (-d) for d in decimals)
    values = readings.loc[:, list(settings)].to_numpy(dtype=np.float64)
    cells = np.round(values / np.asarray(steps)) + 0.0  # + 0.0 turns -0.0 into 0.0
    keys, inverse, counts = np.unique(cells, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.reshape(-1)
    big = np.flatnonzero(counts >= min_rows)
    if big.size == 0:
        big = np.asarray([int(counts.argmax())])
    # every rounded cell maps to the nearest big cell (itself when big)
    distance = ((keys[:, None, :] - keys[None, big, :]) ** 2).sum(axis=2)
    cell_to_regime = distance.argmin(axis=1)
    regime = cell_to_regime[inverse]
    sensor_values = readings.loc[:, list(sensors)].to_numpy(dtype=np.float64)
    centroids, means, stds, sizes = [], [], [], []
    varying = np.zeros(len(sensors), dtype=bool)
    for r in range(big.size):
        rows = regime == r
        centroids.append(tuple(float(v) for v in values[rows].mean(axis=0)))
        means.append(tuple(float(v) for v in sensor_values[rows].mean(axis=0)))
        std = sensor_values[rows].std(axis=0)
        moves = std > _MIN_STD * np.maximum(1.0, np.abs(np.asarray(means[-1])))
        varying |= moves
        stds.append(tuple(float(s) if m else 1.0 for s, m in zip(std, moves, strict=True)))
        sizes.append(int(rows.sum()))
    return RegimeNormaliser(
        settings=tuple(settings),
        steps=steps,
        centroids=tuple(centroids),
        sensors=tuple(sensors),
        means=tuple(means),
        stds=tuple(stds),
        counts=tuple(sizes),
        varying=tuple(bool(v) for v in varying),
    )
