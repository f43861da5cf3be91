"""streaming.scoring.worker_model: a worker's model scores with compiled trees, same predictions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.ensemble import HistGradientBoostingRegressor

from models.compiled import CompiledRegressor
from streaming.scoring import worker_model


@dataclass(frozen=True)
class Loaded:
    """What matters here of models.predictor.RulRiskModel: a frozen dataclass with a regressor."""

    regressor: Any
    horizon_cycles: int = 30


def boosted() -> tuple[HistGradientBoostingRegressor, np.ndarray]:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 4))
    return HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(x, x[:, 0] - x[:, 1]), x


def test_the_regressor_is_swapped_for_its_compiled_trees(tmp_path: Path) -> None:
    regressor, x = boosted()
    loaded = Loaded(regressor)
    model = worker_model(loaded, tmp_path)
    assert isinstance(model.regressor, CompiledRegressor)
    assert model.horizon_cycles == 30
    assert loaded.regressor is regressor  # a new model, not a mutation
    np.testing.assert_allclose(model.regressor.predict(x), regressor.predict(x), rtol=0, atol=1e-9)


def test_no_cache_folder_means_the_regressor_as_trained(tmp_path: Path) -> None:
    regressor, _ = boosted()
    assert worker_model(Loaded(regressor), None).regressor is regressor
