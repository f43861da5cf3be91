"""models.occlusion: trees walked in C (boosted trees' predictions; forests' and boosted trees' occluded
predictions from one walk per tree), scikit-learn's to the bit."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import ExtraTreesRegressor, HistGradientBoostingRegressor, RandomForestRegressor
from sklearn.linear_model import Ridge

from models import occlusion
from models.occlusion import (
    OccludingForest,
    WalkedBoosting,
    boosted_nodes,
    boosted_steps,
    forest_nodes,
    occluding,
    probe_rows,
)

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


def test_what_cannot_be_walked_gets_none(cache: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3))
    two = RandomForestRegressor(n_estimators=3).fit(x, np.c_[x[:, 0], x[:, 1]])
    ridge = Ridge().fit(x, x[:, 0])
    categorical = HistGradientBoostingRegressor(max_iter=3, categorical_features=[0]).fit(
        np.c_[rng.integers(0, 4, 100), x[:, 1:]], x[:, 0]
    )
    poisson = HistGradientBoostingRegressor(max_iter=3, loss="poisson").fit(x, np.abs(x[:, 0]))
    for regressor in (two, ridge, categorical, poisson):
        assert occlusion.unsupported(regressor) is not None
        assert occluding(regressor, cache, [[0]]) is None
    assert occlusion.unsupported(fitted(ExtraTreesRegressor, 0)) is None
    assert occlusion.unsupported(boosted_fitted(0)) is None


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


# -- boosted trees -------------------------------------------------------------------------------


def boosted_fitted(seed: int, leaves: int = 7, nan_share: float = 0.05) -> HistGradientBoostingRegressor:
    """Small boosted trees with NaN seen in training (so both ``missing_go_to_left`` ways occur)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(400, WIDTH))
    y = 3 * x[:, 0] - 2 * np.abs(x[:, 1]) + x[:, 2] * x[:, 3] + rng.normal(0, 0.1, 400)
    x[rng.random(x.shape) < nan_share] = np.nan
    return HistGradientBoostingRegressor(max_iter=40, max_leaf_nodes=leaves, random_state=seed).fit(x, y)


@pytest.fixture(scope="module")
def boosted(cache: Path) -> list[tuple[HistGradientBoostingRegressor, WalkedBoosting]]:
    out = []
    for seed, leaves in ((0, 7), (1, 31), (2, 3)):
        regressor = boosted_fitted(seed, leaves)
        fast = occluding(regressor, cache, GROUPS)
        assert isinstance(fast, WalkedBoosting), "the C compiler is part of the test machine"
        out.append((regressor, fast))
    return out


def thresholds(regressor: HistGradientBoostingRegressor) -> list[float]:
    nodes = boosted_nodes(regressor).nodes
    return sorted(set(nodes["threshold"][nodes["left"] != -1].tolist()))


def cells(model_thresholds: list[float], nan: bool = True) -> st.SearchStrategy[float]:
    on_split = st.sampled_from(model_thresholds)
    return st.one_of(
        on_split,  # ties: scikit-learn sends x <= threshold left
        on_split.map(lambda t: float(np.nextafter(t, -np.inf))),
        on_split.map(lambda t: float(np.nextafter(t, np.inf))),
        # a double whose low 32 bits are all ones: tl2cgen read it as missing
        on_split.map(
            lambda t: float((np.array([t]).view(np.uint64) | np.uint64(0xFFFFFFFF)).view(np.float64)[0])
        ),
        st.sampled_from([1e30, -1e30, 1.7976931348623157e308, -1.7976931348623157e308, 5e-324, 0.0]),
        st.floats(allow_nan=nan, allow_infinity=True),  # ±inf included, and NaN unless told not to
    )


@settings(max_examples=200, deadline=None)
@given(which=st.integers(0, 2), nan=st.booleans(), data=st.data())
def test_boosted_predictions_are_scikit_learns_to_the_bit(
    boosted: list[tuple[HistGradientBoostingRegressor, WalkedBoosting]],
    which: int,
    nan: bool,
    data: st.DataObject,
) -> None:
    """Rows without NaN take the walk with one comparison a step, rows with NaN the other."""
    regressor, fast = boosted[which]
    row = st.lists(cells(thresholds(regressor), nan), min_size=WIDTH, max_size=WIDTH)
    # up to 80 rows: the walk takes 16 rows side by side, then the rest one by one
    x = np.asarray(data.draw(st.lists(row, min_size=1, max_size=80)), dtype=np.float64)
    assert np.array_equal(fast.predict(x), regressor.predict(x))


@settings(max_examples=120, deadline=None)
@given(
    which=st.integers(0, 2),
    data=st.data(),
    groups=st.sampled_from([GROUPS, [[6]], [[0], [1], [2], [3], [4], [5], [6]], [[0, 1, 2, 3, 4, 5, 6]], []]),
)
def test_boosted_occluded_predictions_are_scikit_learns_to_the_bit(
    boosted: list[tuple[HistGradientBoostingRegressor, WalkedBoosting]],
    which: int,
    data: st.DataObject,
    groups: list[list[int]],
) -> None:
    regressor, fast = boosted[which]
    row = st.lists(cells(thresholds(regressor)), min_size=WIDTH, max_size=WIDTH)
    x = np.asarray(data.draw(st.lists(row, min_size=1, max_size=20)), dtype=np.float64)
    ref = np.asarray(data.draw(row), dtype=np.float64)
    got = fast.predict_occluded(x, ref, groups)
    assert got.shape == (len(groups) * len(x),)
    assert np.array_equal(got, slow(regressor, x, ref, groups))


def test_boosted_rows_of_many_calls(
    boosted: list[tuple[HistGradientBoostingRegressor, WalkedBoosting]],
) -> None:
    regressor, fast = boosted[1]
    rng = np.random.default_rng(5)
    x = rng.normal(0, 2, size=(occlusion.CHUNK_ROWS * 2 + occlusion.PREDICT_ROWS + 3, WIDTH))
    x[: len(x) // 2][rng.random((len(x) // 2, WIDTH)) < 0.05] = np.nan  # the other half has none
    assert np.array_equal(fast.predict(x), regressor.predict(x))
    ref = np.nanmedian(x, axis=0)
    assert np.array_equal(fast.predict_occluded(x, ref, GROUPS), slow(regressor, x, ref, GROUPS))


def test_what_the_walk_cannot_take_gets_the_regressors_answer(
    boosted: list[tuple[HistGradientBoostingRegressor, WalkedBoosting]],
) -> None:
    regressor, fast = boosted[0]
    as_ints = np.arange(2 * WIDTH).reshape(2, WIDTH)  # not float64: the regressor converts it
    assert np.array_equal(fast.predict(as_ints), regressor.predict(as_ints))
    with pytest.raises(ValueError, match="0 sample"):  # and for no rows at all
        fast.predict(np.zeros((0, WIDTH)))
    with pytest.raises(ValueError, match="features"):  # the regressor's own error for a wrong width
        fast.predict(np.zeros((2, WIDTH + 1)))
    with pytest.raises(ValueError, match="features"):
        fast.predict_occluded(np.zeros((2, WIDTH + 1)), np.zeros(WIDTH), GROUPS)


def test_boosted_pickles_and_every_model_shares_one_library(
    boosted: list[tuple[HistGradientBoostingRegressor, WalkedBoosting]],
    forests: list[tuple[Any, OccludingForest]],
    cache: Path,
) -> None:
    regressor, fast = boosted[2]
    x, ref = probe_rows(regressor)
    again = pickle.loads(pickle.dumps(fast))  # noqa: S301 - our own bytes
    assert isinstance(again, WalkedBoosting)
    assert np.array_equal(again.predict(x), regressor.predict(x), equal_nan=True)
    assert np.array_equal(again.predict_occluded(x, ref, GROUPS), fast.predict_occluded(x, ref, GROUPS))
    # one source for every model: built once per machine, not per model
    assert {fast.library for _, fast in boosted} | {fast.library for _, fast in forests} == {fast.library}
    assert [p.name for p in cache.iterdir() if p.suffix == ".so"] == [fast.library.name]


def test_the_steps_keep_each_trees_leaves_and_children_together(
    boosted: list[tuple[HistGradientBoostingRegressor, WalkedBoosting]],
) -> None:
    regressor, _ = boosted[1]
    steps = boosted_steps(regressor)
    trees = [p[0].nodes for p in regressor._predictors]
    assert len(steps.root) == len(trees)
    assert len(steps.steps) == sum(len(t) for t in trees)
    for t, tree in enumerate(trees):
        first, last = steps.root[t], steps.root[t] + len(tree)
        part, values = steps.steps[first:last], steps.values[first:last]
        leaf = part["threshold"] == np.inf
        assert sorted(values[leaf].tolist()) == sorted(tree["value"][tree["is_leaf"] == 1].tolist())
        assert (part["left"][leaf] == np.flatnonzero(leaf)).all()  # a leaf steps onto itself
        inner = np.flatnonzero(~leaf)
        assert (part["left"][inner] > inner).all()
        assert (part["left"][inner] + 1 < len(tree)).all()
        assert steps.depth[t] == tree["depth"].max()


def test_a_boosted_library_that_disagrees_is_not_used(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = WalkedBoosting.predict

    def off(self: WalkedBoosting, values: Any) -> np.ndarray:
        return real(self, values) + 1e-12

    monkeypatch.setattr(WalkedBoosting, "predict", off)
    assert occluding(boosted_fitted(3), cache, GROUPS) is None


def test_the_fd001_engines_boosted_trees(cache: Path) -> None:
    """The family the gate picks for C-MAPSS (``models.training``), on its features."""
    from models.features import feature_names
    from tests.unit.streaming.fitting import fd001_frame, fit

    frame = fd001_frame(10)
    model = fit(frame, families=("hgb",))
    assert isinstance(model.regressor, HistGradientBoostingRegressor)
    x = model.features(frame).loc[:, feature_names(model.spec)].to_numpy(dtype=np.float64)
    groups = list(model.sensor_groups().values())
    fast = occluding(model.regressor, cache, groups)
    assert isinstance(fast, WalkedBoosting)
    assert len(x) > 1000
    assert np.array_equal(fast.predict(x), model.regressor.predict(x))
    rows = x[:: len(x) // 200]
    assert np.array_equal(
        fast.predict_occluded(rows, np.asarray(model.reference), groups),
        model.regressor.predict(model.occluded(rows)),
    )
