"""The registered MLflow model: a pyfunc wrapping :class:`models.predictor.RulRiskModel`.

Input: readings, one row each, columns ``asset_id`` (str), ``cycle`` (int, rising per asset),
then the settings and sensor columns of the source the model was trained on (float): e.g.
``setting_1..3`` and ``sensor_1..21`` for C-MAPSS, the pump fleet's ``load_frac``... and
``vibration_mm_s``... for a fleet model (:func:`input_columns`; the signature says the same).
Output per row: ``asset_id``, ``cycle``, ``rul`` (cycles or steps), ``risk`` (P(failure within
the horizon)), ``failure_mode`` (most likely mode, ``unspecified`` for a model without modes),
``failure_mode_p`` (its probability given a failure; NaN without modes), ``top_features`` (JSON
list). The model metadata carries ``input_columns``, ``failure_modes``, ``required_history``,
``horizon_cycles`` and ``rul_cap_cycles``.
Params: ``top_k`` (int, default 3) and ``latest_only`` (bool: score each asset's last row only).

Scorers load it as ``mlflow.pyfunc.load_model("models:/<name>@champion")``; the fitted object,
the feature spec and the regime normaliser travel inside the model's artifacts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
from mlflow.pyfunc.model import PythonModel

from models.predictor import ASSET, RulRiskModel

ARTIFACT = "rul_risk_model"


class ForewarnPyfunc(PythonModel):
    """MLflow wrapper: loads the joblib-saved model from the artifacts and scores readings."""

    def __init__(self) -> None:
        self.model: RulRiskModel | None = None

    def load_context(self, context: Any) -> None:
        """Load the fitted model from the run's artifacts."""
        self.model = joblib.load(context.artifacts[ARTIFACT])

    def predict(
        self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
    ) -> pd.DataFrame:
        """Score readings (see module docstring for columns and params)."""
        if self.model is None:
            raise RuntimeError("model not loaded: load_context was not called")
        params = params or {}
        readings = pd.DataFrame(model_input).reset_index(drop=True)
        readings[ASSET] = readings[ASSET].astype(str)
        result = self.model.predict(
            readings, top_k=int(params.get("top_k", 3)), latest_only=bool(params.get("latest_only", False))
        )
        return result.reset_index(drop=True)


def input_columns(model: RulRiskModel) -> list[str]:
    """The pyfunc's input columns, in order: asset, cycle, then the model's own settings and sensors."""
    return [ASSET, "cycle", *model.normaliser.settings, *model.normaliser.sensors]


def signature_for(example: pd.DataFrame, output: pd.DataFrame) -> Any:
    """Signature with typed columns and the ``top_k`` / ``latest_only`` params."""
    from mlflow.models import infer_signature

    return infer_signature(example, output, params={"top_k": 3, "latest_only": False})


def save_model_file(model: RulRiskModel, folder: Path) -> Path:
    """Write the fitted model where ``log_model`` picks it up as an artifact."""
    path = folder / f"{ARTIFACT}.joblib"
    joblib.dump(model, path)
    return path


def example_input(readings: pd.DataFrame, model: RulRiskModel, rows: int = 5) -> pd.DataFrame:
    """A few consecutive readings of one asset, in ``model``'s input-column order (the input example)."""
    first = readings[readings[ASSET] == readings[ASSET].iloc[0]].head(rows)
    example = first.loc[:, input_columns(model)].reset_index(drop=True)
    # long in the signature: MLflow refuses int64 -> double, and cycles are whole numbers
    example["cycle"] = example["cycle"].astype(np.int64)
    return example
