"""Feature functions: the streaming window gives the batch row; statistics are what they claim."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

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
)
from models.regimes import RegimeNormaliser, fit_regimes

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
