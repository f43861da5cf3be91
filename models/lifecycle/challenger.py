"""Train a challenger on any training source and register it: what ``forewarn train`` and
``forewarn models retrain`` share.

Holds out ``holdout_fraction`` of the assets (seeded), trains on the rest, scores the held-out
assets (and a source's own test set), logs one MLflow run and registers the version as
``challenger``. No terminal here: progress goes through the ``step`` callback.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from forewarn.settings import MlflowSettings
from models.metrics import EvalMetrics
from models.settings import ModelsSettings
from models.sources import TrainingData
from models.tracking import Registered
from models.training import TrainResult

log = logging.getLogger(__name__)

LABELLED_ASSETS_ARTIFACT = "labelled_assets.json"
"""The run artifact naming the labelled (live fleet) assets a version was fitted on: a later retrain
judges that version only on the others (:func:`models.lifecycle.retrain.retrain`)."""


@dataclass(frozen=True)
class Trained:
    """A registered challenger with its training result and recorded scores."""

    registered: Registered
    result: TrainResult
    metrics: dict[str, EvalMetrics]
    extra: dict[str, float]


def step_count(data: TrainingData, settings: ModelsSettings) -> int:
    """Progress steps :func:`train_and_register` reports (for a progress bar's total)."""
    from models import training

    held = settings.holdout_fraction > 0 and data.frame["asset_id"].nunique() > 1
    return training.steps(settings) + 1 + (1 if held else 0)


def train_and_register(
    data: TrainingData,
    settings: ModelsSettings,
    mlflow_settings: MlflowSettings,
    step: Callable[[str], None] = lambda _: None,
) -> Trained:
    """Hold out assets, train, score, log the run and register the challenger (any source).

    Raises:
        ValueError: training failed (e.g. no reading within the horizon to calibrate the risk on).
    """
    from models import dataset, tracking, training

    frame = data.frame
    fit_assets, held_assets = training.split_assets(
        frame["asset_id"].to_numpy(), settings.holdout_fraction, settings.seed
    )
    fit_frame = frame[frame["asset_id"].isin(fit_assets)].reset_index(drop=True)
    log.info(
        "training on %d assets (%d readings, %d with known RUL), holding out %d",
        len(fit_assets),
        len(fit_frame),
        int(fit_frame["rul_cycles"].notna().sum()),
        len(held_assets),
    )
    result = training.train(fit_frame, settings, data.columns, step)
    metrics = {}
    extra: dict[str, float] = {}
    holdout = None
    if len(held_assets):
        step("evaluate held-out assets")
        held = frame[frame["asset_id"].isin(held_assets)]
        # censored readings only ever trail an asset's history: dropping them keeps every window whole
        holdout = dataset.holdout_set(
            held[held["rul_cycles"].notna()].reset_index(drop=True), settings.rul_cap_cycles
        )
        metrics["holdout"] = training.evaluate(
            result.model, holdout.readings, holdout.true_rul, holdout.points
        )
        extra = training.extra_scores(result.model, held.reset_index(drop=True), data.labels, data.step_s)
    if data.test is not None:
        test = data.test
        metrics["test"] = training.evaluate(result.model, test.readings, test.true_rul, test.points)
    step("log run and register model")
    tracking.connect(mlflow_settings)
    with contextlib.redirect_stdout(sys.stderr):  # MLflow prints run links on stdout; ours is the JSON line
        registered = tracking.log_training(
            result, settings, fit_frame, dataset.data_hash(fit_frame), data.source, holdout, metrics,
            data.params, extra,
        )  # fmt: skip
    from mlflow import MlflowClient

    seen = labelled_assets(fit_frame["asset_id"].to_numpy(), data.source)
    MlflowClient().log_dict(registered.run_id, {"assets": seen}, LABELLED_ASSETS_ARTIFACT)
    return Trained(registered, result, metrics, extra)


def labelled_assets(assets: Any, source: str) -> list[str]:
    """The labelled assets among a training frame's ``assets``, by their fleet id.

    A labels source (``labels:...``) holds live assets named as the fleet names them; combined with
    the original source (:func:`models.lifecycle.base.combine`) they are the ``labels:``-prefixed ones
    (the base's assets, ``base:``-prefixed, may share names with live ones but are other assets).
    Any other source holds none.
    """
    from models.feedback import LABELS_SOURCE
    from models.lifecycle.base import LABELS_ASSET_PREFIX

    if not source.startswith(LABELS_SOURCE):
        return []
    ids = sorted({str(a) for a in assets})
    prefixed = [a[len(LABELS_ASSET_PREFIX) :] for a in ids if a.startswith(LABELS_ASSET_PREFIX)]
    return prefixed or ids
