"""A fleet model end to end on the real MLflow server: train from the simulator, promote over a
C-MAPSS champion (other inputs), load by alias and score simulated pumps with risk, RUL and mode."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from ingest.fleet import FailureMode
from models.fleet_source import fleet_history
from tests.conftest import unique
from tests.integration.models.conftest import Forewarn, train_version

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FLEET = ("--source", "fleet", "--assets", "24", "--steps", "300", "--interval-s", "1", "--seed", "11",
         "--cv-folds", "2")  # fmt: skip


def test_a_fleet_model_replaces_a_cmapss_champion_and_names_failure_modes(forewarn: Forewarn) -> None:
    name = unique("test-fleet")
    train_version(forewarn, name, "ridge")  # a C-MAPSS model, version 1
    assert forewarn("models", "promote", "--name", name).exit_code == 0

    trained = forewarn("train", *FLEET, "--name", name)
    assert trained.exit_code == 0, trained.stderr
    summary = json.loads(trained.stdout.strip())
    assert summary["version"] == "2"
    assert summary["source"] == "fleet:assets=24,steps=300,interval_s=1,seed=11"
    assert set(summary["failure_modes"]) <= {m.value for m in FailureMode}
    assert len(summary["failure_modes"]) >= 2
    assert summary["holdout_failures"] >= 1

    client = MlflowClient()
    run = client.get_run(client.get_model_version(name, "2").run_id)
    assert run.data.params["sim_seed"] == "11"
    assert run.data.params["age_feature"] == "False"
    assert run.data.params["horizon_cycles"] == "50"  # the fleet's default, in steps
    assert "holdout_lead_steps_median" in run.data.metrics
    # the RUL unit is recorded for whatever draws the scores later (forewarn report asset)
    fleet_tags = client.get_model_version(name, "2").tags
    assert (fleet_tags["forewarn.rul_unit"], fleet_tags["forewarn.step_s"]) == ("reading steps", "1")
    assert run.data.tags["forewarn.rul_unit"] == "reading steps"
    assert client.get_model_version(name, "1").tags["forewarn.rul_unit"] == "cycles"

    # the C-MAPSS champion reads other columns: not comparable, so the absolute ceilings decide
    # 24 small pumps hold out 5: a loose ceiling, this test is about comparability, not quality
    promoted = forewarn(
        "models",
        "promote",
        "--name",
        name,
        "--reason",
        "fleet demo",
        env={"FOREWARN_MODELS_GATE_MAX_RMSE": "80"},
    )
    assert promoted.exit_code == 0, promoted.output
    assert "takes other inputs" in promoted.stdout
    assert str(client.get_model_version_by_alias(name, "champion").version) == "2"

    model = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    columns = model.metadata.metadata["input_columns"]
    assert model.metadata.get_input_schema().input_names() == columns
    pumps = fleet_history(assets=4, steps=120, interval_s=1.0, seed=12, failing_share=1.0, rul_cap_steps=125)
    out = model.predict(pumps.readings[columns], params={"latest_only": True})
    assert sorted(out["asset_id"]) == sorted(pumps.readings["asset_id"].unique())
    assert ((out["risk"] >= 0) & (out["risk"] <= 1)).all()
    assert ((out["rul"] >= 0) & (out["rul"] <= 125)).all()
    assert set(out["failure_mode"]) <= set(summary["failure_modes"])
    every = model.predict(pumps.readings[columns], params={"top_k": 0})
    # risk tracks the truth: higher in the last 10 steps before a failure than 100+ steps from one
    truth = pumps.readings["rul_cycles"].to_numpy()
    risk = every["risk"].to_numpy()
    assert np.nanmean(risk[truth <= 10]) > np.nanmean(risk[truth >= 100]) + 0.3
    client.delete_registered_model(name)
