"""Model quality floor on FD001: catches regressions in features, labels or training.

Trains one family (extra trees: the fastest tree family here, 2 grouped folds) on all 100 training
engines and scores each test engine's last cycle against RUL_FD001 (measured: RMSE 13.5, PHM08 281;
14.1 before the fits skipped each engine's first 30 cycles). The full comparison, where gradient
boosting wins, is ``forewarn benchmark cmapss`` (RMSE 12.9).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from models import dataset
from models.settings import ModelsSettings
from models.training import evaluate, train

pytestmark = [pytest.mark.model, pytest.mark.slow]

RMSE_FLOOR = 14.5
PHM08_FLOOR = 450.0
PR_AUC_FLOOR = 0.85


def test_fd001_test_engines_meet_the_quality_floor(cmapss_dir: Path) -> None:
    settings = ModelsSettings(families=("extra_trees",), cv_folds=2)
    result = train(dataset.training_frame(cmapss_dir, "FD001"), settings, dataset.cmapss_columns())
    test = dataset.evaluation_engines(cmapss_dir, "FD001")
    scores = evaluate(result.model, test.readings, test.true_rul, test.points)
    assert scores.n_points == 100
    assert scores.rmse <= RMSE_FLOOR, scores
    assert scores.phm08_score <= PHM08_FLOOR, scores
    assert scores.pr_auc >= PR_AUC_FLOOR, scores
