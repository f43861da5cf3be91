"""MLflow: log a run, register a model, alias it `champion`, load it by alias and predict."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytestmark = pytest.mark.integration


def test_register_alias_and_load_by_champion(mlflow_tracking: str) -> None:
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature
    from sklearn.linear_model import LinearRegression

    name = mlflow_tracking
    rng = np.random.default_rng(7)
    x = pd.DataFrame({"age_cycles": np.arange(20, dtype=float), "vibration_mm_s": rng.uniform(1, 3, 20)})
    y = 200.0 - 2.0 * x["age_cycles"] + 5.0 * x["vibration_mm_s"]
    model = LinearRegression().fit(x, y)
    mlflow.set_experiment("forewarn-tests")
    with mlflow.start_run() as run:
        mlflow.log_param("family", "linear")
        mlflow.log_metric("rmse", 0.0)
        info = mlflow.sklearn.log_model(
            model, name="model", signature=infer_signature(x, model.predict(x)), registered_model_name=name
        )
    client = MlflowClient()
    version = client.get_model_version(name, info.registered_model_version)
    assert version.run_id == run.info.run_id
    client.set_registered_model_alias(name, "champion", version.version)

    champion = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    predicted = champion.predict(pd.DataFrame({"age_cycles": [10.0, 50.0], "vibration_mm_s": [2.0, 2.0]}))
    assert np.allclose(predicted, [190.0, 110.0], atol=1e-6)
    assert client.get_model_version_by_alias(name, "champion").version == version.version
    client.delete_registered_model(name)
