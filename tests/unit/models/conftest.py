"""Synthetic C-MAPSS-like fleets for fast unit tests (no files, no services)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ingest.cmapss import SENSOR_COLUMNS, SETTING_COLUMNS

# Six operating points like FD002/FD004: altitude (kft), Mach, throttle resolver angle.
OPERATING_POINTS = np.array(
    [[0.0, 0.0, 100.0], [10.0, 0.25, 100.0], [20.0, 0.70, 100.0], [25.0, 0.62, 60.0], [35.0, 0.84, 100.0],
     [42.0, 0.84, 100.0]]
)  # fmt: skip


def synthetic_fleet(
    units: int, seed: int, regimes: int = 6, min_life: int = 60, max_life: int = 140
) -> pd.DataFrame:
    """Run-to-failure histories whose sensor levels depend on the operating regime.

    Each sensor = a level per regime (large) + slow degradation growing towards failure (small)
    + noise; settings jitter around the operating point. Returns C-MAPSS columns.
    """
    rng = np.random.default_rng(seed)
    levels = rng.uniform(10.0, 1000.0, size=(len(OPERATING_POINTS), len(SENSOR_COLUMNS)))
    sensitivity = rng.normal(0.0, 1.0, size=len(SENSOR_COLUMNS))
    sensitivity[0] = 0.0  # sensor_1 carries no degradation
    frames = []
    for unit in range(1, units + 1):
        life = int(rng.integers(min_life, max_life))
        cycle = np.arange(1, life + 1)
        regime = rng.integers(0, regimes, size=life)
        settings = OPERATING_POINTS[regime] + rng.normal(0.0, [0.003, 0.0003, 0.0], size=(life, 3))
        wear = np.exp(cycle / life * 3.0) / np.exp(3.0)
        sensors = levels[regime] + wear[:, None] * sensitivity[None, :] * 5 + rng.normal(0, 0.3, (life, 21))
        sensors[:, 0] = levels[regime, 0]  # constant within each regime
        frame = pd.DataFrame(sensors, columns=list(SENSOR_COLUMNS))
        frame.insert(0, "unit", unit)
        frame.insert(1, "cycle", cycle)
        for i, name in enumerate(SETTING_COLUMNS):
            frame.insert(2 + i, name, settings[:, i])
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


@pytest.fixture
def multi_regime_fleet() -> pd.DataFrame:
    """Eight engines in six operating regimes."""
    return synthetic_fleet(8, seed=7)
