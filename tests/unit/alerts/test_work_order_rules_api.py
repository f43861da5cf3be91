"""The work-order rules through the API on a real SQLite file (the PostgreSQL run shares the scenarios)."""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.settings import ApiSettings
from forewarn.contracts.alert import Severity
from forewarn.settings import SettingsError, load
from tests.unit.alerts import rules_scenarios as rs
from tests.unit.alerts.api_scenarios import post, raise_alert
from tests.unit.alerts.conftest import Api, make_api


def test_escalation_raises_priority(sqlite_api: Api) -> None:
    rs.escalation_raises_priority(sqlite_api.client, sqlite_api.sessions, sqlite_api.clock)


def test_schedule_at_a_time(sqlite_api: Api) -> None:
    rs.schedule_at_a_time(sqlite_api.client, sqlite_api.sessions, sqlite_api.clock)


def test_restock_releases_by_priority(sqlite_api: Api) -> None:
    rs.restock_releases_by_priority(sqlite_api.client, sqlite_api.sessions)


def test_snooze_needs_reason_and_has_a_maximum(sqlite_api: Api) -> None:
    rs.snooze_needs_reason_and_has_a_maximum(sqlite_api.client, sqlite_api.sessions)


def test_mttr_from_reported_time(sqlite_api: Api) -> None:
    rs.mttr_from_reported_time(sqlite_api.client, sqlite_api.sessions, sqlite_api.clock)


def test_snooze_maximum_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOREWARN_API_MAX_SNOOZE_H", '{"MAJOR": 0.5}')
    api = make_api(f"sqlite:///{tmp_path / 'wo.db'}")
    try:
        alert_id = raise_alert(api.sessions, severity=Severity.MAJOR).alert.alert_id
        refused = post(
            api.client, f"/alerts/{alert_id}/snooze", {"until": "2026-01-01T01:00:00Z", "reason": "x"}, 422
        )
        assert "at most 0.5 h" in refused["detail"]
        post(api.client, f"/alerts/{alert_id}/snooze", {"until": "2026-01-01T00:30:00Z", "reason": "x"})
    finally:
        api.client.close()
        api.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def test_snooze_maximum_settings_keep_the_defaults_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOREWARN_API_MAX_SNOOZE_H", '{"CRITICAL": 1}')
    limits = load(ApiSettings).max_snooze_h
    assert limits == {Severity.CRITICAL: 1, Severity.MAJOR: 24, Severity.MINOR: 72, Severity.WARNING: 168}
    monkeypatch.setenv("FOREWARN_API_MAX_SNOOZE_H", '{"MAJOR": 0}')
    with pytest.raises(SettingsError, match="FOREWARN_API_MAX_SNOOZE_H"):
        load(ApiSettings)
