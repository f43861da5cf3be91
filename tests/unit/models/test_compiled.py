"""models.compiled: the compiled trees predict what scikit-learn predicts, or the regressor does."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import treelite
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge

from models.compiled import CompiledRegressor, compiled, flagged_rows, library_name, probe_rows

WIDTH = 6
TOLERANCE = 1e-9


@pytest.fixture(scope="module")
def hgb() -> HistGradientBoostingRegressor:
    """A small boosted model with NaN seen in training (so both ``missing_go_to_left`` ways occur)."""
    rng = np.random.default_rng(7)
    x = rng.normal(size=(400, WIDTH))
    y = 3 * x[:, 0] - 2 * np.abs(x[:, 1]) + x[:, 2] * x[:, 3] + rng.normal(0, 0.1, 400)
    x[rng.random(x.shape) < 0.05] = np.nan
    return HistGradientBoostingRegressor(max_iter=40, max_leaf_nodes=7, random_state=0).fit(x, y)


@pytest.fixture(scope="module")
def fast(hgb: HistGradientBoostingRegressor, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return compiled(hgb, tmp_path_factory.mktemp("compiled"))


def thresholds(model: HistGradientBoostingRegressor) -> list[float]:
    nodes = np.concatenate([p[0].nodes for p in model._predictors])
    return sorted(set(nodes["num_threshold"][nodes["is_leaf"] == 0].tolist()))


def missing_flagged(value: float) -> float:
    """``value`` with the low 32 bits of its double all ones (what tl2cgen reads as missing)."""
    bits = np.array([value]).view(np.uint64) | np.uint64(0xFFFFFFFF)
    return float(bits.view(np.float64)[0])


def test_a_boosted_model_is_compiled_where_a_c_compiler_is(fast: Any) -> None:
    assert isinstance(fast, CompiledRegressor)  # fails on a machine without gcc: install it


def cells(model_thresholds: list[float]) -> st.SearchStrategy[float]:
    on_split = st.sampled_from(model_thresholds)
    return st.one_of(
        on_split,  # ties: scikit-learn sends x <= threshold left
        on_split.map(lambda t: float(np.nextafter(t, -np.inf))),
        on_split.map(lambda t: float(np.nextafter(t, np.inf))),
        on_split.map(missing_flagged),
        st.sampled_from([1e30, -1e30, 1.7976931348623157e308, -1.7976931348623157e308, 5e-324, 0.0]),
        st.floats(allow_nan=True, allow_infinity=True),  # NaN and ±inf included
    )


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_compiled_predictions_equal_scikit_learns(
    fast: Any, hgb: HistGradientBoostingRegressor, data: st.DataObject
) -> None:
    rows = data.draw(
        st.lists(st.lists(cells(thresholds(hgb)), min_size=WIDTH, max_size=WIDTH), min_size=1, max_size=30)
    )
    x = np.asarray(rows, dtype=np.float64)
    np.testing.assert_allclose(fast.predict(x), hgb.predict(x), rtol=0, atol=TOLERANCE)


def test_rows_read_as_missing_are_flagged_and_still_right(
    fast: Any, hgb: HistGradientBoostingRegressor
) -> None:
    x = probe_rows(hgb, 12)
    x[::2, 0] = missing_flagged(x[0, 0])
    assert flagged_rows(x).tolist() == [i % 2 == 0 for i in range(12)]
    np.testing.assert_allclose(fast.predict(x), hgb.predict(x), rtol=0, atol=TOLERANCE)


def test_what_the_library_cannot_take_gets_the_regressors_answer(
    fast: Any, hgb: HistGradientBoostingRegressor
) -> None:
    as_ints = np.arange(2 * WIDTH).reshape(2, WIDTH)  # not float64: the regressor converts it
    np.testing.assert_allclose(fast.predict(as_ints), hgb.predict(as_ints), rtol=0, atol=TOLERANCE)
    with pytest.raises(ValueError, match="features"):  # the regressor's own error for a wrong width
        fast.predict(np.zeros((2, WIDTH + 1)))


def test_survives_a_pickle_round_trip(fast: Any, hgb: HistGradientBoostingRegressor) -> None:
    x = probe_rows(hgb, 8)
    again = pickle.loads(pickle.dumps(fast))  # noqa: S301 - our own bytes
    np.testing.assert_allclose(again.predict(x), hgb.predict(x), rtol=0, atol=TOLERANCE)


def test_builds_once_per_distinct_regressor(fast: Any, hgb: HistGradientBoostingRegressor) -> None:
    assert isinstance(fast, CompiledRegressor)
    cache = fast.library.parent
    assert fast.library.name == library_name(treelite.sklearn.import_model(hgb).serialize_bytes())
    before = sorted(p.name for p in cache.iterdir())
    # the same trees loaded another way (a pickle round trip of what holds them: other pickle bytes)
    owner = pickle.loads(pickle.dumps({"regressor": hgb, "params": hgb.get_params()}))  # noqa: S301
    again = compiled(owner["regressor"], cache)
    assert again.library == fast.library
    assert sorted(p.name for p in cache.iterdir()) == before  # no second library, no build leftovers
    other = HistGradientBoostingRegressor(max_iter=3).fit(np.eye(WIDTH), np.arange(WIDTH, dtype=float))
    assert compiled(other, cache).library != fast.library


def test_an_unsupported_family_falls_back_to_the_regressor(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(50, WIDTH)), rng.normal(size=50)
    ridge = Ridge().fit(x, y)
    predictor = compiled(ridge, tmp_path)
    assert predictor is ridge
    np.testing.assert_array_equal(predictor.predict(x), ridge.predict(x))
    assert not any(tmp_path.iterdir())  # nothing built
