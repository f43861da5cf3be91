"""The regime normaliser on a six-condition fleet (like FD002/FD004) and a one-condition one."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ingest.cmapss import SENSOR_COLUMNS, SETTING_COLUMNS
from models.regimes import RegimeNormaliser, fit_regimes
from tests.unit.models.conftest import OPERATING_POINTS, synthetic_fleet


def fit(frame: pd.DataFrame) -> RegimeNormaliser:
    return fit_regimes(frame, SETTING_COLUMNS, SENSOR_COLUMNS, decimals=(0, 2, 0))


def true_regime(frame: pd.DataFrame) -> np.ndarray:
    settings = frame.loc[:, list(SETTING_COLUMNS)].to_numpy()
    return np.abs(settings[:, None, :] - OPERATING_POINTS[None]).sum(axis=2).argmin(axis=1)


def test_learns_the_six_operating_points(multi_regime_fleet: pd.DataFrame) -> None:
    normaliser = fit(multi_regime_fleet)
    assert normaliser.n_regimes == 6
    learned = np.asarray(normaliser.centroids)
    for point in OPERATING_POINTS:
        assert np.abs(learned - point).sum(axis=1).min() < 0.01
    assert sum(normaliser.counts) == len(multi_regime_fleet)


def test_assigns_unseen_readings_to_their_regime(multi_regime_fleet: pd.DataFrame) -> None:
    normaliser = fit(multi_regime_fleet)
    unseen = synthetic_fleet(3, seed=99)
    learned_for_true = (
        np.abs(np.asarray(normaliser.centroids)[:, None] - OPERATING_POINTS[None]).sum(2).argmin(0)
    )
    assert (normaliser.assign(unseen) == learned_for_true[true_regime(unseen)]).all()


def test_removes_the_regime_levels(multi_regime_fleet: pd.DataFrame) -> None:
    raw = multi_regime_fleet
    normalised = fit(raw).transform(raw)
    regime = true_regime(raw)
    sensor = "sensor_2"
    # raw: the spread between regimes dwarfs everything; normalised: every regime centred, unit spread
    assert raw.groupby(regime)[sensor].mean().std() > 50
    by_regime = normalised.groupby(regime)[sensor]
    assert np.allclose(by_regime.mean(), 0.0, atol=1e-9)
    assert np.allclose(by_regime.std(ddof=0), 1.0, atol=1e-9)


def test_degradation_signal_survives_normalisation(multi_regime_fleet: pd.DataFrame) -> None:
    normalised = fit(multi_regime_fleet).transform(multi_regime_fleet)
    life = multi_regime_fleet.groupby("unit")["cycle"].transform("max")
    late = (multi_regime_fleet["cycle"] / life) > 0.9
    early = (multi_regime_fleet["cycle"] / life) < 0.3
    shift = (normalised[late].mean() - normalised[early].mean()).abs()
    assert shift.drop("sensor_1").max() > 1.0  # some sensor moves by more than one regime std


def test_constant_sensors_are_flagged_and_do_not_divide_by_zero(multi_regime_fleet: pd.DataFrame) -> None:
    normaliser = fit(multi_regime_fleet)
    assert "sensor_1" not in normaliser.informative_sensors()
    assert "sensor_2" in normaliser.informative_sensors()
    assert np.isfinite(normaliser.transform(multi_regime_fleet).to_numpy()).all()
    assert np.allclose(normaliser.transform(multi_regime_fleet)["sensor_1"], 0.0)


def test_round_trips_through_plain_data(multi_regime_fleet: pd.DataFrame) -> None:
    normaliser = fit(multi_regime_fleet)
    again = RegimeNormaliser.from_dict(normaliser.to_dict())
    assert again == normaliser
    pd.testing.assert_frame_equal(
        again.transform(multi_regime_fleet), normaliser.transform(multi_regime_fleet)
    )


def test_single_condition_noise_is_one_regime() -> None:
    frame = synthetic_fleet(4, seed=3, regimes=1)
    assert fit(frame).n_regimes == 1


def test_rare_setting_combinations_join_the_nearest_regime(multi_regime_fleet: pd.DataFrame) -> None:
    odd = multi_regime_fleet.iloc[:3].copy()
    odd["setting_1"] = 11.0  # three readings at an altitude seen nowhere else
    normaliser = fit(pd.concat([multi_regime_fleet, odd], ignore_index=True))
    assert normaliser.n_regimes == 6
