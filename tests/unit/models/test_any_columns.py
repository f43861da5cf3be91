"""Training takes its columns from the source: fleet pumps, renamed C-MAPSS-like data, failure modes."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ingest.fleet import SENSORS, SETTINGS
from models.columns import SourceColumns
from models.features import FeatureInputError, feature_names
from models.fleet_source import FLEET_COLUMNS, FleetHistory, fleet_history
from models.predictor import OUTPUT_COLUMNS, UNSPECIFIED_MODE
from models.pyfunc import ForewarnPyfunc, example_input, input_columns
from models.settings import ModelsSettings
from models.training import TrainResult, extra_scores, train
from tests.unit.models.conftest import synthetic_fleet

SMALL = ModelsSettings(families=("ridge",), cv_folds=2, windows=(5, 15), rul_cap_cycles=60, horizon_cycles=20)


@pytest.fixture(scope="module")
def pumps() -> FleetHistory:
    return fleet_history(assets=16, steps=240, interval_s=1.0, seed=5, failing_share=1.0, rul_cap_steps=60)


@pytest.fixture(scope="module")
def pump_model(pumps: FleetHistory) -> TrainResult:
    return train(pumps.readings, SMALL, FLEET_COLUMNS)


def test_a_fleet_model_expects_the_fleets_own_columns_and_no_age(pump_model: TrainResult) -> None:
    model = pump_model.model
    assert model.normaliser.settings == tuple(SETTINGS)
    assert set(model.normaliser.sensors) == set(SENSORS)
    assert input_columns(model) == ["asset_id", "cycle", *SETTINGS, *SENSORS]
    # seq keeps counting across replacements: the fleet model must not read it as age
    assert "age_cycles" not in feature_names(model.spec)
    # idle / normal / peak: three operating regimes found from load and speed setpoint
    assert model.normaliser.n_regimes >= 3


def test_a_fleet_model_names_the_failure_mode_of_pumps_about_to_fail(
    pump_model: TrainResult,
) -> None:
    model = pump_model.model
    assert len(model.modes) >= 3
    other = fleet_history(assets=10, steps=240, interval_s=1.0, seed=6, failing_share=1.0, rul_cap_steps=60)
    scores = extra_scores(model, other.readings, other.labels, other.interval_s)
    # another seed's pumps: the mode is named right for most readings within the horizon of a failure
    assert scores["holdout_mode_accuracy"] >= 0.7, scores  # chance: 0.25 (measured 0.785)
    assert scores["holdout_failures"] >= 10
    assert scores["holdout_missed"] <= scores["holdout_failures"] / 2, scores
    out = model.predict(other.readings.drop(columns=["rul_cycles", "failure_mode"]), top_k=1)
    assert tuple(out.columns) == OUTPUT_COLUMNS
    assert set(out["failure_mode"]) <= set(model.modes)
    assert ((out["failure_mode_p"] > 0) & (out["failure_mode_p"] <= 1)).all()


def test_the_pyfunc_takes_the_models_columns(pump_model: TrainResult, pumps: FleetHistory) -> None:
    example = example_input(pumps.readings, pump_model.model)
    assert list(example.columns) == input_columns(pump_model.model)
    assert example["cycle"].dtype == np.int64
    wrapper = ForewarnPyfunc()
    wrapper.model = pump_model.model
    out = wrapper.predict(None, example, params={"latest_only": True})
    assert len(out) == 1
    assert out["failure_mode"].iloc[0] in pump_model.model.modes


def test_renamed_columns_train_a_model_without_modes() -> None:
    frame = synthetic_fleet(8, seed=3, min_life=80, max_life=140)
    frame["rul_cycles"] = frame.groupby("unit")["cycle"].transform("max") - frame["cycle"]
    frame.insert(0, "asset_id", "e" + frame["unit"].astype(str))
    names = {"setting_1": "altitude_kft", "setting_2": "mach", "setting_3": "throttle"}
    names |= {f"sensor_{i}": f"s{i:02d}" for i in range(1, 22)}
    frame = frame.rename(columns=names)
    columns = SourceColumns(
        ("altitude_kft", "mach", "throttle"), tuple(f"s{i:02d}" for i in range(1, 22)), (0, 2, 0)
    )
    result = train(frame, SMALL, columns)
    assert input_columns(result.model) == ["asset_id", "cycle", "altitude_kft", "mach", "throttle",
                                           *columns.sensors]  # fmt: skip
    assert "age_cycles" in feature_names(result.model.spec)
    assert result.model.mode_classifier is None
    assert result.model.modes == ()
    out = result.model.predict(frame.drop(columns=["unit", "rul_cycles"]).head(40), top_k=0)
    assert (out["failure_mode"] == UNSPECIFIED_MODE).all()
    assert out["failure_mode_p"].isna().all()
    with pytest.raises(FeatureInputError, match="readings lack"):  # other column names cannot be scored
        result.model.predict(pd.DataFrame({"asset_id": ["e1"], "cycle": [1], "sensor_2": [1.0]}))


def test_one_named_mode_trains_no_classifier() -> None:
    frame = synthetic_fleet(6, seed=4, min_life=80, max_life=120)
    frame["rul_cycles"] = frame.groupby("unit")["cycle"].transform("max") - frame["cycle"]
    frame.insert(0, "asset_id", "e" + frame["unit"].astype(str))
    frame["failure_mode"] = np.where(frame["unit"] % 2 == 0, "hpc_degradation", "unknown")
    from models.dataset import cmapss_columns

    assert train(frame, SMALL, cmapss_columns()).model.mode_classifier is None


def test_source_columns_are_checked() -> None:
    with pytest.raises(ValueError, match="one rounding precision per setting"):
        SourceColumns(("a", "b"), ("s",), (1,))
    with pytest.raises(ValueError, match="both setting and sensor"):
        SourceColumns(("a",), ("a",), (1,))


def test_the_regimes_learn_from_censored_readings_too(pumps: FleetHistory) -> None:
    """A new operating point seen only in readings whose outcome is not known yet (a site moved to
    a new duty point, its pumps not failed since) is still a regime with its own statistics: the
    normaliser needs no label, and without those readings it would learn nothing of the new point."""
    readings = pumps.readings
    late = readings.groupby("asset_id")["seq"].transform("max") - readings["seq"] < 40
    moved = readings.copy()
    moved.loc[late, "speed_setpoint_rpm"] += 500.0  # a setpoint no labelled reading has
    moved.loc[late, "vibration_mm_s"] += 3.0
    moved.loc[late, "rul_cycles"] = np.nan  # their outcome is unknown
    model = train(moved, SMALL, FLEET_COLUMNS).model
    regimes = model.normaliser.assign(moved)
    new = np.unique(regimes[late.to_numpy()])
    assert not set(new) & set(np.unique(regimes[~late.to_numpy()]))  # the new point is its own regime(s)
    assert sum(model.normaliser.counts[r] for r in new) == int(late.sum())
    z = model.normaliser.transform(moved.loc[late])["vibration_mm_s"]
    assert abs(float(z.mean())) < 0.5  # normalised against its own level, not 3 mm/s above the others
