"""A worker's champion from the real MLflow registry without MLflow's client (streaming.model_cache):
the alias over REST as the client resolves it, refusals at once, and a version loaded once per machine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from infra.stack.service import StackContext
from streaming import scoring
from streaming.model_cache import RegistryError, alias_version, version_key
from streaming.scoring import ModelRef
from tests.integration.streaming.conftest import TrainedModel

pytestmark = pytest.mark.integration


def test_the_alias_over_rest_is_the_version_mlflows_client_resolves(
    stack: StackContext, champion_model: TrainedModel
) -> None:
    from mlflow import MlflowClient

    uri, env = stack.mlflow.tracking_uri, stack.mlflow.client_env()
    client = MlflowClient(tracking_uri=uri)
    assert alias_version(uri, champion_model.name, "champion", env) == str(
        client.get_model_version_by_alias(champion_model.name, "champion").version
    )
    with pytest.raises(RegistryError, match=r"HTTP 400: .*no-such-alias not found"):
        alias_version(uri, champion_model.name, "no-such-alias", env)
    with pytest.raises(RegistryError, match="HTTP 401"):
        alias_version(uri, champion_model.name, "champion", {**env, "MLFLOW_TRACKING_PASSWORD": "wrong"})
    assert version_key(uri, champion_model.name, champion_model.version, env) == version_key(
        uri, champion_model.name, champion_model.version, env
    )


def test_a_version_is_loaded_from_mlflow_once_then_from_the_machines_cache(
    stack: StackContext, champion_model: TrainedModel, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    uri, env = stack.mlflow.tracking_uri, tuple(sorted(stack.mlflow.client_env().items()))
    ref = ModelRef(uri, uri, champion_model.name, "champion", 30.0, env,
                   compiled_dir=None, model_cache_dir=tmp_path / "models")  # fmt: skip
    first = scoring._load(ref, champion_model.version)
    assert len(list((tmp_path / "models").glob("*.pkl"))) == 1

    def no_mlflow(ref: ModelRef, version: str) -> None:
        raise AssertionError("loaded from MLflow although the machine's cache holds the version")

    monkeypatch.setattr(scoring, "_from_mlflow", no_mlflow)
    again = scoring._load(ref, champion_model.version)
    rows = np.random.default_rng(0).normal(size=(50, first.regressor.n_features_in_))
    assert np.array_equal(again.regressor.predict(rows), first.regressor.predict(rows))
    assert again.spec == first.spec
