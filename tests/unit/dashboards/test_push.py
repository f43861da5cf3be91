"""push provisions folder, datasource and boards once, and a second push changes nothing."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.cli import app
from dashboards.grafana_http import GrafanaHttp
from dashboards.provisioning_files import datasource
from dashboards.push import Outcome, PushError, push
from dashboards.render import build_all
from forewarn.settings import InfluxSettings
from tests.unit.dashboards.fake_grafana import GrafanaState, fake_grafana

TOKEN = "glsa_test_token"


@pytest.fixture
def grafana() -> Iterator[tuple[str, GrafanaState]]:
    with fake_grafana(TOKEN) as served:
        yield served


def _push(url: str, boards: dict[str, dict[str, object]], token: str = TOKEN) -> dict[str, Outcome]:
    api = GrafanaHttp.connect(url, token, 5.0)
    ds = datasource(InfluxSettings(url="http://127.0.0.1:8086", database="forewarn"))
    return push(api, boards, folder_uid="forewarn", folder_title="forewarn", datasource=ds).outcomes


def test_first_push_creates_everything_in_the_folder(grafana: tuple[str, GrafanaState]) -> None:
    url, state = grafana
    boards = build_all()
    outcomes = _push(url, boards)
    assert set(outcomes.values()) == {Outcome.CREATED}
    assert len(outcomes) == 2 + len(boards)
    assert set(state.dashboards) == set(boards)
    assert all(saved["meta"]["folderUid"] == "forewarn" for saved in state.dashboards.values())
    assert state.datasources["forewarn-influxdb"]["jsonData"]["dbName"] == "forewarn"


def test_second_push_is_a_no_op(grafana: tuple[str, GrafanaState]) -> None:
    url, state = grafana
    boards = build_all()
    _push(url, boards)
    writes_after_first = len(state.writes)
    outcomes = _push(url, boards)
    assert set(outcomes.values()) == {Outcome.UNCHANGED}
    assert len(state.writes) == writes_after_first
    assert {saved["dashboard"]["version"] for saved in state.dashboards.values()} == {1}


def test_a_changed_board_is_updated_under_the_same_uid(grafana: tuple[str, GrafanaState]) -> None:
    url, state = grafana
    boards = build_all()
    _push(url, boards)
    first_id = state.dashboards["forewarn-fleet"]["dashboard"]["id"]
    changed = copy.deepcopy(boards)
    changed["forewarn-fleet"]["title"] = "forewarn · Fleet overview (renamed)"
    outcomes = _push(url, changed)
    assert outcomes["dashboard:forewarn-fleet"] is Outcome.UPDATED
    assert [k for k, v in outcomes.items() if v is not Outcome.UNCHANGED] == ["dashboard:forewarn-fleet"]
    saved = state.dashboards["forewarn-fleet"]["dashboard"]
    assert (saved["id"], saved["version"], saved["title"]) == (
        first_id,
        2,
        "forewarn · Fleet overview (renamed)",
    )


def test_a_wrong_token_is_a_clear_error(grafana: tuple[str, GrafanaState]) -> None:
    url, state = grafana
    with pytest.raises(PushError, match="folder forewarn: Unauthorized"):
        _push(url, build_all(), token="wrong")
    assert state.writes == []


def test_cli_push_then_push_again(
    grafana: tuple[str, GrafanaState], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    url, state = grafana
    monkeypatch.delenv("FOREWARN_GRAFANA_TOKEN", raising=False)
    # not this machine's generated credentials: a datasource with a password is re-sent on every
    # push (Grafana never returns secure fields to compare), so "unchanged" needs none
    monkeypatch.setenv("FOREWARN_STATE_DIR", str(tmp_path))
    runner = CliRunner()
    first = runner.invoke(app, ["dashboards", "push", "--url", url, "--token", TOKEN])
    assert first.exit_code == 0, first.output
    assert "created   dashboard:forewarn-asset" in first.output
    second = runner.invoke(app, ["dashboards", "push", "--url", url, "--token", TOKEN])
    assert second.exit_code == 0, second.output
    assert "created" not in second.output
    assert second.output.count("unchanged") == 8
    assert len(state.dashboards) == 6


def test_cli_push_to_nothing_fails_with_a_message() -> None:
    result = CliRunner().invoke(app, ["dashboards", "push", "--url", "http://127.0.0.1:9", "--token", "x"])
    assert result.exit_code == 3  # unreachable
    assert "cannot reach Grafana at http://127.0.0.1:9" in result.output
