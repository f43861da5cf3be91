"""``streaming.step._matrix``: readings as a matrix in the window's column order, whatever order and
subset of names each reading brings (the per-column lookup it replaced is the reference)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from streaming.step import _matrix

NAMES = [f"sensor_{i}" for i in range(1, 13)] + ["setting_1", "setting_2"]


def reference(rows: list[dict[str, float]], columns: tuple[str, ...]) -> np.ndarray:
    nan = float("nan")
    return np.asarray([[r.get(c, nan) for c in columns] for r in rows], dtype=np.float64).reshape(
        len(rows), len(columns)
    )


@st.composite
def readings(draw: st.DrawFn) -> tuple[list[dict[str, float]], tuple[str, ...]]:
    columns = tuple(draw(st.permutations(NAMES))[: draw(st.integers(1, len(NAMES)))])
    orders = draw(st.lists(st.permutations(NAMES), min_size=1, max_size=3))
    rows = []
    for _ in range(draw(st.integers(0, 30))):
        order = draw(st.sampled_from(orders))
        names = order[: draw(st.integers(0, len(order)))]
        rows.append({n: draw(st.floats(allow_nan=False, width=64)) for n in names})
    return rows, columns


@given(readings())
@settings(max_examples=300, deadline=None)
def test_the_matrix_is_the_per_column_lookup(case: tuple[list[dict[str, float]], tuple[str, ...]]) -> None:
    rows, columns = case
    got = _matrix(rows, [tuple(r) for r in rows], columns)
    assert got.shape == (len(rows), len(columns))
    np.testing.assert_array_equal(got, reference(rows, columns))


def test_readings_in_another_order_than_the_columns() -> None:
    """C-MAPSS: a new asset's columns are sorted, its readings name sensor_2 before sensor_10."""
    rows = [{"sensor_2": 2.0, "sensor_10": 10.0, "sensor_1": 1.0}, {"sensor_1": 1.5, "sensor_2": 2.5}]
    got = _matrix(rows, [tuple(r) for r in rows], ("sensor_1", "sensor_10", "sensor_2"))
    np.testing.assert_array_equal(got, [[1.0, 10.0, 2.0], [1.5, np.nan, 2.5]])
