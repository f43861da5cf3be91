"""The simulated fleet as a training source: labels and RUL from its ground truth, lead times."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from forewarn.contracts.labels import NO_FAILURE, LabelSource
from ingest.fleet import SENSORS, SETTINGS, FailureMode
from models.fleet_source import FLEET_COLUMNS, fleet_history
from models.labels import LabelError, rul_from_label_times
from models.lead_time import lead_summary, lead_times

T0 = pd.Timestamp("2026-01-01T00:00:00Z")


def ms(step: int, step_s: float = 10.0) -> int:
    return int(T0.value // 1_000_000 + step * step_s * 1000)


def one_asset(steps: int, step_s: float = 10.0) -> pd.DataFrame:
    return pd.DataFrame({"asset_id": "p1", "ts_ms": [ms(s, step_s) for s in range(steps)]})


def label(asset: str, step: int, mode: str, step_s: float = 10.0) -> dict[str, object]:
    return {"asset_id": asset, "cycle": pd.NA, "time": pd.Timestamp(ms(step, step_s), unit="ms", tz="UTC"),
            "failure_mode": mode, "source": LabelSource.SIMULATION.value}  # fmt: skip


def test_rul_counts_steps_to_the_next_failure_and_censors_after_the_last() -> None:
    readings = one_asset(12)
    labels = pd.DataFrame([label("p1", 4, "seal_leak"), label("p1", 9, "cavitation")])
    out = rul_from_label_times(readings, labels, "asset_id", "ts_ms", step_s=10.0)
    assert out["rul_cycles"].iloc[:9].tolist() == [4, 3, 2, 1, 5, 4, 3, 2, 1]
    # the reading at the failure time is the replacement's first: it belongs to the next life
    assert out["failure_mode"].iloc[:9].tolist() == ["seal_leak"] * 4 + ["cavitation"] * 5
    assert out["rul_cycles"].iloc[9:].isna().all()
    assert (out["failure_mode"].iloc[9:] == "").all()


def test_a_sound_label_makes_censored_readings_healthy_examples_only_beyond_the_bound() -> None:
    readings = one_asset(12)
    labels = pd.DataFrame([label("p1", 2, "seal_leak"), label("p1", 11, NO_FAILURE)])
    kept = rul_from_label_times(readings, labels, "asset_id", "ts_ms", 10.0)["rul_cycles"]
    assert kept.iloc[2:].isna().all()  # without min_known_rul a sound label proves no exact RUL
    bounded = rul_from_label_times(readings, labels, "asset_id", "ts_ms", 10.0, min_known_rul=5)["rul_cycles"]
    # steps 2..6 are at least 9..5 steps from failure (sound at step 11); 7.. are too close to know
    assert bounded.iloc[2:7].tolist() == [9, 8, 7, 6, 5]
    assert bounded.iloc[7:].isna().all()
    assert bounded.iloc[:2].tolist() == [2, 1]


def test_rul_from_label_times_refuses_bad_input() -> None:
    readings = one_asset(3)
    with pytest.raises(ValueError, match="step must be positive"):
        rul_from_label_times(readings, pd.DataFrame([label("p1", 1, "x")]), "asset_id", "ts_ms", 0.0)
    bad_time = pd.DataFrame([{**label("p1", 1, "x"), "time": "yesterday"}])
    with pytest.raises(LabelError, match="ISO 8601"):
        rul_from_label_times(readings, bad_time, "asset_id", "ts_ms", 1.0)
    no_when = pd.DataFrame([{**label("p1", 1, "x"), "time": pd.NaT}])
    with pytest.raises(LabelError, match="cycle or a time"):
        rul_from_label_times(readings, no_when, "asset_id", "ts_ms", 1.0)


@pytest.fixture(scope="module")
def history() -> object:
    return fleet_history(assets=12, steps=240, interval_s=5.0, seed=3, failing_share=1.0, rul_cap_steps=60)


def test_fleet_history_labels_follow_the_simulators_ground_truth(history: object) -> None:
    from models.fleet_source import FleetHistory

    assert isinstance(history, FleetHistory)
    readings, labels = history.readings, history.labels
    assert set(FLEET_COLUMNS.settings) == set(SETTINGS)
    assert set(FLEET_COLUMNS.sensors) == set(SENSORS)
    assert not FLEET_COLUMNS.cycle_is_age
    failures = labels[labels["failure_mode"] != NO_FAILURE]
    assert len(failures) >= 12  # every pump fails inside the run at least once
    assert set(failures["failure_mode"]) <= {m.value for m in FailureMode}
    assert (labels.loc[labels["failure_mode"] == NO_FAILURE, "asset_id"].value_counts() == 1).all()
    for _, failure in failures.iterrows():
        asset = readings[readings["asset_id"] == failure["asset_id"]]
        failure_ms = failure["time"].value // 1_000_000
        before = asset[asset["ts_ms"] < failure_ms].tail(5)
        # the last five readings before a failure are 5..1 steps from it, with its mode
        assert before["rul_cycles"].tolist() == [5, 4, 3, 2, 1]
        assert (before["failure_mode"] == failure["failure_mode"]).all()
        # the replacement's first reading starts a new life: far from a failure (the simulator
        # draws the next one at least steps/4 = 60 steps on) or censored
        replacement = asset[asset["ts_ms"] >= failure_ms].head(1)
        assert not (replacement["rul_cycles"] <= 5).any()
    # censored readings trail each asset: none before a reading with known RUL
    for _, asset in readings.groupby("asset_id"):
        known = asset["rul_cycles"].notna().to_numpy()
        assert not (np.diff(known.astype(int)) > 0).any()
    # cycle is seq: it keeps rising across replacements
    assert (readings.groupby("asset_id")["cycle"].diff().dropna() == 1).all()


def test_after_the_last_failure_only_readings_a_cap_from_the_run_end_are_kept(history: object) -> None:
    readings = history.readings  # type: ignore[attr-defined]
    end_ms = readings["ts_ms"].max() + 5000
    censored = readings[readings["failure_mode"] == ""]
    known = censored["rul_cycles"].notna()
    # kept: at least the cap (60 steps) before the end, RUL = steps to the end (a lower bound)
    np.testing.assert_allclose(
        censored.loc[known, "rul_cycles"], (end_ms - censored.loc[known, "ts_ms"]) / 5000
    )
    assert (censored.loc[known, "rul_cycles"] >= 60).all()
    assert ((end_ms - censored.loc[~known, "ts_ms"]) / 5000 < 60).all()


def test_lead_time_is_counted_from_the_first_warning_in_each_life() -> None:
    readings = one_asset(12).assign(risk=[0.1, 0.6, 0.2, 0.1, 0.1, 0.1, 0.2, 0.7, 0.9, 0.1, 0.1, 0.1])
    labels = pd.DataFrame(
        [label("p1", 4, "seal_leak"), label("p1", 9, "cavitation"), label("p1", 12, "bearing_wear"),
         label("p1", 12 + 1000, NO_FAILURE)]
    )  # fmt: skip
    leads = lead_times(readings, labels, "asset_id", "ts_ms", step_s=10.0)
    assert leads["failure_mode"].tolist() == ["seal_leak", "cavitation", "bearing_wear"]
    assert leads["lead_steps"].iloc[:2].tolist() == [3.0, 2.0]  # steps 1 and 7
    assert np.isnan(leads["lead_steps"].iloc[2])  # risk never reached 0.5 in the last life: missed
    summary = lead_summary(leads)
    assert summary["failures"] == 3
    assert summary["missed"] == 1
    assert summary["lead_steps_median"] == 2.5
