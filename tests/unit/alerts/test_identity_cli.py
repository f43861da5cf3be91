"""``forewarn users``: bootstrap on a fresh store, secrets only in mode-600 files, one-line errors."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from alerts.api.app import create_app
from alerts.identity.credentials import read_credentials
from alerts.settings import ApiSettings
from alerts.users_cli import users_app
from forewarn.settings import load


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A store that does not exist yet: the first ``users add`` creates and migrates it."""
    return f"sqlite:///{tmp_path / 'new' / 'wo.db'}"


def users(db: str, *args: str) -> Result:
    return CliRunner().invoke(users_app, [*args, "--database-url", db])


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def roles_in(creds: Path) -> list[tuple[str, str]]:
    """(name, role) of each user line of a credentials file, in order."""
    lines = [x for x in creds.read_text().splitlines() if x and not x.startswith("#")]
    return [(x.split("\t")[0], x.split("\t")[1]) for x in lines]


def test_bootstrap_a_user_and_a_token_before_the_api_ever_ran(db: str, tmp_path: Path) -> None:
    creds, token_file = tmp_path / "credentials.txt", tmp_path / "api-token"
    added = users(db, "add", "dee", "--role", "dispatcher", "--credentials-file", str(creds))
    assert added.exit_code == 0, added.output
    assert mode(creds) == 0o600
    password = read_credentials(creds)["dee"]
    assert roles_in(creds) == [("dee", "dispatcher")]
    assert len(password) >= 32
    assert password not in added.output  # only in the file
    users(db, "add", "vic", "--role", "viewer", "--credentials-file", str(creds))
    assert roles_in(creds) == [("dee", "dispatcher"), ("vic", "viewer")]
    issued = users(db, "token", "dee", "--label", "demo run", "--out", str(token_file))
    assert issued.exit_code == 0, issued.output
    assert mode(token_file) == 0o600
    token = token_file.read_text().strip()
    assert token.startswith("fw_")
    assert token not in issued.output

    app = create_app(load(ApiSettings, database_url=db))
    with TestClient(app) as client:
        auth = {"Authorization": f"Bearer {token}"}
        opened = client.post(
            "/work-orders",
            json={"asset_id": "p-1", "site": "s-1", "failure_mode": "seal", "severity": "MAJOR"},
            headers=auth,
        )
        assert opened.status_code == 201, opened.text
        assert opened.json()["created_by"] == "dee"
        form = client.get("/console/login")
        login_csrf = form.text.split('name="csrf_token" value="')[1].split('"')[0]
        login = client.post(
            "/console/login",
            data={"username": "vic", "password": read_credentials(creds)["vic"], "csrf_token": login_csrf},
            follow_redirects=False,
        )
        assert login.status_code == 303
    app.state.engine.dispose()


def test_token_without_out_prints_it_once_on_stdout(db: str, tmp_path: Path) -> None:
    users(db, "add", "dee", "--role", "admin", "--credentials-file", str(tmp_path / "c"))
    printed = users(db, "token", "dee")
    assert printed.exit_code == 0
    token = printed.stdout.strip()
    assert token.startswith("fw_")
    assert "\n" not in token
    listed = json.loads(users(db, "list", "--json").stdout)
    assert [(u["name"], u["role"], u["active"]) for u in listed] == [("dee", "admin", True)]
    (shown,) = listed[0]["tokens"]
    assert token.startswith(shown["prefix"])
    assert token not in users(db, "list").stdout
    revoked = users(db, "revoke-token", str(shown["id"]))
    assert revoked.exit_code == 0, revoked.output
    assert json.loads(users(db, "list", "--json").stdout)[0]["tokens"][0]["revoked_at"] is not None


def test_password_file_disable_enable_and_passwd(db: str, tmp_path: Path) -> None:
    secret = tmp_path / "pw"
    secret.write_text("a long enough passphrase\n")
    assert users(db, "add", "ops", "--role", "viewer", "--password-file", str(secret)).exit_code == 0
    assert users(db, "disable", "ops").exit_code == 0
    assert json.loads(users(db, "list", "--json").stdout)[0]["active"] is False
    assert users(db, "enable", "ops").exit_code == 0
    creds = tmp_path / "creds"
    changed = users(db, "passwd", "ops", "--credentials-file", str(creds))
    assert changed.exit_code == 0, changed.output
    assert roles_in(creds) == [("ops", "viewer")]
    assert read_credentials(creds)["ops"]
    assert mode(creds) == 0o600


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["add", "x", "--role", "viewer"], "give --password-file FILE, or --credentials-file FILE"),
        (["add", "x", "--role", "technician", "--credentials-file", "{tmp}/c"], "needs --technician-id"),
        (["add", "x y", "--role", "viewer", "--credentials-file", "{tmp}/c"], "a user name is 1 to 100"),
        (["add", "x", "--role", "viewer", "--password-file", "{tmp}/short"], "at least 12 characters"),
        (["add", "x", "--role", "viewer", "--password-file", "{tmp}/missing"], "cannot read --password-file"),
        (["token", "nobody"], "no user 'nobody'"),
        (["disable", "nobody"], "no user 'nobody'"),
        (["revoke-token", "42"], "no API token 42"),
    ],
)
def test_errors_are_one_line_and_exit_2(db: str, tmp_path: Path, args: list[str], says: str) -> None:
    (tmp_path / "short").write_text("too short\n")
    result = users(db, *[a.format(tmp=tmp_path) for a in args])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert says in lines[0]
    assert "too short" not in result.output
    assert not (tmp_path / "c").exists()  # nothing written when refused


def test_an_existing_name_is_refused(db: str, tmp_path: Path) -> None:
    creds = tmp_path / "c"
    users(db, "add", "dee", "--role", "viewer", "--credentials-file", str(creds))
    again = users(db, "add", "dee", "--role", "admin", "--credentials-file", str(creds))
    assert again.exit_code == 2
    assert "already exists" in again.stderr
    assert roles_in(creds) == [("dee", "viewer")]  # no second password for a user never made


def test_an_unreachable_store_is_exit_1(tmp_path: Path) -> None:
    url = "postgresql+psycopg://nobody@127.0.0.1:1/none"
    result = CliRunner().invoke(users_app, ["list", "--database-url", url])
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the store failed")


def test_the_api_warns_when_nobody_can_log_in(db: str, caplog: pytest.LogCaptureFixture) -> None:
    app = create_app(load(ApiSettings, database_url=db))
    with caplog.at_level("WARNING"), TestClient(app) as client:
        assert client.get("/alerts").status_code == 401  # and no token could ever be right
    assert "no users yet: create one with `forewarn users add`" in caplog.text
    app.state.engine.dispose()
