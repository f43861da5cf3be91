"""Feature functions: the streaming window gives the batch row; statistics are what they claim."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ingest.cmapss import SENSOR_COLUMNS, SETTING_COLUMNS
from models.features import (
    FeatureErrorReason,
    FeatureInputError,
    FeatureSpec,
    Stat,
    asset_features,
    feature_names,
    fleet_features,
    required_history,
    window_features,
)
from models.regimes import RegimeNormaliser, fit_regimes
from tests.conftest import CMAPSS_DIR

SPEC = FeatureSpec(sensors=("sensor_2", "sensor_7", "sensor_11"), windows=(3, 10, 7))


@pytest.fixture
def normaliser(multi_regime_fleet: pd.DataFrame) -> RegimeNormaliser:
    return fit_regimes(multi_regime_fleet, SETTING_COLUMNS, SENSOR_COLUMNS, decimals=(0, 2, 0))


def test_window_of_last_w_readings_gives_the_batch_row(
    multi_regime_fleet: pd.DataFrame, normaliser: RegimeNormaliser
) -> None:
    asset = multi_regime_fleet[multi_regime_fleet["unit"] == 2].reset_index(drop=True)
    history = required_history(SPEC)
    assert history == 10
    batch = asset_features(asset, SPEC, normaliser)
    for end in range(len(asset)):
        window = asset.iloc[max(0, end - history + 1) : end + 1]
        incremental = asset_features(window, SPEC, normaliser).iloc[-1]
        np.testing.assert_array_equal(incremental.to_numpy(), batch.iloc[end].to_numpy())


def test_a_longer_window_than_required_changes_nothing(
    multi_regime_fleet: pd.DataFrame, normaliser: RegimeNormaliser
) -> None:
    asset = multi_regime_fleet[multi_regime_fleet["unit"] == 3]
    batch_last = asset_features(asset, SPEC, normaliser).iloc[-1]
    for extra in (0, 1, 25):
        window = asset.iloc[-(required_history(SPEC) + extra) :]
        np.testing.assert_array_equal(asset_features(window, SPEC, normaliser).iloc[-1], batch_last)


def test_rows_from_first_row_equal_the_same_rows_of_the_whole_history(
    multi_regime_fleet: pd.DataFrame, normaliser: RegimeNormaliser
) -> None:
    """What the streaming state asks for: feature rows of the fresh readings only, the window
    before them as history."""
    asset = multi_regime_fleet[multi_regime_fleet["unit"] == 2].reset_index(drop=True)
    whole = asset_features(asset, SPEC, normaliser)
    assert asset_features(asset, SPEC, normaliser, len(asset)).empty  # history only: no rows
    for first in (0, 1, 9, 10, len(asset) - 1):
        part = asset_features(asset, SPEC, normaliser, first)
        assert list(part.index) == list(asset.index[first:])
        assert list(part.columns) == feature_names(SPEC)
        np.testing.assert_array_equal(part.to_numpy(), whole.iloc[first:].to_numpy())


def test_too_short_a_window_differs(multi_regime_fleet: pd.DataFrame, normaliser: RegimeNormaliser) -> None:
    asset = multi_regime_fleet[multi_regime_fleet["unit"] == 3]
    batch_last = asset_features(asset, SPEC, normaliser).iloc[-1]
    short = asset_features(asset.iloc[-(required_history(SPEC) - 1) :], SPEC, normaliser).iloc[-1]
    assert not np.array_equal(short.to_numpy(), batch_last.to_numpy())


def identity_normaliser(sensors: tuple[str, ...]) -> RegimeNormaliser:
    return RegimeNormaliser(
        settings=("setting_1",),
        steps=(1.0,),
        centroids=((0.0,),),
        sensors=sensors,
        means=(tuple(0.0 for _ in sensors),),
        stds=(tuple(1.0 for _ in sensors),),
        counts=(1,),
        varying=tuple(True for _ in sensors),
    )


def test_statistics_on_known_values() -> None:
    values = np.array([1.0, 3.0, 2.0, 6.0, 10.0])
    readings = pd.DataFrame({"cycle": np.arange(1, 6), "setting_1": 0.0, "s": values})
    spec = FeatureSpec(sensors=("s",), windows=(3,))
    out = asset_features(readings, spec, identity_normaliser(("s",)))
    assert list(out.columns) == feature_names(spec)
    assert out["age_cycles"].tolist() == [1, 2, 3, 4, 5]
    assert out["s__last"].tolist() == values.tolist()
    # partial windows at the start of life use the readings there are
    assert out["s__mean_3"].tolist() == pytest.approx([1.0, 2.0, 2.0, 11 / 3, 6.0])
    assert out["s__min_3"].tolist() == [1.0, 1.0, 1.0, 2.0, 2.0]
    assert out["s__max_3"].tolist() == [1.0, 3.0, 3.0, 6.0, 10.0]
    assert out["s__std_3"].tolist() == pytest.approx(
        [np.std(values[max(0, i - 2) : i + 1]) for i in range(5)]
    )
    expected_slope = [0.0] + [np.polyfit(np.arange(k), values[max(0, i - 2) : i + 1], 1)[0]
                              for i, k in ((1, 2), (2, 3), (3, 3), (4, 3))]  # fmt: skip
    assert out["s__slope_3"].tolist() == pytest.approx(expected_slope)


@settings(max_examples=80, deadline=None)
@given(
    values=st.lists(st.floats(min_value=-1e6, max_value=1e6, allow_nan=False), min_size=1, max_size=60),
    windows=st.lists(st.integers(1, 40), min_size=1, max_size=4, unique=True),
)
def test_every_statistic_matches_numpy_on_any_window(values: list[float], windows: list[int]) -> None:
    """The compiled kernel against numpy's own mean, std, least-squares slope, min and max, for every
    row of a random series (partial windows at the start included)."""
    spec = FeatureSpec(sensors=("s",), windows=tuple(windows), age=False)
    series = np.asarray(values)
    ends = np.arange(len(series))
    got = window_features(series[:, None], ends, np.zeros_like(ends), np.zeros(len(series)), spec)
    names = feature_names(spec)
    scale = 1.0 + np.abs(series).max()
    for end in ends:
        assert got[end, names.index("s__last")] == series[end]
        for w in spec.windows:
            window = series[max(0, end - w + 1) : end + 1]
            slope = np.polyfit(np.arange(len(window)), window, 1)[0] if len(window) > 1 else 0.0
            expect = {
                "mean": window.mean(), "std": window.std(), "slope": slope,
                "min": window.min(), "max": window.max(),
            }  # fmt: skip
            for stat, value in expect.items():
                # E[d^2] - E[d]^2 loses digits on its own: relative to the window's scale squared
                tolerance = 1e-6 * scale if stat == "std" else 1e-9 * scale
                assert abs(got[end, names.index(f"s__{stat}_{w}")] - value) <= tolerance, (stat, w, end)


@given(value=st.floats(min_value=-1e12, max_value=1e12, allow_nan=False), length=st.integers(1, 50))
def test_a_window_of_equal_readings_has_exactly_zero_spread_and_slope(value: float, length: int) -> None:
    """Sums over ``x - last``: no cancellation noise where nothing moves (a model splitting on a
    constant sensor's std of 2.6e-9 split on rounding, which the old sums gave FD001's sensor_6)."""
    spec = FeatureSpec(sensors=("s",), windows=(5, 50), age=False)
    ends = np.arange(length)
    got = window_features(np.full((length, 1), value), ends, np.zeros_like(ends), np.zeros(length), spec)
    names = feature_names(spec)
    for w in spec.windows:
        assert (got[:, names.index(f"s__std_{w}")] == 0.0).all()
        assert (got[:, names.index(f"s__slope_{w}")] == 0.0).all()
        assert (got[:, names.index(f"s__mean_{w}")] == value).all()


def test_feature_names_cover_every_sensor_window_and_stat() -> None:
    names = feature_names(SPEC)
    assert names[0] == "age_cycles"
    assert len(names) == 1 + len(SPEC.sensors) * (1 + len(SPEC.windows) * len(Stat))
    assert SPEC.windows == (3, 7, 10)
    assert "sensor_11__slope_10" in names


def test_fleet_features_align_with_input_rows(
    multi_regime_fleet: pd.DataFrame, normaliser: RegimeNormaliser
) -> None:
    shuffled = multi_regime_fleet.sample(frac=1.0, random_state=1)
    out = fleet_features(shuffled, SPEC, normaliser, "unit")
    assert out.index.equals(shuffled.index)
    unit_5 = multi_regime_fleet[multi_regime_fleet["unit"] == 5]
    pd.testing.assert_frame_equal(out.loc[unit_5.index], asset_features(unit_5, SPEC, normaliser))


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda f: f.iloc[:0], FeatureErrorReason.EMPTY),
        (lambda f: f.drop(columns=["sensor_7"]), FeatureErrorReason.MISSING_COLUMN),
        (
            lambda f: f.assign(sensor_2=np.where(f["cycle"] == 3, np.nan, f["sensor_2"])),
            FeatureErrorReason.NOT_FINITE,
        ),
        (lambda f: f.iloc[::-1], FeatureErrorReason.NOT_ORDERED),
        (lambda f: f.assign(cycle=1), FeatureErrorReason.NOT_ORDERED),
    ],
)
def test_bad_readings_raise_a_reason(
    multi_regime_fleet: pd.DataFrame, normaliser: RegimeNormaliser, change: object, reason: FeatureErrorReason
) -> None:
    asset = multi_regime_fleet[multi_regime_fleet["unit"] == 1]
    with pytest.raises(FeatureInputError) as caught:
        asset_features(change(asset), SPEC, normaliser)  # type: ignore[operator]
    assert caught.value.reason is reason


def test_spec_rejects_nonsense_windows() -> None:
    with pytest.raises(ValueError, match="positive"):
        FeatureSpec(sensors=("s",), windows=(0, 5))


# -- bit-identical rows: the promise of ``window_features`` (the streaming job relies on it) ------


@dataclass(frozen=True)
class Fleet:
    """Readings of many assets (oldest first within each), a normaliser trained on them, a spec;
    and the raw arrays the streaming job would hold."""

    readings: pd.DataFrame
    normaliser: RegimeNormaliser
    spec: FeatureSpec
    settings: np.ndarray  # (rows, normaliser settings)
    sensors: np.ndarray  # (rows, spec sensors)
    cycles: np.ndarray
    life: np.ndarray  # each row's position in its asset's life (0 for its first reading)


def make_fleet(frame: pd.DataFrame, normaliser: RegimeNormaliser, spec: FeatureSpec) -> Fleet:
    return Fleet(
        frame,
        normaliser,
        spec,
        frame.loc[:, list(normaliser.settings)].to_numpy(dtype=np.float64),
        frame.loc[:, list(spec.sensors)].to_numpy(dtype=np.float64),
        frame["cycle"].to_numpy(dtype=np.float64),
        frame.groupby("asset_id", sort=False).cumcount().to_numpy(),
    )


def cmapss_fleet(subset: str, units: int) -> Fleet:
    from models.dataset import cmapss_columns, training_frame

    assert (CMAPSS_DIR / f"train_{subset}.txt.gz").is_file(), f"C-MAPSS data missing in {CMAPSS_DIR}"
    frame = training_frame(CMAPSS_DIR, subset, max_units=units)
    columns = cmapss_columns()
    normaliser = fit_regimes(frame, columns.settings, columns.sensors, columns.setting_decimals)
    return make_fleet(frame, normaliser, FeatureSpec(sensors=normaliser.informative_sensors()))


def pump_fleet() -> Fleet:
    """The simulated pump fleet as ``models.fleet_source`` trains on it (``cycle`` = ``seq``, no age)."""
    from models.fleet_source import FLEET_COLUMNS, fleet_history

    frame = fleet_history(assets=6, steps=120, interval_s=60.0, seed=11, failing_share=0.5,
                          rul_cap_steps=60).readings  # fmt: skip
    columns = FLEET_COLUMNS
    normaliser = fit_regimes(frame, columns.settings, columns.sensors, columns.setting_decimals)
    return make_fleet(frame, normaliser, FeatureSpec(sensors=normaliser.informative_sensors(), age=False))


@pytest.fixture(scope="module", params=["FD001", "FD003", "pumps"])
def fleet(request: pytest.FixtureRequest) -> Fleet:
    return pump_fleet() if request.param == "pumps" else cmapss_fleet(request.param, units=10)


def windows_of(
    fleet: Fleet, rows: list[tuple[int, int]]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``window_features`` input for ``rows`` (position in ``fleet.readings``, extra readings of
    history beyond the required ones), as the streaming job builds it: one block per row holding
    only that row's last readings (from the asset's first when it has fewer), normalised by
    ``normalise`` on those readings alone. Returns (normalised, ends, starts, cycles)."""
    history = required_history(fleet.spec)
    blocks, ends, starts = [], [], []
    at = 0
    for row, extra in rows:
        begin = max(row - int(fleet.life[row]), row - history + 1 - extra)
        blocks.append(np.arange(begin, row + 1))
        starts.append(at)
        at += row + 1 - begin
        ends.append(at - 1)
    taken = np.concatenate(blocks)
    normalised = fleet.normaliser.normalise(fleet.settings[taken], fleet.sensors[taken], fleet.spec.sensors)
    return normalised, np.asarray(ends), np.asarray(starts), fleet.cycles[taken]


def test_every_row_from_its_last_readings_alone_is_bit_identical_to_the_fleet_pass(fleet: Fleet) -> None:
    """Real data (C-MAPSS FD001, FD003 and the pump fleet) with a trained normaliser: each row's
    features computed alone, from only its last ``required_history`` readings, equal the row of one
    ``fleet_features`` pass over every asset's whole history, bit for bit."""
    whole = fleet_features(fleet.readings, fleet.spec, fleet.normaliser, "asset_id").to_numpy()
    for row in range(len(fleet.readings)):
        alone = window_features(*windows_of(fleet, [(row, 0)]), fleet.spec)
        assert np.array_equal(alone[0], whole[row]), row
    # and all of them at once, each from its own window, beside each other
    together = window_features(*windows_of(fleet, [(r, 0) for r in range(len(fleet.readings))]), fleet.spec)
    assert np.array_equal(together, whole)


def test_the_fleet_pass_does_not_depend_on_row_order_or_the_other_assets(fleet: Fleet) -> None:
    frame = fleet.readings
    whole = fleet_features(frame, fleet.spec, fleet.normaliser, "asset_id")
    shuffled = frame.sample(frac=1.0, random_state=4)
    again = fleet_features(shuffled, fleet.spec, fleet.normaliser, "asset_id")
    assert np.array_equal(again.loc[frame.index].to_numpy(), whole.to_numpy())
    one = frame[frame["asset_id"] == frame["asset_id"].iloc[-1]]
    alone = asset_features(one, fleet.spec, fleet.normaliser)
    assert np.array_equal(alone.to_numpy(), whole.loc[one.index].to_numpy())


@pytest.fixture(scope="module")
def hypothesis_fleet() -> tuple[Fleet, np.ndarray]:
    fleet = cmapss_fleet("FD003", units=12)
    whole = fleet_features(fleet.readings, fleet.spec, fleet.normaliser, "asset_id").to_numpy()
    return fleet, whole


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_rows_in_any_order_chunking_and_history_give_the_same_features(
    hypothesis_fleet: tuple[Fleet, np.ndarray], data: st.DataObject
) -> None:
    """Random row subsets (any assets, repeats allowed), in random order, each with a random amount of
    history beyond the required readings, computed in random chunks: every row equals the fleet pass."""
    fleet, whole = hypothesis_fleet
    n = len(fleet.readings)
    rows = data.draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, 40)), min_size=1, max_size=300))
    split = data.draw(st.integers(1, len(rows)))
    got = [
        window_features(*windows_of(fleet, rows[start : start + split]), fleet.spec)
        for start in range(0, len(rows), split)
    ]
    assert np.array_equal(np.vstack(got), whole[[r for r, _ in rows]])


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_assets_in_any_order_with_many_rows_each_give_the_same_features(
    hypothesis_fleet: tuple[Fleet, np.ndarray], data: st.DataObject
) -> None:
    """As the streaming step calls it: several assets' windows side by side in any order, each holding
    readings cut at a random point of its life and several rows to compute (any subset of those
    with at least the required history before them, or from the asset's first reading)."""
    fleet, whole = hypothesis_fleet
    history = required_history(fleet.spec)
    assets = fleet.readings["asset_id"].to_numpy()
    names = list(dict.fromkeys(assets.tolist()))
    order = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=len(names), unique=True))
    blocks: list[np.ndarray] = []
    ends: list[int] = []
    starts: list[int] = []
    want: list[int] = []
    at = 0
    for name in order:
        rows = np.flatnonzero(assets == name)
        cut = data.draw(st.integers(0, len(rows) - 1))  # the window holds rows[cut:]
        can = rows[cut + history - 1 :] if cut else rows  # rows with all the history they need
        if not len(can):
            continue
        picked = sorted(data.draw(st.sets(st.sampled_from(can.tolist()), min_size=1, max_size=20)))
        block = rows[cut : picked[-1] + 1]
        blocks.append(block)
        ends.extend(at + p - block[0] for p in picked)
        starts.extend([at] * len(picked))
        want.extend(picked)
        at += len(block)
    assume(blocks)
    taken = np.concatenate(blocks)
    normalised = fleet.normaliser.normalise(fleet.settings[taken], fleet.sensors[taken], fleet.spec.sensors)
    got = window_features(normalised, np.array(ends), np.array(starts), fleet.cycles[taken], fleet.spec)
    assert np.array_equal(got, whole[want])
