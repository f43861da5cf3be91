"""Training, the promotion gate, rollback and loading by alias, against the real MLflow server."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pytest
from mlflow import MlflowClient

from models import dataset
from models.features import required_history
from models.metrics import rmse
from tests.conftest import unique
from tests.integration.models.conftest import DATA, Forewarn, train_version

pytestmark = [pytest.mark.integration, pytest.mark.slow]

EVAL = ("--data-dir", str(DATA), "--subset", "FD001", "--max-units", "20")


def champion_version(name: str) -> str:
    return str(MlflowClient().get_model_version_by_alias(name, "champion").version)


def test_training_registers_a_challenger_with_run_records(forewarn: Forewarn) -> None:
    name = unique("test-train")
    summary = train_version(forewarn, name, "ridge")
    client = MlflowClient()
    version = client.get_model_version_by_alias(name, "challenger")
    assert str(version.version) == summary["version"] == "1"
    run = client.get_run(version.run_id)
    assert run.data.params["family"] == "ridge"
    assert run.data.tags["forewarn.data_hash"] == version.tags["forewarn.data_hash"]
    assert len(run.data.tags["forewarn.data_hash"]) == 64
    assert run.data.metrics["holdout_rmse"] == pytest.approx(summary["holdout_rmse"], abs=1e-3)
    # the benchmark-like CV (truncation points, true RUL) beside the all-rows CV
    assert run.data.metrics["cv_ridge_cut_points"] > 0
    assert run.data.metrics["cv_ridge_cut_rmse"] > 0
    assert {"cv_ridge_rmse", "cv_ridge_cut_phm08_score"} <= set(run.data.metrics)
    assert run.data.params["cv_cuts_per_asset"] == "10"
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"feature_spec.json", "regime_normaliser.json", "plots"} <= artifacts
    plots = {a.path for a in client.list_artifacts(run.info.run_id, "plots")}
    assert plots == {
        "plots/predicted_vs_true_rul.png",
        "plots/error_by_rul_band.png",
        "plots/risk_calibration.png",
    }
    client.delete_registered_model(name)


def test_gate_refuses_a_worse_model_and_keeps_the_champion(forewarn: Forewarn) -> None:
    name = unique("test-gate")
    train_version(forewarn, name, "ridge")
    first = forewarn("models", "promote", "--name", name, "--reason", "first model", *EVAL)
    assert first.exit_code == 0, first.stderr
    assert champion_version(name) == "1"

    train_version(forewarn, name, "dummy")  # predicts the mean RUL: worse by construction
    refused = forewarn("models", "promote", "--name", name, "--by", "tester", *EVAL)
    assert refused.exit_code == 1
    assert "gate refused version 2; champion stays 1" in refused.stderr
    rmse_line = next(line for line in refused.stdout.splitlines() if line.startswith("rmse"))
    challenger_rmse, champion_rmse = (float(v) for v in rmse_line.split()[1:3])
    assert challenger_rmse > champion_rmse
    assert "FAIL" in rmse_line
    assert champion_version(name) == "1"
    tags = MlflowClient().get_model_version(name, "2").tags
    assert tags["forewarn.gate_refused_by"] == "tester"
    assert json.loads(tags["forewarn.gate_refused_metrics"])["champion"]["version"] == "1"
    MlflowClient().delete_registered_model(name)


def test_promotion_then_rollback_are_recorded(forewarn: Forewarn) -> None:
    name = unique("test-rollback")
    train_version(forewarn, name, "ridge")
    assert forewarn("models", "promote", "--name", name, *EVAL).exit_code == 0
    train_version(forewarn, name, "dummy")
    lenient = {"FOREWARN_MODELS_GATE_MAX_RMSE_RATIO": "100", "FOREWARN_MODELS_GATE_MAX_PHM08_RATIO": "1e9",
               "FOREWARN_MODELS_GATE_MAX_PR_AUC_DROP": "1"}  # fmt: skip
    promoted = forewarn("models", "promote", "--name", name, "--reason", "try it", *EVAL, env=lenient)
    assert promoted.exit_code == 0, promoted.stderr
    assert champion_version(name) == "2"

    back = forewarn("models", "rollback", "--name", name, "--by", "oncall", "--reason", "alerts too late")
    assert back.exit_code == 0, back.stderr
    assert "champion 2 -> 1" in back.stdout
    assert champion_version(name) == "1"
    client = MlflowClient()
    assert client.get_model_version(name, "2").tags["forewarn.rolled_back_why"] == "alerts too late"
    assert client.get_model_version(name, "1").tags["forewarn.restored_by"] == "oncall"
    assert client.get_model_version(name, "2").tags["forewarn.promoted_why"] == "try it"

    again = forewarn("models", "rollback", "--name", name)
    assert again.exit_code == 1
    assert "no previous champion" in again.stderr
    listed = json.loads(forewarn("models", "list", "--name", name, "--json").stdout)
    assert [(row["version"], row["aliases"]) for row in listed] == [
        ("2", ["challenger"]),
        ("1", ["champion"]),
    ]
    table = forewarn("models", "list", "--name", name).stdout.splitlines()
    assert table[1].split()[:3] == ["version", "aliases", "family"]
    assert [row.split()[:2] for row in table[2:]] == [["2", "challenger"], ["1", "champion"]]
    client.delete_registered_model(name)


def test_champion_loads_by_alias_from_the_server_and_predicts(forewarn: Forewarn) -> None:
    name = unique("test-load")
    summary = train_version(forewarn, name, "ridge")
    assert forewarn("models", "promote", "--name", name, *EVAL).exit_code == 0

    champion = mlflow.pyfunc.load_model(f"models:/{name}@champion")
    spec = champion.unwrap_python_model().model.spec
    assert champion.metadata.metadata["required_history"] == required_history(spec) == max(spec.windows)
    test = dataset.evaluation_engines(DATA, "FD001", max_units=10)
    inputs = test.readings.drop(columns=["unit", "rul_cycles"])
    scored = champion.predict(inputs, params={"latest_only": True, "top_k": 2})
    assert len(scored) == 10
    assert set(scored.columns) == {
        "asset_id", "cycle", "rul", "risk", "failure_mode", "failure_mode_p", "top_features"
    }  # fmt: skip
    assert (scored["failure_mode"] == "unspecified").all()  # C-MAPSS names no failure modes
    last = test.readings[test.points].set_index("asset_id")
    got = scored.set_index("asset_id").loc[last.index]
    # the model scores the test engines exactly as the training run reported
    assert rmse(got["rul"].to_numpy(), last["rul_cycles"].to_numpy()) == pytest.approx(
        summary["test_rmse"], abs=1e-3
    )
    assert ((got["risk"] >= 0) & (got["risk"] <= 1)).all()
    assert all(len(json.loads(t)) == 2 for t in got["top_features"])
    # without params every row is scored from the readings before it in the input
    few = inputs.groupby("asset_id").tail(3)
    every_row = champion.predict(few)
    assert len(every_row) == len(few)
    assert every_row["cycle"].tolist() == few["cycle"].astype(np.int64).tolist()
    MlflowClient().delete_registered_model(name)
