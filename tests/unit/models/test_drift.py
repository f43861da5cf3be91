"""Drift against a training reference (models.drift): PSI's properties, the JSON round trip, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from forewarn.contracts.influx_schema import FEATURE_DRIFT
from models import drift
from models.drift_job import DriftReport, feature_drift_lines

finite = st.floats(-1e6, 1e6, allow_nan=False)
samples = arrays(np.float64, st.integers(1, 400), elements=finite)


@given(reference=samples, live=arrays(np.float64, st.integers(0, 400), elements=st.floats(allow_nan=True)))
def test_psi_is_never_negative_and_never_raises(reference: np.ndarray, live: np.ndarray) -> None:
    result = drift.feature_drift(drift.feature_reference("x", reference), live)
    assert np.isnan(result.psi) or result.psi >= 0.0
    assert result.rows == int(np.isfinite(live).sum())


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_a_sample_of_the_reference_distribution_has_a_small_psi(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = drift.feature_reference("x", rng.normal(size=5000))
    live = drift.feature_drift(reference, rng.normal(size=2000))
    # E[PSI] ~ (bins - 1) (1/n + 1/m) ~ 0.006 here; far below any threshold
    assert live.psi < 0.05
    assert abs(live.mean_shift_sd) < 0.15


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_psi_grows_with_the_shift(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = drift.feature_reference("x", rng.normal(size=5000))
    base = rng.normal(size=2000)
    values = [drift.feature_drift(reference, base + shift).psi for shift in (0.0, 0.5, 1.0, 2.0, 4.0)]
    assert values == sorted(values)
    assert values[-1] > 2.0  # four sds: nearly every reading in the top open bin
    assert drift.feature_drift(reference, base + 1.0).mean_shift_sd > 0.8


@given(reference=samples, bins=st.integers(2, 20))
def test_reference_shares_sum_to_one_and_round_trip_through_json(reference: np.ndarray, bins: int) -> None:
    feature = drift.feature_reference("x", reference, bins)
    assert len(feature.expected) == len(feature.edges) + 1 <= bins
    assert abs(sum(feature.expected) - 1.0) < 1e-9
    full = drift.DriftReference((feature,), drift.feature_reference(drift.RISK, reference / 1e6, bins), bins)
    assert drift.DriftReference.from_json(full.to_json()) == full


def test_empty_nan_and_constant_features_are_judged_without_exceptions() -> None:
    constant = drift.feature_reference("c", np.full(100, 3.0))
    assert constant.edges == (3.0,)
    assert constant.sd == 0.0
    same = drift.feature_drift(constant, np.full(50, 3.0))
    assert same.psi == 0.0
    assert np.isnan(same.mean_shift_sd)
    assert drift.feature_drift(constant, np.full(50, 4.0)).psi > 2.0  # all of it where training had none
    empty = drift.feature_reference("e", np.array([np.nan, np.inf]))
    assert empty.rows == 0
    assert np.isnan(drift.feature_drift(empty, np.ones(10)).psi)
    assert np.isnan(drift.feature_drift(constant, np.array([np.nan])).psi)
    reference = drift.DriftReference((constant, empty), None)
    results = drift.measure(reference, pd.DataFrame({"c": [3.0, np.nan]}), np.array([0.5]))
    assert [(r.feature, r.rows) for r in results] == [("c", 1), ("e", 0)]  # no risk reference: no risk drift


def test_a_bad_reference_file_is_a_value_error() -> None:
    for text in (b"{", b"[]", b'{"schema": 99}', b'{"schema": 1}'):
        try:
            drift.DriftReference.from_json(text)
        except ValueError:
            continue
        raise AssertionError(f"{text!r} was accepted")


def test_feature_drift_points_follow_the_schema_and_the_note_names_the_worst() -> None:
    worst = drift.FeatureDrift("bearing_temp_c", "site-2", 2.61, 3.2, 1200)
    nothing = drift.FeatureDrift("risk", "all", np.nan, np.nan, 0)
    lines = feature_drift_lines("m", "3", 1_000, [worst, nothing])
    assert lines[0] == FEATURE_DRIFT.point(
        {"model_name": "m", "model_version": "3", "feature": "bearing_temp_c", "site": "site-2"},
        {"psi": 2.61, "mean_shift_sd": 3.2, "rows": 1200},
        1_000,
    )
    assert lines[1] is not None
    assert "rows=0i" in lines[1]
    assert "psi" not in lines[1]
    report = DriftReport("m", "3", 0, 1_000, 2_400, (worst,), True, 2.0, worst)
    assert report.note() == "m v3: site-2 bearing_temp_c PSI 2.61 (>= 2) over 1,200 readings"
    skipped = DriftReport("m", "1", 0, 0, 0, (), False, 2.0, None, "no drift reference")
    assert skipped.note() == "m v1: drift not measured: no drift reference"
