"""Parts demand from predictions against the real InfluxDB: risk points in, a plan and `parts_plan`
points out (the CLI with ``--write-influx``), and the same plan from ``GET /plan/parts``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import orjson
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from alerts.api.app import create_app
from alerts.catalog import load_catalog, seed
from alerts.identity.roles import Role
from alerts.plan_cli import plan_app
from alerts.settings import ApiSettings
from alerts.store.db import make_engine, migrate, session_factory, transaction
from forewarn.contracts.influx_schema import RISK
from forewarn.influx import InfluxWriter
from forewarn.settings import load
from infra.stack.service import StackContext
from tests.conftest import unique
from tests.unit.alerts.api_scenarios import user_auth

pytestmark = pytest.mark.integration
SEAL_KIT = {"GSK-CASING-200", "MSL-CART-45", "ORK-SEAL-45"}  # catalog.default.toml: seal_leak


def _risk(asset: str, site: str, risk: float, at: datetime) -> str:
    tags = {"site": site, "asset_id": asset, "model_name": "pumps", "model_version": "3",
            "model_alias": "champion", "failure_mode": "seal_leak"}  # fmt: skip
    fields = {"risk": risk, "rul_cycles": 30.0, "horizon_cycles": 60.0, "seq": 1}
    line = RISK.point(tags, fields, int(at.timestamp() * 1000))
    assert line is not None
    return line


def test_a_risky_asset_makes_demand_for_its_kit_at_its_site_and_the_points_land(
    stack: StackContext, influx_database: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    influx = stack.influx.model_copy(update={"database": influx_database})
    now = datetime.now(UTC)
    risky, calm = unique("risky"), unique("calm")
    with InfluxWriter(influx, retry_budget_s=5) as writer:
        writer.write([_risk(risky, "site-2", 0.9, now - timedelta(minutes=5)),
                      _risk(calm, "site-1", 0.0, now - timedelta(minutes=5))])  # fmt: skip
    url = f"sqlite:///{tmp_path / 'wo.db'}"
    engine = make_engine(url)
    migrate(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        seed(session, load_catalog(), ["site-1", "site-2"], actor="test", now=now)
    monkeypatch.setenv("FOREWARN_INFLUX_DATABASE", influx_database)
    monkeypatch.setenv("FOREWARN_PLAN_RUL_STEP_S", "86400")  # one cycle a day: a 60-day horizon

    result = CliRunner().invoke(
        plan_app, ["parts", "--json", "--all", "--write-influx", "--database-url", url]
    )

    assert result.exit_code == 0, result.output
    plan = orjson.loads(result.stdout)
    demand = {(x["sku"], x["site"]): x["expected_demand"] for x in plan["lines"]}
    assert {sku for (sku, site), d in demand.items() if d > 0} == SEAL_KIT  # the risky asset's kit
    assert all(d > 0 for (sku, site), d in demand.items() if sku in SEAL_KIT and site == "site-2")
    assert all(d == 0 for (sku, site), d in demand.items() if site == "site-1")  # zero risk, no demand
    q = 'SELECT count("expected_demand") FROM "parts_plan" WHERE "site" = \'site-2\''
    answer = httpx.get(
        f"{influx.url}/query",
        params={"db": influx_database, "q": q},
        headers=influx.auth_headers(),
        timeout=10,
    ).json()
    counted = answer["results"][0]["series"][0]["values"][0][1]
    assert counted == sum(1 for (_, site) in demand if site == "site-2")

    app = create_app(load(ApiSettings, database_url=url), influx=influx)
    with TestClient(app) as client:
        viewer = user_auth(app.state.store.sessions, "vera", Role.VIEWER)
        answer = client.get("/plan/parts", headers=viewer)
        assert answer.status_code == 200, answer.text
        api_demand = {(x["sku"], x["site"]): x["expected_demand"] for x in answer.json()["lines"]}
        assert {k for k, d in api_demand.items() if d > 0} == {k for k, d in demand.items() if d > 0}
        assert client.get("/plan/parts").status_code == 401
    engine.dispose()
