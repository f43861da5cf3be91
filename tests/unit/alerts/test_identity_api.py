"""Roles on every route of the work-order API: each role and each action allowed or 403; a technician
acts only on their own work orders; the actor is the identity, never the body."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from alerts.identity.roles import NEEDS, Action, Role
from tests.unit.alerts import api_scenarios as sc
from tests.unit.alerts.conftest import Api, make_api

# Every JSON route and the action it takes. A route missing here is still checked by the generic
# tests below (401 without a user; a viewer acts on nothing).
ROUTES: dict[tuple[str, str], Action] = {
    ("get", "/alerts"): Action.READ,
    ("get", "/alerts/{alert_id}"): Action.READ,
    ("post", "/alerts/{alert_id}/ack"): Action.ACK_ALERT,
    ("post", "/alerts/{alert_id}/snooze"): Action.SNOOZE_ALERT,
    ("post", "/work-orders"): Action.OPEN_WORK_ORDER,
    ("get", "/work-orders"): Action.READ,
    ("get", "/work-orders/{work_order_id}"): Action.READ,
    ("post", "/work-orders/{work_order_id}/approve"): Action.APPROVE,
    ("post", "/work-orders/{work_order_id}/assign"): Action.ASSIGN,
    ("post", "/work-orders/{work_order_id}/schedule"): Action.SCHEDULE,
    ("post", "/work-orders/{work_order_id}/start"): Action.START,
    ("post", "/work-orders/{work_order_id}/complete"): Action.COMPLETE,
    ("post", "/work-orders/{work_order_id}/close"): Action.CLOSE,
    ("post", "/work-orders/{work_order_id}/cancel"): Action.CANCEL,
    ("get", "/work-orders/{work_order_id}/suggestions"): Action.READ,
    ("get", "/work-orders/{work_order_id}/audit"): Action.READ,
    ("get", "/work-orders/{work_order_id}/report"): Action.READ,
    ("post", "/technicians"): Action.ADD_TECHNICIAN,
    ("get", "/technicians"): Action.READ,
    ("put", "/parts/stock"): Action.SET_STOCK,
    ("get", "/parts/stock"): Action.READ,
    ("put", "/parts/kits/{failure_mode}"): Action.SET_KIT,
    ("get", "/parts/kits"): Action.READ,
    ("get", "/kpis"): Action.READ,
}
OPEN = {("get", "/health")}


class World:
    """An API with one user per role; work order ``mine`` is assigned to the technician user's
    technician, ``theirs`` to another technician."""

    def __init__(self, api: Api) -> None:
        self.api = api
        ids = sc.seed_crew_and_parts(api.client)
        self.auth = {
            Role.VIEWER: sc.user_auth(api.sessions, "vic", Role.VIEWER),
            Role.TECHNICIAN: sc.user_auth(api.sessions, "tia", Role.TECHNICIAN, technician_id=ids["ana"]),
            Role.DISPATCHER: sc.user_auth(api.sessions, "dee", Role.DISPATCHER),
            Role.ADMIN: api.admin,
        }
        self.alert_id = sc.raise_alert(api.sessions).alert.alert_id
        self.mine = self._scheduled("fan-1", ids["ana"])
        self.theirs = self._scheduled("fan-2", ids["cy"])

    def _scheduled(self, asset: str, technician_id: int) -> int:
        c = self.api.client
        body = {"asset_id": asset, "site": "site-1", "failure_mode": "bearing", "severity": "MAJOR"}
        wo_id: int = sc.post(c, "/work-orders", body, 201)["id"]
        sc.post(c, f"/work-orders/{wo_id}/approve", {})
        sc.post(c, f"/work-orders/{wo_id}/schedule", {"technician_id": technician_id})
        return wo_id

    def url(self, path: str, work_order_id: int | None = None) -> str:
        values = {
            "alert_id": self.alert_id,
            "work_order_id": str(work_order_id or self.mine),
            "failure_mode": "bearing",
        }
        return re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "1"), path)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    api = make_api(f"sqlite:///{tmp_path_factory.mktemp('roles') / 'wo.db'}")
    yield World(api)
    api.client.close()
    api.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def _schema_routes(client: TestClient) -> set[tuple[str, str]]:
    paths: dict[str, dict[str, Any]] = client.get("/openapi.json").json()["paths"]
    return {(method, path) for path, ops in paths.items() for method in ops}


def test_the_table_names_real_routes(world: World) -> None:
    routes = _schema_routes(world.api.client)
    assert set(ROUTES) <= routes
    assert routes >= OPEN


def test_every_route_but_health_needs_a_user(world: World) -> None:
    bare = TestClient(world.api.client.app)
    for method, path in sorted(_schema_routes(world.api.client)):
        response = bare.request(method, world.url(path), json={})
        if (method, path) in OPEN:
            assert response.status_code == 200
            continue
        assert response.status_code == 401, (method, path, response.text)
        assert response.headers["www-authenticate"] == "Bearer"


def test_a_viewer_acts_on_nothing(world: World) -> None:
    for method, path in sorted(_schema_routes(world.api.client)):
        if method == "get":
            continue
        response = world.api.client.request(method, world.url(path), json={}, headers=world.auth[Role.VIEWER])
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["code"] == "forbidden"


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize(("method", "path"), sorted(ROUTES))
def test_role_matrix(world: World, role: Role, method: str, path: str) -> None:
    """Each role on each route: 403 exactly when the role is below the action's (on the technician's
    own work order, so START and COMPLETE pass for them)."""
    action = ROUTES[(method, path)]
    response = world.api.client.request(method, world.url(path), json={}, headers=world.auth[role])
    if role.at_least(NEEDS[action]):
        assert response.status_code not in (401, 403), response.text
    else:
        assert response.status_code == 403, response.text
        assert response.json() == {"code": "forbidden", "detail": f"{role.value} may not {action.value}"}


@pytest.mark.parametrize("action", ["start", "complete"])
def test_a_technician_acts_only_on_their_own_work_orders(world: World, action: str) -> None:
    c, tech = world.api.client, world.auth[Role.TECHNICIAN]
    body = {"fault_found": False} if action == "complete" else {}
    refused = sc.post(c, f"/work-orders/{world.theirs}/{action}", body, 403, auth=tech)
    assert refused == {
        "code": "forbidden",
        "detail": f"technician may not {action} a work order not assigned to them",
    }
    assert sc.get(c, f"/work-orders/{world.theirs}")["status"] == "scheduled"  # nothing changed
    assert sc.post(c, "/work-orders/99999/start", {}, 404, auth=tech)["code"] == "not_found"


def test_a_technician_starts_and_completes_their_own_as_themselves(tmp_path: Any) -> None:
    api = make_api(f"sqlite:///{tmp_path / 'wo.db'}")
    ids = sc.seed_crew_and_parts(api.client)
    tech = sc.user_auth(api.sessions, "tia", Role.TECHNICIAN, technician_id=ids["ana"])
    wo_id = sc.raise_alert(api.sessions).alert.work_order_id
    sc.post(api.client, f"/work-orders/{wo_id}/approve", {})
    sc.post(api.client, f"/work-orders/{wo_id}/schedule", {"technician_id": ids["ana"]})
    assert sc.post(api.client, f"/work-orders/{wo_id}/start", {}, auth=tech)["status"] == "in_progress"
    done = sc.post(api.client, f"/work-orders/{wo_id}/complete", {"fault_found": False}, auth=tech)
    assert done["status"] == "completed"
    sc.post(api.client, f"/work-orders/{wo_id}/close", {}, 403, auth=tech)  # closing is a dispatcher's
    trail = sc.get(api.client, f"/work-orders/{wo_id}/audit")
    assert [(e["action"], e["actor"]) for e in trail][-2:] == [("start", "tia"), ("complete", "tia")]
    api.client.close()


def test_a_name_in_the_body_is_refused_not_recorded(world: World) -> None:
    c = world.api.client
    response = c.post(f"/alerts/{world.alert_id}/ack", json={"by": "someone-else", "comment": "x"})
    assert response.status_code == 422
    until = (world.api.clock.now() + timedelta(hours=1)).isoformat()
    body = {"until": until, "reason": "mine"}  # (a snooze can be repeated: this world is shared)
    sc.post(c, f"/alerts/{world.alert_id}/snooze", body, auth=world.auth[Role.DISPATCHER])
    history = c.get(f"/alerts/{world.alert_id}/history").json()
    assert (history[-1]["change"], history[-1]["by"]) == ("snoozed", "dee")


def test_a_revoked_or_unknown_token_is_401(world: World) -> None:
    c = TestClient(world.api.client.app)
    for header in (
        "Bearer fw_not-a-token",
        "Bearer ",
        "Token abc",
        world.auth[Role.ADMIN]["Authorization"] + "x",
    ):
        assert c.get("/alerts", headers={"Authorization": header}).status_code == 401
