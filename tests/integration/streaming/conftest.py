"""A small champion trained on C-MAPSS FD001 in the real MLflow registry, for the scoring job's tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.cli import app
from infra.stack.service import StackContext
from tests.conftest import CMAPSS_DIR, unique

CMAPSS = CMAPSS_DIR


@dataclass(frozen=True)
class TrainedModel:
    name: str
    version: str


def train(stack: StackContext, name: str, units: int, family: str = "ridge") -> TrainedModel:
    """`forewarn train` on the first ``units`` FD001 engines, in-process, against the stack's MLflow."""
    result = CliRunner().invoke(
        app,
        ["train", "--data-dir", str(CMAPSS), "--subset", "FD001", "--max-units", str(units),
         "--families", family, "--cv-folds", "2", "--name", name],
        env={"FOREWARN_MLFLOW_TRACKING_URI": stack.mlflow.tracking_uri},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    return TrainedModel(name, str(summary["version"]))


def make_champion(stack: StackContext, model: TrainedModel) -> None:
    from mlflow import MlflowClient

    MlflowClient(tracking_uri=stack.mlflow.tracking_uri).set_registered_model_alias(
        model.name, "champion", model.version
    )


@pytest.fixture(scope="module")
def champion_model(stack: StackContext) -> Iterator[TrainedModel]:
    """A ridge model on 20 FD001 engines, registered and aliased ``champion``; deleted afterwards."""
    assert (CMAPSS / "train_FD001.txt.gz").is_file(), f"C-MAPSS data missing in {CMAPSS}"
    model = train(stack, unique("stream-model"), units=20)
    make_champion(stack, model)
    yield model
    from mlflow import MlflowClient

    MlflowClient(tracking_uri=stack.mlflow.tracking_uri).delete_registered_model(model.name)


def cmapss_dir() -> Path:
    return CMAPSS
