"""The benchmark and train commands on files written here: a six-regime subset, and bad input."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from chain.cli import app
from tests.unit.models.conftest import synthetic_fleet


def write_cmapss(frame: pd.DataFrame, path: Path) -> None:
    lines = [
        " ".join(f"{v:.4f}" if i > 1 else str(int(v)) for i, v in enumerate(row)) + " "
        for row in frame.to_numpy()
    ]
    text = "\n".join(lines) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)


@pytest.fixture
def six_regime_subset(tmp_path: Path) -> Path:
    """train/test/RUL files of a synthetic FD002-like subset (six operating conditions)."""
    train = synthetic_fleet(10, seed=21, min_life=90, max_life=150)
    full = synthetic_fleet(6, seed=22, min_life=90, max_life=150)
    rng = np.random.default_rng(5)
    kept, rul = [], []
    for _, engine in full.groupby("unit"):
        cut = int(rng.integers(20, len(engine) - 5))
        kept.append(engine.iloc[:cut])
        rul.append(len(engine) - cut)
    write_cmapss(train, tmp_path / "train_FD002.txt.gz")
    write_cmapss(pd.concat(kept), tmp_path / "test_FD002.txt")
    (tmp_path / "RUL_FD002.txt").write_text("\n".join(map(str, rul)) + "\n")
    return tmp_path


def test_benchmark_prints_exactly_one_json_line(six_regime_subset: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["benchmark", "cmapss", "--data-dir", str(six_regime_subset), "--subset", "FD002",
         "--families", "dummy,ridge", "--cv-folds", "2"],
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["subset"] == "FD002"
    assert line["n_test_units"] == 6
    assert line["family"] == "ridge"
    assert line["rmse"] > 0
    assert line["phm08_score"] > 0
    assert line["train_seconds"] > 0
    # both conventions: the truth capped at the training cap can only bring the predictions closer
    assert line["rul_cap_cycles"] == 125
    assert 0 < line["rmse_capped"] <= line["rmse"]
    assert 0 < line["phm08_capped"] <= line["phm08_score"] + 0.1  # both rounded to 0.1
    assert 0 <= line["brier"] <= 1
    assert line["calibration_method"] in {"logistic", "isotonic"}
    kept = line[f"cv_brier_{line['calibration_method']}"]
    assert kept == min(line["cv_brier_logistic"], line["cv_brier_isotonic"])


def test_benchmark_on_a_malformed_file_fails_with_the_line(tmp_path: Path) -> None:
    (tmp_path / "train_FD001.txt").write_text("1 1 0.0 0.0 100.0 1 2 3\n")
    (tmp_path / "test_FD001.txt").write_text("")
    (tmp_path / "RUL_FD001.txt").write_text("5\n")
    result = CliRunner().invoke(
        app, ["benchmark", "cmapss", "--data-dir", str(tmp_path), "--subset", "FD001"]
    )
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "train_FD001.txt:1: expected 26 columns, got 8" in result.stderr


def test_train_without_data_fails_before_touching_mlflow(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["train", "--data-dir", str(tmp_path), "--subset", "FD004"])
    assert result.exit_code == 1
    assert "no train_FD004.txt or train_FD004.txt.gz" in result.stderr
