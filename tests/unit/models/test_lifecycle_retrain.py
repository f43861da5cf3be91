"""Model events' line protocol and tags, the retrain's pure parts: the judge split, the verdict, the
policy, and how the base source's frame joins the labels' frame.

Against the real MLflow and InfluxDB: ``tests/integration/models/test_lifecycle.py``.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from forewarn.settings import InfluxSettings
from models.columns import SourceColumns
from models.events import TAG_VALUE_LIMIT, ModelAction, ModelEvent, events_of, record
from models.lifecycle.base import champion_base, combine, parse_source
from models.lifecycle.retrain import (
    Decision,
    JudgeScores,
    cross_fitted,
    decide,
    judge,
    judge_folds,
    scored,
    verdict,
)
from models.lifecycle.settings import LifecycleSettings, Phm08Gate, Policy
from models.metrics import EvalMetrics
from models.settings import ModelsSettings
from models.sources import SourceError, TrainingData

AT = datetime(2026, 5, 1, 12, 0, 0, tzinfo=UTC)


class FakeRegistry:
    """Records ``set_model_version_tag`` calls (a real MLflow test is in the integration tier)."""

    def __init__(self) -> None:
        self.tags: dict[str, str] = {}

    def set_model_version_tag(self, name: str, version: str, key: str, value: str) -> None:
        self.tags[key] = value


def test_an_event_is_one_model_events_point() -> None:
    numbers = {"challenger_rmse": 10.5, "champion_rmse": 12.0, "challenger_pr_auc": math.nan}
    event = ModelEvent("pumps", "4", ModelAction.GATE_PASSED, 'gate passed, "rmse" ok', AT, numbers)
    assert event.line() == (
        'model_events,action=gate_passed,model_name=pumps,model_version=4 note="gate passed, \\"rmse\\" ok",'
        "challenger_rmse=10.5,champion_rmse=12.0 1777636800000"
    )


def test_an_event_with_an_undeclared_number_or_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="does not declare field 'rmse_typo'"):
        ModelEvent("pumps", "4", ModelAction.RETRAIN, "x", AT, {"rmse_typo": 1.0})
    with pytest.raises(ValueError, match="timezone-aware"):
        ModelEvent("pumps", "4", ModelAction.RETRAIN, "x", datetime(2026, 5, 1), {})  # noqa: DTZ001


def test_the_registry_tag_is_append_only_and_trimmed() -> None:
    event = ModelEvent("pumps", "4", ModelAction.PROMOTED, "why " * 3000, AT, {"challenger_rmse": 10.5})
    key, value = event.tag()
    assert key == "forewarn.event.1777636800000.promoted"
    assert len(value) <= TAG_VALUE_LIMIT
    back = events_of({key: value, "forewarn.family": "ridge"})
    assert back[0]["action"] == "promoted"
    assert back[0]["numbers"] == {"challenger_rmse": 10.5}
    assert back[0]["note"].endswith("…")


def test_influxdb_down_keeps_the_event_in_the_registry_and_says_so(caplog: pytest.LogCaptureFixture) -> None:
    registry = FakeRegistry()
    nowhere = InfluxSettings(url="http://127.0.0.1:9", timeout_s=0.5)  # nothing listens on the discard port
    event = ModelEvent("pumps", "4", ModelAction.ROLLED_BACK, "champion v4 -> v3", AT)
    naps: list[float] = []
    with caplog.at_level(logging.ERROR, "models.events"):
        done = record(event, nowhere, registry, retry_budget_s=1.0, sleep=naps.append)
    assert done.registry
    assert not done.influx
    assert "forewarn.event.1777636800000.rolled_back" in registry.tags
    assert len(naps) >= 2
    assert naps[1] > naps[0]
    assert "not written to InfluxDB" in caplog.text
    assert "model_events,action=rolled_back" in caplog.text
    assert "127.0.0.1:9" in done.problems[0]


def test_an_event_without_influx_is_a_registry_tag_only() -> None:
    registry = FakeRegistry()
    done = record(ModelEvent("pumps", "2", ModelAction.APPROVED, "ok", AT), None, registry)
    assert done.registry
    assert not done.influx
    assert done.problems == ()


def test_the_judge_folds_deal_every_asset_once_with_failures_and_sound_assets_in_each() -> None:
    faulty = [f"f{i}" for i in range(10)]
    sound = [f"s{i}" for i in range(10)]
    labels = pd.DataFrame({"asset_id": faulty + sound, "failure_mode": ["bearing_wear"] * 10 + ["none"] * 10})
    folds = judge_folds(labels, faulty + sound, 0.3, seed=0)
    assert len(folds) == 3
    assert sorted(a for f in folds for a in f) == sorted(faulty + sound)
    for fold in folds:
        assert 3 <= sum(a.startswith("f") for a in fold) <= 4
        assert 6 <= len(fold) <= 7
    assert judge_folds(labels, faulty + sound, 0.3, seed=0) == folds
    assert judge_folds(labels, faulty + sound, 0.3, seed=1) != folds
    assert len(judge_folds(labels, faulty + sound, 0.5, seed=0)) == 2


def test_few_assets_give_fewer_folds_and_three_failures_land_in_three_folds() -> None:
    labels = pd.DataFrame({"asset_id": ["a", "b", "c", "d"], "failure_mode": ["seal_leak"] * 3 + ["none"]})
    folds = judge_folds(labels, ["a", "b", "c", "d"], 0.3, seed=4)
    assert sorted(a for f in folds for a in f) == ["a", "b", "c", "d"]
    assert all(len({"a", "b", "c"} & set(f)) == 1 for f in folds)
    assert judge_folds(labels, ["a"], 0.3, seed=0) == [["a"]]


class OffsetModel:
    """A model whose RUL is the reading's cycle plus ``offset`` (enough to tell who predicted what)."""

    def __init__(self, offset: float) -> None:
        self.offset = offset

    def features(self, readings: pd.DataFrame) -> pd.DataFrame:
        return readings

    def predict_rul(self, features: pd.DataFrame) -> np.ndarray:
        return np.asarray(features["cycle"].to_numpy(dtype=np.float64) + self.offset)

    def risk(self, rul: np.ndarray) -> np.ndarray:
        return (rul < 10).astype(np.float64)


def test_cross_fitted_predictions_are_each_folds_own_model_and_score_like_one_model() -> None:
    frame = pd.DataFrame({
        "asset_id": ["a"] * 3 + ["b"] * 3, "cycle": [1.0, 2, 3] * 2, "rul_cycles": [30.0, 29, 28, 3, 2, 1],
    })  # fmt: skip
    a, b = frame[frame["asset_id"] == "a"], frame[frame["asset_id"] == "b"]
    p = cross_fitted([(OffsetModel(100.0), a), (OffsetModel(0.0), b)], cap=125)
    assert p.rul.tolist() == [101.0, 102, 103, 1, 2, 3]
    assert p.held.readings["asset_id"].tolist() == ["a"] * 3 + ["b"] * 3
    # one model that predicts the same numbers gets the same scores
    same = scored(p, None, None, 125, 5)
    one = judge(OffsetModel(0.0), frame.assign(cycle=[101.0, 102, 103, 1, 2, 3]), None, None, 125, 5)
    assert same.metrics == one.metrics
    assert same.per_asset == one.per_asset
    assert same.per_asset["a"]["worst_late"] == 103.0 - 28.0
    assert same.per_asset["b"]["rmse"] == pytest.approx(np.sqrt((4 + 0 + 4) / 3))


def scores(rmse: float, pr_auc: float = 0.8) -> JudgeScores:
    return JudgeScores(EvalMetrics(rmse=rmse, phm08_score=rmse * 10, pr_auc=pr_auc, n_assets=5, n_points=100),
                       0.05, 1.0, 4)  # fmt: skip


def test_the_verdict_compares_on_the_judge_assets_and_needs_enough_of_them() -> None:
    models, lifecycle = ModelsSettings(), LifecycleSettings(min_judge_assets=3)
    assert verdict(scores(10.0), scores(12.0), 5, models, lifecycle).passed
    assert not verdict(scores(13.0), scores(12.0), 5, models, lifecycle).passed
    few = verdict(scores(10.0), scores(12.0), 2, models, lifecycle)
    assert not few.passed
    assert "too few recently labelled assets to judge: 2 judged" in few.note
    unscored = verdict(None, scores(12.0), 5, models, lifecycle, "a fold could not be fitted")
    assert not unscored.passed
    assert unscored.note == "a fold could not be fitted"
    blind = verdict(scores(10.0, math.nan), None, 5, models, lifecycle)
    assert not blind.passed
    assert "no confirmed failure" in blind.note
    assert scores(10.0).numbers("challenger")["challenger_rmse"] == 10.0


def judged(
    rmse: float, phm08: float, pr_auc: float, far: float, missed: float, failures: int = 9
) -> JudgeScores:
    return JudgeScores(
        EvalMetrics(rmse=rmse, phm08_score=phm08, pr_auc=pr_auc, n_assets=17, n_points=900),
        far, missed, failures,
    )  # fmt: skip


def test_missed_failures_not_phm08_judge_lateness_when_they_were_counted() -> None:
    """The closed-loop run of 3 Dec: better RMSE, PR-AUC and false alarms, none missed, PHM08 2.9x."""
    models = ModelsSettings()
    challenger = judged(24.44, 87_078.0, 0.870, 0.081, 0.0)
    champion = judged(25.07, 30_185.0, 0.793, 0.120, 0.0)
    auto = verdict(challenger, champion, 17, models, LifecycleSettings())
    assert auto.passed
    phm08 = {m: (ok, rule) for m, ok, rule in auto.checks}["phm08_score"]
    assert phm08[0]
    assert "not gated" in phm08[1]
    always = verdict(challenger, champion, 17, models, LifecycleSettings(phm08_gate=Phm08Gate.ALWAYS))
    assert not always.passed
    assert [m for m, ok, _ in always.checks if not ok] == ["phm08_score"]


def test_more_missed_failures_or_false_alarms_than_the_champion_are_refused() -> None:
    models, lifecycle = ModelsSettings(), LifecycleSettings()
    champion = judged(25.0, 30_000.0, 0.80, 0.10, 1.0)
    missing = verdict(judged(20.0, 20_000.0, 0.90, 0.05, 2.0), champion, 17, models, lifecycle)
    assert not missing.passed
    assert [m for m, ok, _ in missing.checks if not ok] == ["missed_failures"]
    noisy = verdict(judged(20.0, 20_000.0, 0.90, 0.13, 1.0), champion, 17, models, lifecycle)
    assert [m for m, ok, _ in noisy.checks if not ok] == ["false_alarm_rate"]
    tolerant = LifecycleSettings(max_false_alarm_rise=0.05)
    assert verdict(judged(20.0, 20_000.0, 0.90, 0.13, 1.0), champion, 17, models, tolerant).passed
    # within the default tolerance (0.02): the 3 Dec run's 0.125 against 0.119
    assert verdict(judged(20.0, 20_000.0, 0.90, 0.115, 1.0), champion, 17, models, lifecycle).passed
    strict = LifecycleSettings(max_false_alarm_rise=0.0)
    assert not verdict(judged(20.0, 20_000.0, 0.90, 0.115, 1.0), champion, 17, models, strict).passed


def test_a_challenger_catching_failures_a_never_alarming_champion_misses_may_alarm_more() -> None:
    """A mean-baseline champion: risk never reaches 0.5, no false alarm, every failure missed."""
    models, lifecycle = ModelsSettings(), LifecycleSettings()
    baseline = judged(40.0, 90_000.0, 0.30, 0.0, 9.0)
    catching = verdict(judged(25.0, 30_000.0, 0.80, 0.15, 2.0), baseline, 17, models, lifecycle)
    assert catching.passed
    far = {m: (ok, rule) for m, ok, rule in catching.checks}["false_alarm_rate"]
    assert far[0]
    assert "misses fewer failures" in far[1]
    # as many misses as the champion: the extra alarms buy nothing, refused
    same = verdict(judged(25.0, 30_000.0, 0.80, 0.15, 9.0), baseline, 17, models, lifecycle)
    assert [m for m, ok, _ in same.checks if not ok] == ["false_alarm_rate"]
    # missing fewer does not excuse a worse fit: RMSE and PR-AUC still judge
    worse = verdict(judged(80.0, 30_000.0, 0.80, 0.15, 2.0), baseline, 17, models, lifecycle)
    assert [m for m, ok, _ in worse.checks if not ok] == ["rmse"]


def test_without_timed_failures_phm08_still_gates() -> None:
    models, lifecycle = ModelsSettings(), LifecycleSettings()
    champion = judged(25.0, 30_000.0, 0.80, math.nan, math.nan, failures=0)
    late = verdict(
        judged(20.0, 90_000.0, 0.90, math.nan, math.nan, failures=0), champion, 5, models, lifecycle
    )
    assert not late.passed
    assert {m for m, _, _ in late.checks} == {"rmse", "phm08_score", "pr_auc"}


finite = st.floats(min_value=0.0, max_value=1e6, allow_nan=False)
maybe = st.one_of(st.just(math.nan), st.floats(min_value=0.0, max_value=1.0))
missed = st.one_of(st.just(math.nan), st.integers(0, 9))


@given(
    mine=st.tuples(finite, finite, st.floats(0.0, 1.0), maybe, missed),
    theirs=st.tuples(finite, finite, st.floats(0.0, 1.0), maybe, missed),
    rise=st.floats(0.0, 0.2),
)
def test_a_passed_gate_misses_no_more_alarms_no_more_unless_it_catches_more_auto_looser_only_on_phm08(
    mine: tuple[float, float, float, float, float],
    theirs: tuple[float, float, float, float, float],
    rise: float,
) -> None:
    models = ModelsSettings()
    a, b = judged(*mine), judged(*theirs)
    auto = verdict(a, b, 9, models, LifecycleSettings(max_false_alarm_rise=rise))
    strict = LifecycleSettings(max_false_alarm_rise=rise, phm08_gate=Phm08Gate.ALWAYS)
    always = verdict(a, b, 9, models, strict)
    if auto.passed:
        if not (math.isnan(a.missed_failures) or math.isnan(b.missed_failures)):
            assert a.missed_failures <= b.missed_failures
        fewer = a.missed_failures < b.missed_failures  # False when either is NaN
        if not (fewer or math.isnan(a.false_alarm_rate) or math.isnan(b.false_alarm_rate)):
            assert a.false_alarm_rate <= b.false_alarm_rate + rise
        assert a.metrics.rmse <= b.metrics.rmse * models.gate_max_rmse_ratio
    if always.passed:
        assert auto.passed
    if auto.passed and not always.passed:
        assert a.metrics.phm08_score > b.metrics.phm08_score * models.gate_max_phm08_ratio
        assert not math.isnan(a.missed_failures)


@pytest.mark.parametrize(
    ("passed", "policy", "expected"),
    [
        (True, Policy.MANAGED, Decision.PROMOTED),
        (True, Policy.MANUAL, Decision.AWAITING_APPROVAL),
        (False, Policy.MANAGED, Decision.REFUSED),
        (False, Policy.MANUAL, Decision.REFUSED),
    ],
)
def test_the_policy(passed: bool, policy: Policy, expected: Decision) -> None:
    assert decide(passed, policy) is expected


def test_lifecycle_settings_are_validated() -> None:
    with pytest.raises(ValueError, match="base_source"):
        LifecycleSettings(base_source="kafka:somewhere")
    with pytest.raises(ValueError, match="judge_fraction"):
        LifecycleSettings(judge_fraction=0.0)
    assert LifecycleSettings(policy="MANUAL").policy is Policy.MANUAL


def source(assets: list[str], sensors: tuple[str, ...], name: str, **params: Any) -> TrainingData:
    rows = 6
    frame = pd.DataFrame(
        {
            "asset_id": np.repeat(assets, rows),
            "cycle": np.tile(np.arange(1, rows + 1), len(assets)),
            "load_frac": 0.5,
            **{s: np.arange(rows * len(assets), dtype=float) for s in sensors},
            "rul_cycles": np.tile(np.arange(rows, 0, -1, dtype=float), len(assets)),
            "ts_ms": np.arange(rows * len(assets)) * 1000,
        }
    )
    labels = pd.DataFrame({"asset_id": assets, "cycle": pd.NA, "time": pd.Timestamp(AT),
                           "failure_mode": "seal_leak", "source": "simulation"})  # fmt: skip
    columns = SourceColumns(("load_frac",), sensors, (1,), cycle_is_age=False)
    return TrainingData(frame, columns, name, dict(params), labels=labels, step_s=60.0)


def test_frames_combine_with_prefixed_asset_ids() -> None:
    base = source(["pump-1", "pump-2"], ("vibration", "flow"), "fleet:assets=2", sim_interval_s=1.0)
    labels = source(["pump-1"], ("flow", "vibration"), "labels:x.csv", labels=4)
    data, note = combine(base, labels)
    assert note == "labels + fleet:assets=2"
    assert sorted(data.frame["asset_id"].unique()) == ["base:pump-1", "base:pump-2", "labels:pump-1"]
    assert len(data.frame) == 18
    assert data.columns.sensors == ("vibration", "flow")  # the base's order
    assert data.params == {
        "labels": 4,
        "base_sim_interval_s": 1.0,
        "base_source": "fleet:assets=2",
        "base_assets": 2,
    }
    assert data.source == "labels:x.csv+fleet:assets=2"
    assert data.step_s == 60.0
    assert data.labels is not None
    assert sorted(data.labels["asset_id"]) == [
        "base:pump-1",
        "base:pump-2",
        "labels:pump-1",
    ]


def test_mismatched_columns_train_on_labels_only_and_say_so() -> None:
    base = source(["e1"], ("sensor_2", "sensor_3"), "cmapss:FD001")
    labels = source(["pump-1"], ("flow", "vibration"), "labels:x.csv")
    data, note = combine(base, labels)
    assert data is labels
    assert note.startswith("labels only: the base source cmapss:FD001 reads")


def test_the_champions_source_is_rebuilt_from_its_tags_and_params() -> None:
    fleet = "fleet:assets=200,steps=400,interval_s=1,seed=3"
    spec, why = champion_base({"forewarn.source": fleet}, {"sim_failing_share": "0.8"})
    assert spec is not None
    assert spec.params == {"assets": 200, "steps": 400, "interval_s": 1.0, "seed": 3, "failing_share": 0.8}
    # a retrained champion: its base source tag and base_-prefixed params win
    tags = {"forewarn.source": "labels:l.csv+" + fleet, "forewarn.base_source": fleet}
    again, _ = champion_base(tags, {"base_sim_failing_share": "0.6"})
    assert again is not None
    assert again.params["failing_share"] == 0.6
    none, why = champion_base({"forewarn.source": "labels:l.csv"}, {})
    assert none is None
    assert "cannot be rebuilt" in why
    assert parse_source("cmapss:fd003") is not None
    with pytest.raises(SourceError, match="cannot rebuild"):
        parse_source("fleet:assets=2")


@pytest.mark.parametrize(
    ("assets", "source", "expected"),
    [
        (
            ["base:pump-1", "labels:pump-1", "labels:pump-7", "base:e3"],
            "labels:l.csv+fleet:assets=9",
            ["pump-1", "pump-7"],
        ),
        (["pump-2", "pump-1", "pump-2"], "labels:l.csv", ["pump-1", "pump-2"]),
        (["pump-1", "pump-2"], "fleet:assets=2,steps=9,interval_s=1,seed=0", []),
        (["1", "2"], "cmapss:FD001", []),
    ],
)
def test_a_version_records_the_labelled_assets_it_saw_by_their_fleet_names(
    assets: list[str], source: str, expected: list[str]
) -> None:
    """A base fleet's ``pump-1`` is not the live ``pump-1``: only the labelled ones count as seen."""
    from models.lifecycle.challenger import labelled_assets

    assert labelled_assets(np.asarray(assets), source) == expected


def test_the_verdict_details_only_the_assets_that_cost_each_model_most() -> None:
    from models.lifecycle.retrain import WORST_ASSETS, worst_assets

    def per_asset(costs: dict[str, float]) -> JudgeScores:
        detail = {a: {"points": 10.0, "rmse": 1.0, "phm08": c, "worst_late": 1.0} for a, c in costs.items()}
        return JudgeScores(scores(1.0).metrics, 0.0, 0.0, 0, detail)

    mine = per_asset({f"p{i}": float(i) for i in range(200)})
    theirs = per_asset({f"p{i}": float(1000 - i) for i in range(200)})
    shown = worst_assets(mine, theirs)
    worst_mine = {f"p{i}" for i in range(200 - WORST_ASSETS, 200)}
    worst_theirs = {f"p{i}" for i in range(WORST_ASSETS)}
    assert set(shown["challenger"]) == set(shown["champion"]) == worst_mine | worst_theirs
    assert shown["champion"]["p0"]["phm08"] == 1000.0
    assert worst_assets(mine, None) == {
        "challenger": {a: mine.per_asset[a] for a in sorted(worst_mine)},
        "champion": {},
    }
