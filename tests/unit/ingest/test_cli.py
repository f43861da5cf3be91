"""The ingest CLI's edges that need no service: clear errors, dry runs."""

from __future__ import annotations

from pathlib import Path

import orjson
from typer.testing import CliRunner

from chain.cli import app

runner = CliRunner()


def test_simulate_dry_run_writes_the_truth_and_is_deterministic(tmp_path: Path) -> None:
    args = ["simulate", "--assets", "3", "--steps", "20", "--batch", "4", "--seed", "5", "--dry-run",
            "--start", "2026-01-01T00:00:00Z", "--malformed", "0.2"]  # fmt: skip
    first = runner.invoke(app, [*args, "--truth", str(tmp_path / "a.jsonl")])
    second = runner.invoke(app, [*args, "--truth", str(tmp_path / "b.jsonl")])
    assert first.exit_code == 0, first.output
    report = orjson.loads(first.stdout)
    assert report["readings"] == 60
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert orjson.loads(second.stdout)["injected"] == report["injected"]


def test_bad_speed_and_start_are_refused_with_a_message() -> None:
    result = runner.invoke(app, ["simulate", "--dry-run", "--speed", "fast"])
    assert result.exit_code == 2  # a usage error
    assert "--speed must be a positive number or 'max'" in result.stderr
    result = runner.invoke(app, ["simulate", "--dry-run", "--start", "2026-01-01T00:00:00"])
    assert result.exit_code == 2
    assert "UTC offset" in result.stderr


def test_replay_names_the_missing_file_and_the_bad_split(tmp_path: Path) -> None:
    result = runner.invoke(app, ["replay", "cmapss", "--data-dir", str(tmp_path), "--subset", "FD001"])
    assert result.exit_code == 1
    assert "train_FD001" in result.stderr
    result = runner.invoke(
        app, ["replay", "cmapss", "--data-dir", str(tmp_path), "--subset", "FD001", "--split", "dev"]
    )
    assert result.exit_code == 2
    assert "--split must be train or test" in result.stderr
