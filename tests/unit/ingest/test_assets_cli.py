"""``forewarn assets``: add, list, show, move, remove on a fresh register file; one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from ingest.assets_cli import assets_app


@pytest.fixture
def db(tmp_path: Path) -> str:
    """A register that does not exist yet: the first command creates it."""
    return f"sqlite:///{tmp_path / 'new' / 'assets.sqlite'}"


def assets(db: str, *args: str) -> Result:
    return CliRunner().invoke(assets_app, [*args, "--database-url", db])


def test_add_list_show_move_remove(db: str) -> None:
    assert assets(db, "add", "station-1", "--site", "site-1", "--type", "station").exit_code == 0
    added = assets(
        db, "add", "pump-1", "--site", "site-1", "--type", "pump", "--parent", "station-1", "--json"
    )
    assert added.exit_code == 0, added.output
    body = json.loads(added.stdout)
    assert (body["asset_id"], body["site"], body["type"], body["parent_id"]) == (
        "pump-1", "site-1", "pump", "station-1",
    )  # fmt: skip
    assert body["created_by"].startswith("cli")
    listed = assets(db, "list", "--site", "site-1", "--json")
    assert [a["asset_id"] for a in json.loads(listed.stdout)["items"]] == ["pump-1", "station-1"]
    table = assets(db, "list")
    assert table.stdout.splitlines()[0].split() == ["ASSET", "SITE", "TYPE", "PARENT", "CREATED", "BY"]
    assert "pump-1" in table.stdout
    assert "station-1" in table.stdout
    moved = assets(db, "move", "pump-1", "--site", "site-2", "--json")
    assert moved.exit_code == 0, moved.output
    assert (json.loads(moved.stdout)["site"], json.loads(moved.stdout)["parent_id"]) == ("site-2", None)
    assert json.loads(assets(db, "show", "pump-1", "--json").stdout)["site"] == "site-2"
    removed = assets(db, "remove", "pump-1")
    assert removed.exit_code == 0
    assert "removed pump-1" in removed.output
    assert json.loads(assets(db, "list", "--json").stdout)["total"] == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["show", "ghost"], "'ghost' is not registered"),
        (["add", "a/b", "--site", "site-1"], "MQTT topic level"),
        (["add", "pump-1", "--site", "site-1", "--parent", "ghost"], "parent 'ghost' is not registered"),
        (["move", "ghost", "--site", "site-2"], "'ghost' is not registered"),
        (["remove", "ghost"], "'ghost' is not registered"),
    ],
)
def test_refusals_are_one_line_on_stderr_with_exit_2(db: str, args: list[str], message: str) -> None:
    result = assets(db, *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ")
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_id_is_registered_to_one_site_only(db: str) -> None:
    assert assets(db, "add", "pump-1", "--site", "site-1").exit_code == 0
    again = assets(db, "add", "pump-1", "--site", "site-2")
    assert again.exit_code == 2
    assert "registered to site 'site-1'" in again.stderr


def test_a_register_that_cannot_be_opened_fails_with_exit_1(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    result = assets(f"sqlite:///{tmp_path / 'file' / 'assets.sqlite'}", "list")
    assert result.exit_code == 1
    assert result.stderr.startswith("error: the register failed")


def test_a_publisher_registers_its_fleet_and_is_told_of_assets_of_another_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from ingest.assets import Asset
    from ingest.assets_cli import RegisterError, open_register, register_before_publishing

    monkeypatch.delenv("FOREWARN_ASSETS_DATABASE_URL", raising=False)
    now = datetime.now(UTC)
    fleet = [Asset(f"pump-{i}", "site-1", "pump", None, now, "simulator") for i in range(3)]
    register_before_publishing(tmp_path, fleet)
    register_before_publishing(tmp_path, fleet)  # again: nothing to do
    assert (tmp_path / "ingest" / "assets.sqlite").is_file()  # the state folder's register by default
    other = [Asset("pump-1", "site-2", "pump", None, now, "simulator")]
    with pytest.raises(RegisterError, match=r"registered to another site: pump-1 \(site-1\)"):
        register_before_publishing(tmp_path, other)
    with pytest.raises(RegisterError, match="MQTT topic level"):
        register_before_publishing(tmp_path, [Asset("a/b", "site-1", "pump", None, now, "simulator")])
    store = open_register(tmp_path)
    assert store.owners() == {"pump-0": "site-1", "pump-1": "site-1", "pump-2": "site-1"}
    store.close()
