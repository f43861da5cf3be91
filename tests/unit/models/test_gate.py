"""The promotion gate as a pure decision (the real registry is exercised in integration tests)."""

from __future__ import annotations

import pytest

from models.metrics import EvalMetrics
from models.registry import gate, side_by_side
from models.settings import ModelsSettings

SETTINGS = ModelsSettings(gate_max_rmse=30.0, gate_min_pr_auc=0.5)


def scores(rmse: float, phm: float, auc: float) -> EvalMetrics:
    return EvalMetrics(rmse=rmse, phm08_score=phm, pr_auc=auc, n_assets=20, n_points=20)


def test_better_on_every_metric_passes() -> None:
    assert gate(scores(12.0, 200.0, 0.9), scores(14.0, 300.0, 0.85), SETTINGS).passed


@pytest.mark.parametrize(
    ("challenger", "failing"),
    [
        (scores(15.0, 200.0, 0.9), "rmse"),
        (scores(12.0, 301.0, 0.9), "phm08_score"),
        (scores(12.0, 200.0, 0.80), "pr_auc"),
        (scores(float("nan"), 200.0, 0.9), "rmse"),
    ],
)
def test_worse_on_any_metric_is_refused(challenger: EvalMetrics, failing: str) -> None:
    decision = gate(challenger, scores(14.0, 300.0, 0.85), SETTINGS)
    assert not decision.passed
    assert [m for m, ok, _ in decision.checks if not ok] == [failing]


def test_tolerances_come_from_settings() -> None:
    lenient = SETTINGS.model_copy(update={"gate_max_rmse_ratio": 1.1, "gate_max_pr_auc_drop": 0.1})
    challenger, champion = scores(15.0, 300.0, 0.80), scores(14.0, 300.0, 0.85)
    assert not gate(challenger, champion, SETTINGS).passed
    assert gate(challenger, champion, lenient).passed


def test_first_champion_must_meet_absolute_ceilings() -> None:
    assert gate(scores(25.0, 1e6, 0.6), None, SETTINGS).passed
    assert not gate(scores(35.0, 10.0, 0.9), None, SETTINGS).passed
    assert not gate(scores(20.0, 10.0, 0.4), None, SETTINGS).passed


def test_side_by_side_shows_both_models_and_the_verdicts() -> None:
    challenger, champion = scores(15.0, 200.0, 0.9), scores(14.0, 300.0, 0.85)
    table = side_by_side(challenger, champion, gate(challenger, champion, SETTINGS))
    rmse_line = next(line for line in table.splitlines() if line.startswith("rmse"))
    assert "15.000" in rmse_line
    assert "14.000" in rmse_line
    assert "FAIL" in rmse_line
    assert "pass" in next(line for line in table.splitlines() if line.startswith("phm08_score"))


def test_versions_compare_only_when_they_read_the_same_inputs() -> None:
    from models.registry import same_inputs

    fleet = {"forewarn.input_columns": '["asset_id", "cycle", "load_frac"]', "forewarn.source": "fleet:x"}
    labels = {"forewarn.input_columns": '["asset_id", "cycle", "load_frac"]', "forewarn.source": "labels:y"}
    other = {"forewarn.input_columns": '["asset_id", "cycle", "setting_1"]', "forewarn.source": "fleet:z"}
    assert same_inputs(fleet, labels)  # same columns, different source: comparable
    assert not same_inputs(fleet, other)
    # versions from before the input columns were recorded: by source kind
    assert same_inputs({"forewarn.source": "cmapss:FD001"}, {"forewarn.source": "cmapss:FD003"})
    assert not same_inputs(fleet, {"forewarn.source": "cmapss:FD001"})
