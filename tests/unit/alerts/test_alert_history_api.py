"""``GET /alerts/{id}/history``: every change of an alert, who made it, with the model and risk then."""

from __future__ import annotations

from alerts.identity.roles import Role
from tests.unit.alerts.api_scenarios import user_auth
from tests.unit.alerts.conftest import Api
from tests.unit.alerts.test_console_board import raise_alert


def test_history_names_who_did_what_with_the_model_and_risk_of_the_time(sqlite_api: Api) -> None:
    api = sqlite_api
    alert_id = raise_alert(api.sessions, "pump-1", risk=0.93)
    dana = user_auth(api.sessions, "dana", Role.DISPATCHER)
    acked = api.client.post(f"/alerts/{alert_id}/ack", json={"comment": "crew on the way"}, headers=dana)
    assert acked.status_code == 200, acked.text

    history = api.client.get(f"/alerts/{alert_id}/history", headers=user_auth(api.sessions, "v", Role.VIEWER))

    assert history.status_code == 200
    entries = history.json()
    assert [(e["change"], e["by"]) for e in entries] == [("raised", "engine"), ("acknowledged", "dana")]
    assert entries[0]["model_version"] == "7"
    assert entries[0]["risk"] == 0.93
    assert entries[1]["state"] == "ACKNOWLEDGED"
    assert all(e["published_at"] is None for e in entries)  # no engine ran to publish them


def test_history_of_an_unknown_alert_is_404_and_needs_a_user(sqlite_api: Api) -> None:
    assert sqlite_api.client.get("/alerts/nope/history").json()["code"] == "not_found"
    anonymous = sqlite_api.client.get("/alerts/nope/history", headers={"Authorization": ""})
    assert anonymous.status_code == 401
