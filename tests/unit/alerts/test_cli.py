"""The alert CLIs fail early with actionable messages and print KPIs as JSON."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from alerts.cli import alerts_app


def test_bad_rules_file_exits_2_naming_the_problem(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rules = tmp_path / "rules.toml"
    rules.write_text("open_threshold = 0.4\nclear_threshold = 0.6\n")
    monkeypatch.setenv("FOREWARN_ALERTS_DATABASE_URL", f"sqlite:///{tmp_path / 'wo.db'}")
    nice = os.getpriority(os.PRIO_PROCESS, 0)
    result = CliRunner().invoke(alerts_app, ["run", "--rules-file", str(rules)])
    assert result.exit_code == 2
    assert "hysteresis" in result.output
    assert "FOREWARN_ALERTS_RULES_FILE=" in result.output  # settings printed at start
    # it yields the cores (FOREWARN_ALERTS_NICE) only once its configuration holds
    assert os.getpriority(os.PRIO_PROCESS, 0) == nice


def test_kpis_command_prints_json(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOREWARN_ALERTS_DATABASE_URL", f"sqlite:///{tmp_path / 'new' / 'wo.db'}")
    result = CliRunner().invoke(alerts_app, ["kpis"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["work_orders_total"] == 0
    assert data["mtbf_h"] is None
