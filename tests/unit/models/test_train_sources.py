"""`forewarn train` source selection: defaults per source, and clear errors before any work."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from chain.cli import app
from models.cli import _settings
from models.sources import SOURCE_DEFAULTS, Source


def test_fleet_defaults_apply_unless_an_option_or_the_environment_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    defaults = SOURCE_DEFAULTS[Source.FLEET]
    plain = _settings(source=Source.FLEET)
    assert plain.horizon_cycles == defaults["horizon_cycles"]
    assert plain.families == defaults["families"]
    assert _settings(source=Source.CMAPSS).horizon_cycles == 30  # C-MAPSS keeps its own
    # cycle is engine age in C-MAPSS only: the fleet fits on every reading
    assert _settings(source=Source.CMAPSS).fit_min_history_cycles == 30
    assert plain.fit_min_history_cycles == 1
    assert _settings(source=Source.FLEET, horizon_cycles=12).horizon_cycles == 12
    monkeypatch.setenv("FOREWARN_MODELS_HORIZON_CYCLES", "17")
    monkeypatch.setenv("FOREWARN_MODELS_FAMILIES", '["hgb"]')
    from_env = _settings(source=Source.FLEET)
    assert from_env.horizon_cycles == 17
    assert from_env.families == ("hgb",)
    assert from_env.rul_cap_cycles == defaults["rul_cap_cycles"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "weather"], "unknown --source 'weather'"),
        (["--source", "cmapss"], "needs --data-dir and --subset"),
        (["--source", "labels"], "needs --labels FILE"),
        (["--source", "fleet", "--assets", "2"], "--assets"),
    ],
)
def test_bad_train_options_fail_with_a_message(args: list[str], message: str) -> None:
    result = CliRunner().invoke(app, ["train", *args])
    assert result.exit_code != 0
    assert message in result.output
