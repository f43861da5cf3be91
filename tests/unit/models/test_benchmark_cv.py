"""The benchmark-like CV: truncation points drawn per held-out asset, judged on the true RUL."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ingest.cmapss import run_to_failure_rul
from models.dataset import cmapss_columns
from models.labels import capped_rul
from models.metrics import rmse
from models.settings import ModelsSettings
from models.training import (
    asset_folds,
    cv_scores,
    make_estimator,
    selection_score,
    train,
    truncation_points,
)
from tests.unit.models.conftest import synthetic_fleet


def lives(lengths: dict[str, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Assets, cycles (1..life) and true RUL (life - cycle) of run-to-failure histories."""
    assets = np.concatenate([np.full(n, a) for a, n in lengths.items()])
    cycles = np.concatenate([np.arange(1, n + 1) for n in lengths.values()]).astype(float)
    rul = np.concatenate([n - np.arange(1, n + 1) for n in lengths.values()]).astype(float)
    return assets, cycles, rul


def test_cuts_are_eligible_rows_up_to_k_per_asset() -> None:
    assets, cycles, rul = lives({"a": 200, "b": 60, "c": 40, "d": 25})
    cuts = truncation_points(assets, cycles, rul, 10, min_history_cycles=30, max_rul_cycles=150, seed=3)
    assert (cycles[cuts] >= 30).all()
    assert ((rul[cuts] >= 1) & (rul[cuts] <= 150)).all()
    per_asset = pd.Series(assets[cuts]).value_counts().to_dict()
    # c has cycles 30..39 with RUL 10..1 -> exactly 10 eligible; d is too short to cut at all
    assert per_asset == {"a": 10, "b": 10, "c": 10}
    assert len(set(cuts.tolist())) == len(cuts)  # without replacement
    few = truncation_points(assets, cycles, rul, 10, min_history_cycles=35, max_rul_cycles=150, seed=3)
    assert pd.Series(assets[few]).value_counts().to_dict() == {"a": 10, "b": 10, "c": 5}


def test_cuts_are_deterministic_per_seed() -> None:
    assets, cycles, rul = lives({"a": 200, "b": 180, "c": 150})
    first = truncation_points(assets, cycles, rul, 5, 30, 150, seed=7)
    assert np.array_equal(first, truncation_points(assets, cycles, rul, 5, 30, 150, seed=7))
    assert not np.array_equal(first, truncation_points(assets, cycles, rul, 5, 30, 150, seed=8))
    # rows shuffled: the same rows are chosen (by asset, not by position)
    order = np.random.default_rng(0).permutation(len(assets))
    shuffled = truncation_points(assets[order], cycles[order], rul[order], 5, 30, 150, seed=7)
    assert sorted(order[shuffled].tolist()) == first.tolist()


def test_cuts_are_uniform_over_the_eligible_rows() -> None:
    # one engine of 300 cycles: eligible cycles are those with RUL 1..150 (151..299)
    assets, cycles, rul = lives({"a": 300})
    drawn = np.concatenate(
        [rul[truncation_points(assets, cycles, rul, 1, 30, 150, seed=s)] for s in range(3000)]
    )
    assert drawn.min() == 1
    assert drawn.max() == 150
    counts = np.histogram(drawn, bins=5, range=(0.5, 150.5))[0]
    assert (np.abs(counts / len(drawn) - 0.2) < 0.03).all(), counts


def test_scores_judge_cuts_on_the_true_rul_and_fall_back_without_cuts() -> None:
    true = np.array([200.0, 140.0, 50.0, 10.0])
    capped = capped_rul(true, 125)
    predicted = np.array([125.0, 125.0, 45.0, 10.0])
    scores = cv_scores(predicted, capped, true, np.array([1, 2]))
    assert scores["rmse"] == pytest.approx(rmse(predicted, capped))
    assert scores["cut_rmse"] == pytest.approx(np.sqrt((15.0**2 + 5.0**2) / 2))
    assert scores["cut_points"] == 2
    # capped at the cuts: 140 -> 125 (predicted 125, no error), 50 stays (5 early)
    assert scores["cut_rmse_capped"] == pytest.approx(np.sqrt((0.0**2 + 5.0**2) / 2))
    assert selection_score(scores) == scores["cut_rmse_capped"]
    none = cv_scores(predicted, capped, true, np.empty(0, dtype=np.int64))
    assert np.isnan(none["cut_rmse"])
    assert np.isnan(none["cut_rmse_capped"])
    assert selection_score(none) == none["rmse"]


@pytest.fixture(scope="module")
def fleet() -> pd.DataFrame:
    frame = synthetic_fleet(9, seed=21, regimes=1, min_life=90, max_life=170)
    frame["rul_cycles"] = run_to_failure_rul(frame)
    frame.insert(0, "asset_id", "syn-" + frame["unit"].astype(str))
    return frame


def test_cut_score_is_the_held_out_model_on_the_truncated_history(fleet: pd.DataFrame) -> None:
    """Recompute the benchmark-like score by hand: for each fold, a model fitted without the
    held-out assets predicts each one truncated at its cut (the truncated history alone)."""
    settings = ModelsSettings(families=("extra_trees",), cv_folds=3, windows=(5, 10), rul_cap_cycles=60,
                              horizon_cycles=15, cv_cuts_per_asset=4)  # fmt: skip
    result = train(fleet, settings, cmapss_columns())
    model = result.model
    x = model.features(fleet).to_numpy(dtype=np.float64)
    assets = fleet["asset_id"].to_numpy()
    true = fleet["rul_cycles"].to_numpy(dtype=np.float64)
    cuts = truncation_points(assets, fleet["cycle"].to_numpy(), true, 4, 30, 150, settings.seed)
    errors = []
    for fit_rows, val_rows in asset_folds(assets, 3, settings.seed):
        assert set(assets[fit_rows]).isdisjoint(assets[val_rows])
        fit_rows = fit_rows[fleet["cycle"].to_numpy()[fit_rows] >= settings.fit_min_history_cycles]
        regressor = make_estimator("extra_trees", settings.seed).fit(
            x[fit_rows], capped_rul(true[fit_rows], 60)
        )
        for row in np.intersect1d(cuts, val_rows):
            asset, cycle = assets[row], fleet["cycle"].iloc[row]
            history = fleet[(fleet["asset_id"] == asset) & (fleet["cycle"] <= cycle)]
            last = model.features(history).to_numpy(dtype=np.float64)[-1:]
            errors.append(float(np.clip(regressor.predict(last)[0], 0, 60)) - true[row])
    assert len(errors) == len(cuts) == 9 * 4
    assert result.cv["extra_trees"]["cut_points"] == len(cuts)
    assert result.cv["extra_trees"]["cut_rmse"] == pytest.approx(float(np.sqrt(np.mean(np.square(errors)))))


def test_regressors_fit_only_rows_with_enough_history(fleet: pd.DataFrame) -> None:
    settings = ModelsSettings(families=("dummy",), cv_folds=3, windows=(5,), rul_cap_cycles=60,
                              horizon_cycles=15, fit_min_history_cycles=50)  # fmt: skip
    result = train(fleet, settings, cmapss_columns())
    late = fleet["cycle"] >= 50
    expected = capped_rul(fleet.loc[late, "rul_cycles"], 60).mean()
    assert float(np.ravel(result.model.regressor.constant_)[0]) == pytest.approx(expected)
    assert expected < capped_rul(fleet["rul_cycles"], 60).mean()  # the filter changed the fit
    assert len(result.oof_rul) == len(fleet)  # every row still predicted out of fold
    # ridge extrapolates to rows it never saw: it fits every row
    ridge = train(fleet, settings.model_copy(update={"families": ("ridge",)}), cmapss_columns()).model
    x = ridge.features(fleet).to_numpy(dtype=np.float64)
    every_row = make_estimator("ridge", settings.seed).fit(x, capped_rul(fleet["rul_cycles"], 60))
    np.testing.assert_allclose(ridge.regressor.predict(x), every_row.predict(x))
    with pytest.raises(ValueError, match="fit_min_history_cycles"):
        train(fleet, settings.model_copy(update={"fit_min_history_cycles": 500}), cmapss_columns())


def test_hgb_avg_is_the_mean_of_differently_seeded_boosters() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(10_500, 1))  # above 10 000 rows each booster stops early on its own split
    y = (x[:, 0] > 0) * 10.0 + rng.normal(size=len(x))
    model = make_estimator("hgb_avg", seed=5).fit(x, y)
    members = model.estimators_
    assert [m.random_state for m in members] == [5, 6, 7]
    each = np.stack([m.predict(x[:50]) for m in members])
    np.testing.assert_allclose(model.predict(x[:50]), each.mean(axis=0))
    assert not np.allclose(each[0], each[1])  # the seeds give different models
