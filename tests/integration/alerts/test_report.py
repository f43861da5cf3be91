"""``forewarn report asset`` and ``GET /work-orders/{id}/report`` against the real InfluxDB and MLflow.

An asset's readings and scores go into a fresh InfluxDB database, its model version (a fleet model:
RUL in reading steps of 60 s) into the registry, an alert and a work order into the store; the report
must show them all, in the model's unit.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from alerts.api.app import create_app
from alerts.identity.roles import Role
from alerts.settings import ApiSettings
from alerts.store.db import make_engine, migrate, session_factory, transaction
from alerts.store.tables import AlertRow
from chain.cli import app
from forewarn.contracts.influx_schema import RISK, telemetry_point
from forewarn.influx import InfluxWriter
from forewarn.settings import load
from infra.stack.service import StackContext
from tests.conftest import unique
from tests.unit.alerts.api_scenarios import user_auth

pytestmark = pytest.mark.integration

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
STEPS = 60


@pytest.fixture
def model_version(stack: StackContext, mlflow_tracking: str) -> Iterator[tuple[str, str]]:
    """A registered version of a fleet model (its tags as training writes them)."""
    from mlflow import MlflowClient

    client = MlflowClient(stack.mlflow.tracking_uri, stack.mlflow.registry_uri or stack.mlflow.tracking_uri)
    client.create_registered_model(mlflow_tracking)
    run = client.create_run(client.get_experiment_by_name("Default").experiment_id)
    tags = {
        "forewarn.source": "fleet:assets=20,steps=300,interval_s=60,seed=3",
        "forewarn.rul_unit": "reading steps",
        "forewarn.step_s": "60",
    }
    version = client.create_model_version(
        mlflow_tracking, f"{run.info.artifact_uri}/model", run_id=run.info.run_id, tags=tags
    )
    yield mlflow_tracking, str(version.version)
    client.delete_registered_model(mlflow_tracking)
    client.delete_run(run.info.run_id)


@pytest.fixture
def asset(stack: StackContext, influx_database: str, model_version: tuple[str, str]) -> str:
    """An asset with an hour of readings and scores, ending now."""
    asset_id = unique("pump")
    name, version = model_version
    start = datetime.now(UTC) - timedelta(minutes=STEPS)
    points = []
    for i in range(STEPS):
        ts_ms = int((start + timedelta(minutes=i)).timestamp() * 1000)
        sensors = {"temp_c": 40.0 + 0.2 * i, "vibration_mm_s": 2.0 + 0.05 * i, "flat": 1.0}
        points.append(telemetry_point("site-1", asset_id, ts_ms, i, {"load_frac": 0.8}, sensors))
        tags = {"site": "site-1", "asset_id": asset_id, "model_name": name, "model_version": version,
                "model_alias": "champion", "failure_mode": "bearing_wear"}  # fmt: skip
        fields = {"risk": i / STEPS, "rul_cycles": float(STEPS - i), "horizon_cycles": 50.0, "seq": i}
        points.append(RISK.point(tags, fields, ts_ms))
    with InfluxWriter(stack.influx.model_copy(update={"database": influx_database}), retry_budget_s=5) as w:
        assert w.write(points) == 2 * STEPS
    return asset_id


def add_alert(database_url: str, asset_id: str, version: str, at: datetime) -> None:
    engine = make_engine(database_url)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        session.add(
            AlertRow(
                alert_id=unique("alert"), asset_id=asset_id, site="site-1", failure_mode="bearing_wear",
                kind="predictive", severity="CRITICAL", state="open", first_seen=at,
                last_seen=at + timedelta(minutes=5), occurrence_count=3, trigger_risk=0.9,
                trigger_rul_cycles=6.0, model_name="m", model_version=version, raised_at=at,
                last_notified_at=at,
            )
        )  # fmt: skip
    engine.dispose()


def test_report_asset_writes_html_and_png_in_the_models_unit(
    stack: StackContext,
    influx_database: str,
    model_version: tuple[str, str],
    asset: str,
    tmp_path: Path,
) -> None:
    database_url = f"sqlite:///{tmp_path / 'wo.db'}"
    add_alert(database_url, asset, model_version[1], datetime.now(UTC) - timedelta(minutes=10))
    env = {
        "FOREWARN_INFLUX_DATABASE": influx_database,
        "FOREWARN_ALERTS_DATABASE_URL": database_url,
        "FOREWARN_MLFLOW_TRACKING_URI": stack.mlflow.tracking_uri,
    }
    runner = CliRunner()
    page = tmp_path / "out" / "report.html"
    result = runner.invoke(app, ["report", "asset", asset, "--out", str(page), "--since", "1d"], env=env)
    assert result.exit_code == 0, result.output
    assert f"{STEPS} scores by {model_version[0]} v{model_version[1]}" in result.stdout
    html = page.read_text()
    assert f"{asset} (site-1)" in html
    assert "reading steps of 1 min" in html
    assert "<td>CRITICAL</td>" in html
    image = re.search(r'src="data:image/png;base64,([^"]+)"', html)
    assert image is not None
    assert base64.b64decode(image.group(1)).startswith(PNG_MAGIC)

    figure = tmp_path / "report.png"
    result = runner.invoke(app, ["report", "asset", asset, "--out", str(figure)], env=env)
    assert result.exit_code == 0, result.output
    assert figure.read_bytes().startswith(PNG_MAGIC)

    result = runner.invoke(app, ["report", "asset", "no-such-asset", "--out", str(page)], env=env)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: nothing about asset 'no-such-asset'")
    assert "Traceback" not in result.output
    result = runner.invoke(app, ["report", "asset", asset, "--out", "r.pdf"], env=env)
    assert result.exit_code == 2
    assert ".html or .png" in result.output


def test_the_api_serves_each_work_orders_report(
    stack: StackContext, influx_database: str, model_version: tuple[str, str], asset: str, tmp_path: Path
) -> None:
    settings = load(ApiSettings, database_url=f"sqlite:///{tmp_path / 'wo.db'}")
    influx = stack.influx.model_copy(update={"database": influx_database})
    served = create_app(settings, influx=influx, mlflow=stack.mlflow)
    auth = user_auth(served.state.store.sessions, "ops", Role.DISPATCHER)
    with TestClient(served) as client:
        body = {"asset_id": asset, "site": "site-1", "failure_mode": "bearing_wear",
                "severity": "CRITICAL"}  # fmt: skip
        order = client.post("/work-orders", json=body, headers=auth).json()
        assert order["report_url"] == f"/work-orders/{order['id']}/report"
        page = client.get(order["report_url"], headers=auth)
        assert page.status_code == 200, page.text
        assert page.headers["content-type"].startswith("text/html")
        assert f"{asset} (site-1)" in page.text
        assert "data:image/png;base64," in page.text
        assert f"<td>{order['id']}</td>" in page.text  # the work order itself, in its table
        assert "reading steps of 1 min" in page.text
        figure = client.get(order["report_url"], params={"format": "png"}, headers=auth)
        assert figure.headers["content-type"] == "image/png"
        assert figure.content.startswith(PNG_MAGIC)
        assert client.get(order["report_url"]).status_code == 401
        assert client.get("/work-orders/999999/report", headers=auth).status_code == 404
    with TestClient(create_app(settings)) as bare:
        refused = bare.get(order["report_url"], headers=auth)
        assert refused.status_code == 503
        assert refused.json()["code"] == "report_unavailable"
