"""One MLflow run per training: parameters, metrics, spec, normaliser, data hash, plots, one model.

The model is registered as a new version of the configured registered model and given the
``challenger`` alias; only :mod:`models.registry` moves ``champion``.
"""

from __future__ import annotations

import json
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from forewarn.settings import MlflowSettings
from models.dataset import EvalSet
from models.features import feature_names, required_history
from models.metrics import EvalMetrics
from models.settings import ModelsSettings
from models.training import TrainResult
from models.units import unit_of_source

CHALLENGER = "challenger"
CHAMPION = "champion"


@dataclass(frozen=True)
class Registered:
    """Where a training run ended up."""

    run_id: str
    name: str
    version: str


def connect(mlflow_settings: MlflowSettings) -> None:
    """Point the MLflow client at the configured tracking server and registry, with its retry budget."""
    import mlflow

    os.environ.update(mlflow_settings.client_env())  # MLflow reads these at every request
    mlflow.set_tracking_uri(mlflow_settings.tracking_uri)
    mlflow.set_registry_uri(mlflow_settings.registry_uri or mlflow_settings.tracking_uri)


def client(mlflow_settings: MlflowSettings) -> Any:
    """An MLflow client of the configured server that authenticates (:func:`connect` first).

    A bare ``MlflowClient(tracking_uri=...)`` sends no credentials, and the stack's MLflow asks for
    them: each call fails with 401, which a caller reading "no champion" from an ``MlflowException``
    takes for an answer.
    """
    from mlflow import MlflowClient

    connect(mlflow_settings)
    return MlflowClient(
        tracking_uri=mlflow_settings.tracking_uri,
        registry_uri=mlflow_settings.registry_uri or mlflow_settings.tracking_uri,
    )


def log_training(
    result: TrainResult,
    settings: ModelsSettings,
    training: pd.DataFrame,
    data_hash: str,
    source: str,
    holdout: EvalSet | None,
    metrics: dict[str, EvalMetrics],
    extra_params: dict[str, Any] | None = None,
    extra_metrics: dict[str, float] | None = None,
) -> Registered:
    """Record one training as an MLflow run and register its pyfunc model as the challenger.

    Args:
        result: the fitted model and its cross-validation table.
        settings: the training settings (logged as parameters).
        training: the readings trained on (the input example comes from here).
        data_hash: hash of the training data.
        source: where the data came from, e.g. ``cmapss:FD001``.
        holdout: held-out assets, for the plots (out-of-fold predictions when None).
        metrics: held-out scores by prefix (``holdout``, ``test``).
        extra_params: source parameters (simulation size and seed, label file...).
        extra_metrics: further scores (failure-mode accuracy, warning lead times).
    """
    import mlflow
    from mlflow import MlflowClient

    from models import drift, pyfunc
    from models.drift_job import drift_bins
    from models.plots import save_plots

    model = result.model
    unit = unit_of_source(source, extra_params)
    mlflow.set_experiment(settings.experiment)
    with mlflow.start_run() as run, tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mlflow.log_params(
            {
                "family": model.family,
                "families_compared": ",".join(settings.families),
                "rul_cap_cycles": settings.rul_cap_cycles,
                "horizon_cycles": settings.horizon_cycles,
                "windows": ",".join(map(str, model.spec.windows)),
                "cv_folds": settings.cv_folds,
                "cv_cuts_per_asset": settings.cv_cuts_per_asset,
                "cv_min_history_cycles": settings.cv_min_history_cycles,
                "cv_max_rul_cycles": settings.cv_max_rul_cycles,
                "holdout_fraction": settings.holdout_fraction,
                "seed": settings.seed,
                "healthy_stride": settings.healthy_stride,
                "n_regimes": model.normaliser.n_regimes,
                "required_history": required_history(model.spec),
                "n_features": len(feature_names(model.spec)),
                "age_feature": model.spec.age,
                "failure_modes": ",".join(model.modes) or "-",
                "source": source,
                "data_rows": result.data_rows,
                "data_assets": int(training["asset_id"].nunique()),
                **(extra_params or {}),
            }
        )
        mlflow.set_tags({"forewarn.data_hash": data_hash, "forewarn.source": source, **unit.tags()})
        for family, cv_scores in result.cv.items():
            # cut_* are NaN when no asset had a truncation point: left out rather than logged as NaN
            mlflow.log_metrics({f"cv_{family}_{k}": v for k, v in cv_scores.items() if not np.isnan(v)})
        for prefix, scores in metrics.items():
            mlflow.log_metrics(scores.as_mlflow(prefix))
        report = getattr(model.calibrator, "report", None)  # models.calibration: how risk was calibrated
        if report is not None:
            calibration_params, calibration_metrics = report.as_mlflow()
            mlflow.log_params(calibration_params)
            mlflow.log_metrics(calibration_metrics)
        mlflow.log_metric("train_seconds", result.train_seconds)
        if extra_metrics:
            mlflow.log_metrics(extra_metrics)
        mlflow.log_dict(model.spec.model_dump(mode="json"), "feature_spec.json")
        mlflow.log_dict(model.normaliser.to_dict(), "regime_normaliser.json")
        # the live stream's drift is judged against this (models.drift_job); risk: the out-of-fold
        # risk, scored on assets the regressor had not seen, as live assets are
        mlflow.log_text(
            drift.reference_from(model, training, model.risk(result.oof_rul), drift_bins())
            .to_json()
            .decode(),
            drift.REFERENCE_ARTIFACT,
        )
        mlflow.log_dict(result.cv, "cv_by_family.json")
        if holdout is not None:
            features = model.features(holdout.readings)
            true_rul, predicted = holdout.true_rul, model.predict_rul(features)
        else:
            rul = training["rul_cycles"].to_numpy(dtype=np.float64)
            true_rul, predicted = rul[~np.isnan(rul)], result.oof_rul
        risk = model.risk(predicted)
        for path in save_plots(folder, true_rul, predicted, risk, model.horizon_cycles, unit):
            mlflow.log_artifact(str(path), "plots")
        example = pyfunc.example_input(training, model)
        output = model.predict(example.copy())
        with warnings.catch_warnings():
            # cycle is a required whole number: MLflow's hint about integers and missing values does not apply
            warnings.filterwarnings(
                "ignore", message="Hint: Inferred schema contains integer", category=UserWarning
            )
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=pyfunc.ForewarnPyfunc(),
                artifacts={pyfunc.ARTIFACT: str(pyfunc.save_model_file(model, folder))},
                signature=pyfunc.signature_for(example, output.reset_index(drop=True)),
                input_example=example,
                registered_model_name=settings.registered_model,
                # what a streaming scorer needs before it can call predict
                metadata={
                    "required_history": required_history(model.spec),
                    "horizon_cycles": model.horizon_cycles,
                    "rul_cap_cycles": model.rul_cap_cycles,
                    "input_columns": pyfunc.input_columns(model),
                    "failure_modes": list(model.modes),
                },
            )
    version = str(info.registered_model_version)
    client = MlflowClient()
    client.set_registered_model_alias(settings.registered_model, CHALLENGER, version)
    for key, value in {
        "forewarn.family": model.family,
        "forewarn.required_history": str(required_history(model.spec)),
        "forewarn.data_hash": data_hash,
        "forewarn.source": source,
        "forewarn.input_columns": json.dumps(pyfunc.input_columns(model)),
        "forewarn.metrics": json.dumps({p: m.model_dump() for p, m in metrics.items()}),
        drift.REFERENCE_TAG: drift.REFERENCE_ARTIFACT,
        **unit.tags(),
    }.items():
        client.set_model_version_tag(settings.registered_model, version, key, value)
    return Registered(run.info.run_id, settings.registered_model, version)


def load_fitted(name: str, version: str) -> Any:
    """The :class:`models.predictor.RulRiskModel` inside a registered version (for evaluation)."""
    import mlflow

    loaded = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
    return loaded.unwrap_python_model().model
