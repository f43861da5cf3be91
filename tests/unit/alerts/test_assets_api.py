"""``/assets``: the asset register over the API (its own SQLite file), auth and 4xx answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import Depends

from alerts.api.deps import allowed
from alerts.api.routes_assets import install
from alerts.identity.roles import Action, Role
from ingest.asset_store import AssetStore
from tests.unit.alerts.api_scenarios import user_auth
from tests.unit.alerts.conftest import Api, make_api


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    """The work-order API with ``/assets`` mounted on a fresh register."""
    made = make_api(f"sqlite:///{tmp_path / 'wo.db'}")
    register = AssetStore(f"sqlite:///{tmp_path / 'assets.sqlite'}")
    install(made.client.app, register, [Depends(allowed(Action.READ))])  # type: ignore[arg-type]
    yield made
    made.client.close()
    register.close()
    made.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def test_register_read_move_and_remove(api: Api) -> None:
    c = api.client
    station = c.post("/assets", json={"asset_id": "station-1", "site": "site-1", "type": "station"})
    assert station.status_code == 201, station.text
    pump = c.post(
        "/assets", json={"asset_id": "pump-1", "site": "site-1", "type": "pump", "parent_id": "station-1"}
    )
    assert pump.status_code == 201
    assert pump.json()["created_by"] == "api:admin"
    page = c.get("/assets", params={"site": "site-1", "type": "pump"}).json()
    assert [a["asset_id"] for a in page["items"]] == ["pump-1"]
    assert page["total"] == 1
    assert c.get("/assets/pump-1").json()["parent_id"] == "station-1"
    moved = c.patch("/assets/pump-1", json={"site": "site-2", "parent_id": None})
    assert moved.status_code == 200, moved.text
    assert (moved.json()["site"], moved.json()["parent_id"], moved.json()["type"]) == ("site-2", None, "pump")
    retyped = c.patch("/assets/pump-1", json={"type": "blower"})
    assert (retyped.json()["site"], retyped.json()["type"]) == ("site-2", "blower")
    assert c.delete("/assets/pump-1").status_code == 204
    assert c.get("/assets/pump-1").status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "code"),
    [
        ("get", "/assets/ghost", None, 404, "asset_not_found"),
        ("patch", "/assets/ghost", {"type": "x"}, 404, "asset_not_found"),
        ("delete", "/assets/ghost", None, 404, "asset_not_found"),
        ("post", "/assets", {"asset_id": "pump-1", "site": "site-2"}, 409, "asset_exists"),
        ("delete", "/assets/station-1", None, 409, "asset_conflict"),
        ("post", "/assets", {"asset_id": "a/b", "site": "site-1"}, 422, "invalid_asset"),
        ("post", "/assets", {"asset_id": "x", "site": "site-1", "parent_id": "ghost"}, 422, "invalid_asset"),
        (
            "post",
            "/assets",
            {"asset_id": "x", "site": "site-2", "parent_id": "station-1"},
            422,
            "invalid_asset",
        ),
        ("patch", "/assets/station-1", {"parent_id": "pump-1"}, 422, "invalid_asset"),
        ("patch", "/assets/pump-1", {"site": None}, 422, "invalid_asset"),
    ],
)
def test_bad_requests_get_reason_codes(
    api: Api, method: str, path: str, body: dict[str, object] | None, status: int, code: str
) -> None:
    c = api.client
    c.post("/assets", json={"asset_id": "station-1", "site": "site-1"})
    c.post("/assets", json={"asset_id": "pump-1", "site": "site-1", "parent_id": "station-1"})
    response = c.request(method.upper(), path, json=body)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


@pytest.mark.parametrize(
    "body",
    [{"asset_id": "x"}, {"asset_id": "x", "site": "s", "by": "me"}, {"asset_id": "", "site": "s"},
     {"asset_id": "x" * 129, "site": "s"}, {"asset_id": "x\u0000", "site": "s"},
     {"asset_id": 7, "site": "s"}],
)  # fmt: skip
def test_malformed_bodies_are_422(api: Api, body: dict[str, object]) -> None:
    assert api.client.post("/assets", json=body).status_code == 422


def test_reading_needs_a_user_and_changing_needs_an_admin(api: Api) -> None:
    viewer = user_auth(api.sessions, "viewer", Role.VIEWER)
    dispatcher = user_auth(api.sessions, "disp", Role.DISPATCHER)
    api.client.post("/assets", json={"asset_id": "pump-1", "site": "site-1"})
    assert api.client.get("/assets", headers={"Authorization": ""}).status_code == 401
    assert api.client.get("/assets", headers=viewer).status_code == 200
    for auth in (viewer, dispatcher):
        refused = api.client.post("/assets", json={"asset_id": "pump-2", "site": "site-1"}, headers=auth)
        assert refused.status_code == 403
        assert refused.json()["code"] == "forbidden"
        assert api.client.patch("/assets/pump-1", json={"site": "site-2"}, headers=auth).status_code == 403
        assert api.client.delete("/assets/pump-1", headers=auth).status_code == 403
    assert api.client.get("/assets/pump-1").json()["site"] == "site-1"


def test_without_a_register_given_the_app_opens_the_configured_one_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'configured' / 'assets.sqlite'}"
    monkeypatch.setenv("FOREWARN_ASSETS_DATABASE_URL", url)
    made = make_api(f"sqlite:///{tmp_path / 'wo.db'}")
    install(made.client.app, None, [Depends(allowed(Action.READ))])  # type: ignore[arg-type]
    assert not (tmp_path / "configured").exists()  # nothing opened before a request needs it
    assert made.client.post("/assets", json={"asset_id": "pump-1", "site": "site-1"}).status_code == 201
    store = AssetStore(url)
    assert store.owners() == {"pump-1": "site-1"}
    store.close()
    made.client.app.state.assets.close()  # type: ignore[attr-defined]
    made.client.close()
    made.client.app.state.engine.dispose()  # type: ignore[attr-defined]
