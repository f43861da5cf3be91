"""``forewarn alerts list|show|ack|snooze`` on a SQLite store: what a person sees, and that an action
from the command line changes the store and the outbox exactly as the same action through the API."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner, Result

from alerts.cli import alerts_app, api_app, labels_app
from alerts.effects import store_changes
from alerts.identity.roles import Role
from alerts.state import AlertChange
from alerts.store.alert_repo import row_to_alert
from alerts.store.db import transaction
from alerts.store.tables import AlertRow, AuditRow, OutboxRow
from forewarn.contracts.alert import AlertState, ChangeKind, Severity, decode_alert_event
from tests.unit.alerts import api_scenarios as sc
from tests.unit.alerts.conftest import Api, make_api
from tests.unit.alerts.helpers import at

FAR = "2030-01-01T00:00:00Z"


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Api]:
    """The API on a fresh store, and through it the store the commands read (``--database-url``).

    Snoozes here reach ``FAR``: the API and the CLI both read a maximum beyond it (about 11 years).
    """
    monkeypatch.setenv("FOREWARN_API_MAX_SNOOZE_H", '{"MINOR": 100000, "WARNING": 100000}')
    made = make_api(f"sqlite:///{tmp_path / 'wo.db'}")
    yield made
    made.client.close()
    made.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def url(api: Api) -> str:
    return str(api.client.app.state.engine.url)  # type: ignore[attr-defined]


def cli(api: Api, *args: str) -> Result:
    return CliRunner().invoke(alerts_app, [*args, "--database-url", url(api)])


def clear(sessions: sessionmaker[Session], alert_id: str) -> None:
    """Clear a stored alert the way the engine does."""
    with transaction(sessions) as session:
        row = session.get(AlertRow, alert_id)
        assert row is not None
        cleared = row_to_alert(row).model_copy(update={"state": AlertState.CLEARED, "cleared_at": at(500)})
        store_changes(
            session, [AlertChange(ChangeKind.CLEARED, cleared, at(500))], actor="engine", now=at(500)
        )


def last_event(sessions: sessionmaker[Session], alert_id: str) -> dict[str, Any]:
    """The newest outbox message of the alert, as published, with the actor the audit log recorded."""
    with transaction(sessions) as session:
        outbox = session.scalars(select(OutboxRow).where(OutboxRow.alert_id == alert_id)).all()
        audit = session.scalars(
            select(AuditRow).where(AuditRow.entity_id == alert_id).order_by(AuditRow.id.desc())
        ).first()
    assert audit is not None
    return {**decode_alert_event(outbox[-1].payload).model_dump(mode="json"), "audit_actor": audit.actor}


def one_error_line(result: Result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert result.exception is None or isinstance(result.exception, SystemExit)
    return lines[0]


def seed_fleet(api: Api) -> dict[str, str]:
    ids = {
        "old-warning": sc.raise_alert(api.sessions, asset="pump-1", severity=Severity.WARNING, raised_s=0),
        "critical": sc.raise_alert(api.sessions, asset="pump-2", severity=Severity.CRITICAL, raised_s=10),
        "newer-critical": sc.raise_alert(
            api.sessions, asset="pump-3", severity=Severity.CRITICAL, raised_s=20
        ),
        "cleared": sc.raise_alert(api.sessions, asset="pump-4", severity=Severity.CRITICAL, raised_s=30),
    }
    clear(api.sessions, ids["cleared"].alert.alert_id)
    return {name: change.alert.alert_id for name, change in ids.items()}


def test_list_shows_open_alerts_most_severe_then_newest(api: Api) -> None:
    ids = seed_fleet(api)
    result = cli(api, "list")
    assert result.exit_code == 0, result.output
    header, *rows = result.stdout.splitlines()
    assert header.split()[:3] == ["ALERT", "SEVERITY", "STATE"]
    assert [r.split()[0] for r in rows] == [ids["newer-critical"], ids["critical"], ids["old-warning"]]
    assert "3 of 3 open alerts" in result.stderr

    page = json.loads(cli(api, "list", "--json", "--all", "--limit", "2").stdout)
    assert (page["total"], len(page["items"])) == (4, 2)
    assert page["items"][0]["alert_id"] == ids["cleared"]  # newest CRITICAL, cleared ones included
    only = json.loads(cli(api, "list", "--json", "--severity", "WARNING").stdout)
    assert [a["alert_id"] for a in only["items"]] == [ids["old-warning"]]
    cleared = json.loads(cli(api, "list", "--json", "--state", "CLEARED").stdout)
    assert [a["alert_id"] for a in cleared["items"]] == [ids["cleared"]]
    assert json.loads(cli(api, "list", "--json", "--site", "site-9").stdout)["total"] == 0
    empty = cli(api, "list", "--site", "site-9")
    assert (empty.exit_code, empty.stdout) == (0, "")
    assert "no open alerts match (--all includes cleared ones)" in empty.stderr


def test_show_prints_every_field_the_work_order_and_the_history(api: Api) -> None:
    ids = seed_fleet(api)
    cleared = json.loads(cli(api, "show", ids["cleared"], "--json").stdout)
    assert cleared["alert"]["state"] == "CLEARED"
    assert cleared["alert"] == sc.get(api.client, f"/alerts/{ids['cleared']}")  # the API's shape
    assert cleared["work_order"]["id"] == cleared["alert"]["work_order_id"]
    assert cleared["work_order"]["source_alert_id"] == ids["cleared"]
    assert [(h["change"], h["state"], h["by"], h["published_at"]) for h in cleared["history"]] == [
        ("raised", "ACTIVE", "engine", None),
        ("cleared", "CLEARED", "engine", None),
    ]
    text = cli(api, "show", ids["old-warning"])
    assert text.exit_code == 0, text.output
    assert "work order: none" in text.stdout
    assert "trigger_rul_cycles" in text.stdout
    assert "history (1 change, oldest first" in text.stdout


def test_ack_publishes_the_same_change_as_the_api(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    by_api = sc.raise_alert(api.sessions, asset="pump-1", severity=Severity.MAJOR).alert.alert_id
    by_cli = sc.raise_alert(api.sessions, asset="pump-2", severity=Severity.MAJOR).alert.alert_id
    ana = sc.user_auth(api.sessions, "ana", Role.DISPATCHER)
    sc.post(api.client, f"/alerts/{by_api}/ack", {"comment": "crew on the way"}, auth=ana)
    monkeypatch.setattr("getpass.getuser", lambda: "ana")  # --by defaults to the OS user
    result = cli(api, "ack", by_cli, "--comment", "crew on the way")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"acknowledged {by_cli} (pump-2 bearing MAJOR) as ana")

    moving = {"alert_id", "asset_id", "work_order_id", "change_ts", "acknowledged_at"}
    api_event, cli_event = last_event(api.sessions, by_api), last_event(api.sessions, by_cli)
    assert {k: v for k, v in cli_event.items() if k not in moving} == {
        k: v for k, v in api_event.items() if k not in moving
    }
    assert (cli_event["change"], cli_event["state"], cli_event["acknowledged_by"]) == (
        "acknowledged",
        "ACKNOWLEDGED",
        "ana",
    )
    assert cli_event["audit_actor"] == "ana"
    assert sc.get(api.client, f"/alerts/{by_cli}")["ack_comment"] == "crew on the way"


def test_snooze_publishes_the_same_change_as_the_api(api: Api) -> None:
    by_api = sc.raise_alert(api.sessions, asset="pump-1", severity=Severity.MINOR).alert.alert_id
    by_cli = sc.raise_alert(api.sessions, asset="pump-2", severity=Severity.MINOR).alert.alert_id
    bo = sc.user_auth(api.sessions, "bo", Role.DISPATCHER)
    sc.post(api.client, f"/alerts/{by_api}/snooze", {"until": FAR, "reason": "parts arrive Monday"}, auth=bo)
    result = cli(api, "snooze", by_cli, "--until", FAR, "--reason", "parts arrive Monday", "--by", "bo")
    assert result.exit_code == 0, result.output
    moving = {"alert_id", "asset_id", "work_order_id", "change_ts"}
    api_event, cli_event = last_event(api.sessions, by_api), last_event(api.sessions, by_cli)
    assert {k: v for k, v in cli_event.items() if k not in moving} == {
        k: v for k, v in api_event.items() if k not in moving
    }
    assert cli_event["detail"] == "until 2030-01-01T00:00:00+00:00: parts arrive Monday"
    assert (cli_event["state"], cli_event["audit_actor"]) == ("SNOOZED", "bo")

    before = datetime.now(UTC)
    shown = json.loads(cli(api, "snooze", by_cli, "--for", "1h30m", "--reason", "later", "--json").stdout)
    until = datetime.fromisoformat(shown["snoozed_until"])
    assert before + timedelta(minutes=89) < until <= datetime.now(UTC) + timedelta(minutes=90)


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["ack", "nope", "--comment", "x", "--by", "ana"], 2, "alert nope does not exist"),
        (
            ["snooze", "{warning}", "--until", "2020-01-01T00:00:00Z", "--reason", "x"],
            2,
            "must end after now",
        ),
        (["snooze", "{warning}", "--until", "tomorrow", "--reason", "x"], 2, "--until: Input should be"),
        (["snooze", "{warning}", "--for", "2x", "--reason", "x"], 2, "--for '2x' is not a duration"),
        (["snooze", "{warning}", "--for", "2h", "--until", FAR, "--reason", "x"], 2, "one of them"),
        (["snooze", "{warning}", "--reason", "x"], 2, "one of them"),
        (
            ["snooze", "{warning}", "--for", "1h", "--reason", " "],
            2,
            "--reason: Value error, must not be blank",
        ),
        (["snooze", "{warning}", "--until", "9999-12-31T23:59:59Z", "--reason", "x"], 2, "at most 100000 h"),
        (["ack", "{cleared}", "--comment", "x"], 1, "is already cleared"),
        (["snooze", "{cleared}", "--for", "1h", "--reason", "x"], 1, "is already cleared"),
        (["ack", "{warning}", "--comment", "x", "--by", ""], 2, "--by: String should have at least 1"),
        (["show", "nope"], 2, "alert nope does not exist"),
    ],
)
def test_errors_are_one_line_with_an_exit_code_that_means_something(
    api: Api, args: list[str], code: int, says: str
) -> None:
    ids = seed_fleet(api)
    before = last_event(api.sessions, ids["old-warning"])
    result = cli(api, *[a.format(warning=ids["old-warning"], cleared=ids["cleared"]) for a in args])
    assert result.exit_code == code, result.output
    assert says in one_error_line(result)
    assert last_event(api.sessions, ids["old-warning"]) == before  # nothing published


def test_a_missing_store_is_named_not_created(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "wo.db"
    result = CliRunner().invoke(alerts_app, ["list", "--database-url", f"sqlite:///{missing}"])
    assert result.exit_code == 1
    assert f"no alert store at {missing}" in one_error_line(result)
    assert not missing.parent.exists()


def test_bad_usage_exits_2(api: Api) -> None:
    assert cli(api, "list", "--severity", "LOUD").exit_code == 2
    assert cli(api, "list", "--limit", "0").exit_code == 2
    assert cli(api, "ack", "some-id").exit_code == 2  # --comment is required


def test_labels_export_says_when_there_is_nothing_to_write(tmp_path: Path) -> None:
    out = tmp_path / "labels.csv"
    result = CliRunner().invoke(
        labels_app, ["export", "--out", str(out), "--database-url", f"sqlite:///{tmp_path / 'wo.db'}"]
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    assert f"wrote 0 labels to {out} (the header only): no completed work order has an outcome yet" in (
        result.stderr
    )
    assert out.read_text().startswith("asset_id,ts,failure_mode,source")


def test_api_serve_refuses_a_bad_identity_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("FOREWARN_API_DATABASE_URL", f"sqlite:///{tmp_path / 'wo.db'}")
    monkeypatch.setenv("FOREWARN_API_SESSION_TTL_H", "0")
    result = CliRunner().invoke(api_app, ["serve"])
    assert result.exit_code == 2
    assert "FOREWARN_API_SESSION_TTL_H" in one_error_line(result)
