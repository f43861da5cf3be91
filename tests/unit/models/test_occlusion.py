"""models.occlusion: a forest's occluded predictions from one walk per tree, scikit-learn's to the bit."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import ExtraTreesRegressor, HistGradientBoostingRegressor, RandomForestRegressor

from models import occlusion
from models.occlusion import OccludingForest, forest_nodes, occluding, probe_rows

WIDTH = 7
GROUPS = [[0, 1], [2], [3, 4, 5]]  # feature 6 in no group: never occluded


def fitted(kind: type, seed: int, nan_share: float = 0.0, width: int = WIDTH) -> Any:
    """A small forest on integer-valued features (many ties: rows land on thresholds), NaN where
    ``nan_share`` says (so both ``missing_go_to_left`` ways occur)."""
    rng = np.random.default_rng(seed)
    x = rng.integers(-4, 5, size=(300, width)).astype(np.float64)
    y = 2 * x[:, 0] - np.abs(x[:, 2]) + x[:, 3] * x[:, 4] + rng.normal(0, 0.3, len(x))
    x[rng.random(x.shape) < nan_share] = np.nan
    return kind(n_estimators=12, min_samples_leaf=2, random_state=seed).fit(x, y)


def slow(forest: Any, rows: np.ndarray, reference: np.ndarray, groups: list[list[int]]) -> np.ndarray:
    """What the explanations predicted before: each group's occluded rows through ``forest.predict``."""
    parts = []
    for columns in groups:
        healthy = rows.copy()
        healthy[:, columns] = reference[columns]
        parts.append(forest.predict(healthy))
    return np.concatenate(parts) if parts else np.empty(0)


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("occlusion")


@pytest.fixture(scope="module")
def forests(cache: Path) -> list[tuple[Any, OccludingForest]]:
    out = []
    for kind, nan_share in (
        (ExtraTreesRegressor, 0.0),
        (RandomForestRegressor, 0.0),
        (RandomForestRegressor, 0.1),
    ):
        forest = fitted(kind, seed=len(out), nan_share=nan_share)
        fast = occluding(forest, cache, GROUPS)
        assert fast is not None, "the C compiler is part of the test machine"
        out.append((forest, fast))
    return out


values = st.one_of(
    st.integers(-5, 5).map(float),  # on the thresholds' grid (they are midpoints: x.5)
    st.sampled_from([-4.5, -0.5, 0.5, 3.5]).flatmap(
        lambda t: st.sampled_from([t, float(np.nextafter(t, -np.inf)), float(np.nextafter(t, np.inf))])
    ),
    st.floats(-1e30, 1e30, allow_nan=False, allow_infinity=False),
    st.floats(allow_nan=False, allow_infinity=False, width=32),  # up to float32 max
)


@settings(max_examples=150, deadline=None)
@given(
    which=st.integers(0, 2),
    rows=st.lists(st.lists(values, min_size=WIDTH, max_size=WIDTH), min_size=1, max_size=20),
    reference=st.lists(values, min_size=WIDTH, max_size=WIDTH),
    groups=st.sampled_from([GROUPS, [[6]], [[0], [1], [2], [3], [4], [5], [6]], [[0, 1, 2, 3, 4, 5, 6]], []]),
)
def test_the_walk_gives_the_forests_own_occluded_predictions_to_the_bit(
    forests: list[tuple[Any, OccludingForest]],
    which: int,
    rows: list[list[float]],
    reference: list[float],
    groups: list[list[int]],
) -> None:
    forest, fast = forests[which]
    x, ref = np.asarray(rows), np.asarray(reference)
    got = fast.predict_occluded(x, ref, groups)
    assert got.shape == (len(groups) * len(x),)
    assert np.array_equal(got, slow(forest, x, ref, groups))


def test_rows_of_many_chunks_and_a_real_reference(forests: list[tuple[Any, OccludingForest]]) -> None:
    forest, fast = forests[0]
    rng = np.random.default_rng(11)
    x = rng.normal(0, 3, size=(occlusion.CHUNK_ROWS * 2 + 17, WIDTH))
    ref = np.median(x, axis=0)
    assert np.array_equal(fast.predict_occluded(x, ref, GROUPS), slow(forest, x, ref, GROUPS))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e39])
def test_a_value_the_forest_would_refuse_is_refused(
    forests: list[tuple[Any, OccludingForest]], bad: float
) -> None:
    _, fast = forests[0]
    x = np.zeros((3, WIDTH))
    x[1, 2] = bad
    with pytest.raises(ValueError, match="not finite"):
        fast.predict_occluded(x, np.zeros(WIDTH), GROUPS)
    with pytest.raises(ValueError, match="not finite"):
        fast.predict_occluded(np.zeros((3, WIDTH)), x[1], GROUPS)
    with pytest.raises(ValueError, match="features"):
        fast.predict_occluded(np.zeros((3, WIDTH + 1)), np.zeros(WIDTH), GROUPS)


def test_it_predicts_and_pickles_as_the_forest(forests: list[tuple[Any, OccludingForest]]) -> None:
    forest, fast = forests[1]
    x, _ = probe_rows(forest)
    assert np.array_equal(fast.predict(x), forest.predict(x))
    again = pickle.loads(pickle.dumps(fast))  # noqa: S301 - our own bytes
    assert isinstance(again, OccludingForest)
    assert np.array_equal(again.predict_occluded(x, x[0], GROUPS), fast.predict_occluded(x, x[0], GROUPS))


def test_the_nodes_are_every_trees_in_order(forests: list[tuple[Any, OccludingForest]]) -> None:
    forest, _ = forests[0]
    nodes = forest_nodes(forest)
    counts = [e.tree_.node_count for e in forest.estimators_]
    assert nodes.root.tolist() == np.concatenate([[0], np.cumsum(counts)[:-1]]).tolist()
    assert len(nodes.nodes) == sum(counts)
    first = forest.estimators_[0].tree_
    assert nodes.nodes["left"][: counts[0]].tolist() == first.children_left.tolist()
    assert nodes.nodes["threshold"][: counts[0]].tolist() == first.threshold.tolist()
    assert nodes.nodes.dtype.itemsize == 32


def test_what_is_not_a_single_output_forest_gets_none(cache: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3))
    boosted = HistGradientBoostingRegressor(max_iter=5).fit(x, x[:, 0])
    two = RandomForestRegressor(n_estimators=3).fit(x, np.c_[x[:, 0], x[:, 1]])
    assert occluding(boosted, cache, [[0]]) is None
    assert occluding(two, cache, [[0]]) is None
    assert occlusion.unsupported(fitted(ExtraTreesRegressor, 0)) is None


def test_no_compiler_means_none(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(occlusion.shutil, "which", lambda name: None)
    assert occluding(fitted(ExtraTreesRegressor, 0), cache, GROUPS) is None


def test_a_library_that_disagrees_is_not_used(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    forest = fitted(ExtraTreesRegressor, 0)
    real = OccludingForest.predict_occluded

    def off(self: OccludingForest, *args: Any) -> np.ndarray:
        return real(self, *args) + 1e-12

    monkeypatch.setattr(OccludingForest, "predict_occluded", off)
    assert occluding(forest, cache, GROUPS) is None


def test_the_pump_fleets_extra_trees(cache: Path) -> None:
    """The family the gate picks for the simulated pump fleet (``models.training``), on its features."""
    from models.features import feature_names
    from models.fleet_source import FLEET_COLUMNS, fleet_history
    from models.settings import ModelsSettings
    from models.training import train

    history = fleet_history(
        assets=16, steps=160, interval_s=60.0, seed=5, failing_share=0.8, rul_cap_steps=60
    )
    settings = ModelsSettings(families=("extra_trees",), cv_folds=2, windows=(5, 15, 30))
    model = train(history.readings, settings, FLEET_COLUMNS).model
    assert isinstance(model.regressor, ExtraTreesRegressor)
    model.regressor.set_params(n_jobs=1)  # as the workers score (streaming.scoring.single_threaded)
    x = model.features(history.readings).loc[:, feature_names(model.spec)].to_numpy(dtype=np.float64)
    x = x[np.isfinite(x).all(axis=1)]
    groups = list(model.sensor_groups().values())
    fast = occluding(model.regressor, cache, groups)
    assert fast is not None
    assert len(x) > 1000
    assert np.array_equal(
        fast.predict_occluded(x, np.asarray(model.reference), groups),
        model.regressor.predict(model.occluded(x)),
    )
