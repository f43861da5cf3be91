"""Run the models CLI in-process against the real MLflow server of the local stack."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from click.testing import Result
from typer.testing import CliRunner

from chain.cli import app
from infra.stack.service import StackContext
from tests.conftest import CMAPSS_DIR

DATA = CMAPSS_DIR

Forewarn = Callable[..., Result]


@pytest.fixture
def forewarn(stack: StackContext) -> Forewarn:
    """``forewarn <args>`` in-process with the stack's MLflow; returns click's Result."""
    if not (DATA / "train_FD001.txt.gz").is_file():
        pytest.skip("C-MAPSS FD001 not on this machine")
    runner = CliRunner()

    def run(*args: str, env: dict[str, str] | None = None) -> Result:
        return runner.invoke(
            app, list(args), env={"FOREWARN_MLFLOW_TRACKING_URI": stack.mlflow.tracking_uri, **(env or {})}
        )

    return run


def train_version(forewarn: Forewarn, name: str, family: str, units: int = 10) -> dict[str, object]:
    """Train a small model on the first ``units`` FD001 engines; returns the JSON summary line."""
    result = forewarn(
        "train", "--data-dir", str(DATA), "--subset", "FD001", "--max-units", str(units),
        "--families", family, "--cv-folds", "2", "--name", name,
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    summary: dict[str, object] = json.loads(result.stdout.strip())
    return summary
