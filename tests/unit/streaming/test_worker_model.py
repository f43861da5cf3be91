"""streaming.scoring.worker_model: a worker's model scores with its trees walked in C, same predictions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from models.occlusion import WalkedBoosting
from streaming.scoring import worker_model


@dataclass(frozen=True)
class Loaded:
    """What matters here of models.predictor.RulRiskModel: a frozen dataclass with a regressor."""

    regressor: Any
    horizon_cycles: int = 30

    def sensor_groups(self) -> dict[str, list[int]]:
        return {"a": [0, 1], "b": [2, 3]}


def boosted() -> tuple[HistGradientBoostingRegressor, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 4))
    return HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(x, x[:, 0] - x[:, 1]), x


def test_the_regressor_is_swapped_for_its_walked_trees(tmp_path: Path) -> None:
    regressor, x = boosted()
    loaded = Loaded(regressor)
    model = worker_model(loaded, tmp_path)
    assert isinstance(model.regressor, WalkedBoosting)
    assert model.horizon_cycles == 30
    assert loaded.regressor is regressor  # a new model, not a mutation
    assert np.array_equal(model.regressor.predict(x), regressor.predict(x))


def test_no_cache_folder_means_the_regressor_as_trained(tmp_path: Path) -> None:
    regressor, _ = boosted()
    assert worker_model(Loaded(regressor), None).regressor is regressor


def test_a_regressor_without_trees_stays_as_trained(tmp_path: Path) -> None:
    from sklearn.linear_model import Ridge

    rng = np.random.default_rng(4)
    x = rng.normal(size=(50, 4))
    ridge = Ridge().fit(x, x[:, 0])
    assert worker_model(Loaded(ridge), tmp_path).regressor is ridge
    assert not any(tmp_path.iterdir())  # nothing built
