"""MLflow's doors: the basic-auth app refuses strangers; the scoring job's reader reads, never moves.

Against the stack's tracking server. The admin registers a model; the reader (what ``forewarn stream
run`` authenticates as) may read it and download its artifacts but not set ``@champion`` or add a
version: a model is a pickle, so whoever moves the alias runs code in the scoring job.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import numpy as np
import pandas as pd
import pytest
from pydantic import SecretStr

from forewarn.settings import MlflowRole, MlflowSettings
from infra.stack.service import StackContext

pytestmark = pytest.mark.integration


@pytest.fixture
def registered(stack: StackContext, mlflow_tracking: str) -> Iterator[tuple[str, str]]:
    """A model with one version, registered by the admin: (name, version)."""
    import mlflow
    from mlflow import MlflowClient
    from sklearn.linear_model import LinearRegression

    if not stack.mlflow.users:
        pytest.fail("the stack has no generated MLflow users: auth is off")
    x = pd.DataFrame({"a": np.arange(8, dtype=float)})
    mlflow.set_experiment("forewarn-tests")
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(
            LinearRegression().fit(x, 2 * x["a"]), name="model", registered_model_name=mlflow_tracking
        )
    yield mlflow_tracking, str(info.registered_model_version)
    MlflowClient().delete_registered_model(mlflow_tracking)


def _as(settings: MlflowSettings) -> None:
    """MLflow's client authenticates from the environment: become ``settings``' user."""
    for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
        os.environ.pop(key, None)
    os.environ.update(settings.client_env())


@pytest.fixture
def as_reader(stack: StackContext) -> Iterator[MlflowSettings]:
    """The rest of the test talks to MLflow as the reader; the admin again afterwards."""
    reader = stack.mlflow.for_role(MlflowRole.READER)
    _as(reader)
    yield reader
    _as(stack.mlflow)


def test_no_credentials_and_a_wrong_password_are_refused(stack: StackContext) -> None:
    url = f"{stack.mlflow.tracking_uri}/api/2.0/mlflow/registered-models/search"
    assert httpx.get(url, timeout=10).status_code == 401
    for role in MlflowRole:
        assert httpx.get(url, auth=(f"forewarn-{role}", "not-the-password"), timeout=10).status_code == 401
    admin = stack.mlflow
    password = admin.password.get_secret_value() if admin.password else ""
    assert httpx.get(url, auth=(admin.username or "", password), timeout=10).status_code == 200


def test_health_stays_open_for_probes(stack: StackContext) -> None:
    assert httpx.get(f"{stack.mlflow.tracking_uri}/health", timeout=10).status_code == 200


def test_the_reader_reads_and_loads_the_model(registered: tuple[str, str], as_reader: MlflowSettings) -> None:
    import mlflow
    from mlflow import MlflowClient

    name, version = registered
    assert MlflowClient().get_model_version(name, version).version == version
    model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")  # artifacts download too
    assert np.allclose(model.predict(pd.DataFrame({"a": [3.0]})), [6.0])


def test_the_reader_cannot_move_the_champion_nor_add_a_version(
    registered: tuple[str, str], as_reader: MlflowSettings
) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    name, version = registered
    client = MlflowClient()
    with pytest.raises(MlflowException, match=r"error code 403"):
        client.set_registered_model_alias(name, "champion", version)
    source = client.get_model_version(name, version).source
    with pytest.raises(MlflowException, match=r"error code 403"):
        client.create_model_version(name, source)
    assert len(client.search_model_versions(f"name = '{name}'")) == 1
    with pytest.raises(MlflowException):
        client.get_model_version_by_alias(name, "champion")  # never set


def test_the_admin_moves_the_champion(registered: tuple[str, str]) -> None:
    from mlflow import MlflowClient

    name, version = registered
    client = MlflowClient()
    client.set_registered_model_alias(name, "champion", version)
    assert client.get_model_version_by_alias(name, "champion").version == version


def test_a_wrong_reader_password_cannot_read(registered: tuple[str, str], stack: StackContext) -> None:
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    name, version = registered
    wrong = stack.mlflow.for_role(MlflowRole.READER).model_copy(
        update={"password": SecretStr("nope-nope-nope")}
    )
    _as(wrong)
    try:
        with pytest.raises(MlflowException, match=r"401|Unauthorized|credentials"):
            MlflowClient().get_model_version(name, version)
    finally:
        _as(stack.mlflow)
