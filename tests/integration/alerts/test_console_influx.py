"""The console's fleet, asset and pipeline pages against the real InfluxDB.

Readings, scores (two model versions) and pipeline counters go into a fresh InfluxDB database, alerts
and work orders into the store; a viewer logged in through the console's form must see them: the
fleet ranked by risk, the asset's charts, latest sensors and model versions, each hop's throughput and
the dead letters by reason. An InfluxDB that does not answer leaves a notice, never a 500.
"""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from alerts.api.app import create_app
from alerts.identity.roles import Role
from alerts.settings import ApiSettings
from alerts.store.db import transaction
from alerts.store.tables import AlertRow, WorkOrderRow
from forewarn.contracts.influx_schema import PIPELINE, RISK, telemetry_point
from forewarn.influx import InfluxWriter
from forewarn.settings import InfluxSettings, load
from infra.stack.service import StackContext
from tests.conftest import unique
from tests.unit.alerts.console_helpers import Browser, browser

pytestmark = pytest.mark.integration

STEPS = 60  # one reading and score a minute for the last hour
HOSTILE = '<b id="x">pump</b> & "co"'


@dataclass(frozen=True)
class Fleet:
    calm: str  # site-1, risk up to 0.30, model v1 then v2
    risky: str  # site-2, risk up to 0.90
    start: datetime


def _points(fleet: Fleet) -> list[str | None]:
    points: list[str | None] = []
    for i in range(STEPS):
        at = fleet.start + timedelta(minutes=i)
        ms = int(at.timestamp() * 1000)
        for asset, site, top in ((fleet.calm, "site-1", 0.3), (fleet.risky, "site-2", 0.9)):
            sensors = {"temp_c": 40.0 + 0.5 * i, "vibration_mm_s": 2.0, "pressure_bar": 5.0 - 0.01 * i}
            points.append(telemetry_point(site, asset, ms, i, {"load_frac": 0.8}, sensors))
            version = "1" if asset == fleet.calm and i < STEPS // 2 else "2"
            tags = {"site": site, "asset_id": asset, "model_name": "pumps", "model_version": version,
                    "model_alias": "champion", "failure_mode": "seal"}  # fmt: skip
            fields = {
                "risk": top * (i + 1) / STEPS,
                "rul_cycles": float(STEPS - i),
                "horizon_cycles": 30.0,
                "seq": i,
            }
            points.append(RISK.point(tags, fields, ms))
        # the gateway: 100 readings a minute, 2 of them malformed; the scoring job: the other 98
        gateway = {"component": "gateway", "gateway_id": "gw-1"}
        counters = {"messages_in": 10 * (i + 1), "readings_in": 100 * (i + 1), "readings_out": 98 * (i + 1),
                    "dead_letters": 2 * (i + 1), "spool_depth": i % 3}  # fmt: skip
        points.append(PIPELINE.point(gateway, counters, ms))
        points.append(
            PIPELINE.point({**gateway, "reason": "malformed_json"}, {"dead_letters": 2 * (i + 1)}, ms)
        )
        streaming = {"readings_in": 98 * (i + 1), "readings_out": 98 * (i + 1), "consumer_lag": 7}
        points.append(PIPELINE.point({"component": "streaming"}, streaming, ms))
    return points


@pytest.fixture
def fleet(stack: StackContext, influx_database: str) -> Fleet:
    """Two assets, an hour of readings and scores ending now, and the pipeline's counters."""
    found = Fleet(
        unique("calm"), f"{HOSTILE} {unique('risky')}", datetime.now(UTC) - timedelta(minutes=STEPS - 1)
    )
    with InfluxWriter(stack.influx.model_copy(update={"database": influx_database}), retry_budget_s=5) as w:
        assert w.write(_points(found)) == STEPS * 7
    return found


def _app(tmp_path: Path, influx: InfluxSettings) -> Any:
    return create_app(load(ApiSettings, database_url=f"sqlite:///{tmp_path / 'wo.db'}"), influx=influx)


@pytest.fixture
def viewer(stack: StackContext, influx_database: str, fleet: Fleet, tmp_path: Path) -> Iterator[Browser]:
    """A viewer of an API reading the fleet's database, with an open alert and work order for ``risky``."""
    app = _app(tmp_path, stack.influx.model_copy(update={"database": influx_database}))
    with TestClient(app) as client:
        now = datetime.now(UTC)
        with transaction(app.state.store.sessions) as session:
            session.add(
                AlertRow(
                    alert_id="al-1", asset_id=fleet.risky, site="site-2", failure_mode="seal",
                    kind="predictive", severity="CRITICAL", state="ACTIVE", first_seen=now, last_seen=now,
                    occurrence_count=3, trigger_risk=0.9, trigger_rul_cycles=2.0, model_name="pumps",
                    model_version="2", raised_at=now, last_notified_at=now,
                )
            )  # fmt: skip
            session.add(
                WorkOrderRow(
                    asset_id=fleet.risky, site="site-2", failure_mode="seal", status="approved",
                    severity="CRITICAL", priority="P1", due_by=now + timedelta(hours=4),
                    source_alert_id="al-1", created_by="engine", created_at=now, updated_at=now,
                    model_name="pumps", model_version="2",
                )
            )  # fmt: skip
        yield browser(app.state.store.sessions, client, "vera", Role.VIEWER)


def _charts(html: str) -> dict[str, dict[str, Any]]:
    found = re.findall(r'<script type="application/json" id="([^"]+)">(.*?)</script>', html, re.DOTALL)
    return {chart_id: json.loads(body) for chart_id, body in found}


def test_fleet_ranks_the_assets_by_their_latest_risk(viewer: Browser, fleet: Fleet) -> None:
    page = viewer.get("/console/fleet")
    assert page.status_code == 200, page.text
    assert "InfluxDB" not in page.text  # no notice: it answered
    risky = f'href="/console/assets/{quote(fleet.risky, safe="")}"'
    calm = f'href="/console/assets/{quote(fleet.calm, safe="")}"'
    table = page.text[page.text.index('<table class="grid">') :]  # below the sites' summary
    assert table.index(risky) < table.index(calm)
    assert "<b id=" not in page.text  # the hostile id is text
    rows = re.findall(r'<td class="num">([\d.]+)</td><td>seal</td><td class="num">(\d+)</td>', page.text)
    assert rows == [("0.90", "1"), ("0.30", "1")]  # the latest risk and RUL of each
    assert "(1 CRITICAL)" in page.text
    site_2 = viewer.get("/console/fleet", site="site-2")
    assert calm not in site_2.text
    assert risky in site_2.text


def test_asset_page_charts_risk_rul_and_the_trending_sensors(viewer: Browser, fleet: Fleet) -> None:
    page = viewer.get(f"/console/assets/{quote(fleet.calm, safe='')}", since="6h")
    assert page.status_code == 200, page.text
    charts = _charts(page.text)
    risk = charts["chart-score-1"]
    assert [s["label"] for s in risk["series"]] == ["pumps v1 · seal", "pumps v2 · seal"]
    assert max(v for v in risk["series"][1]["values"] if v is not None) == pytest.approx(0.3)
    assert risk["axes"][0]["range"] == [0.0, 1.0]
    rul = charts["chart-score-2"]
    assert min(v for s in rul["series"] for v in s["values"] if v is not None) == 1.0
    sensors = sorted(c["title"] for k, c in charts.items() if k.startswith("chart-sensor-"))
    assert sensors == ["pressure_bar", "temp_c"]  # vibration is flat
    assert '<td class="mono">temp_c</td><td class="num">69.5</td>' in page.text  # its last value
    versions = re.findall(
        r'<tr><td class="mono">(pumps v\d)</td>.*?<td class="num">(\d+)</td></tr>', page.text
    )
    assert versions == [("pumps v1", str(STEPS // 2)), ("pumps v2", str(STEPS // 2))]


def test_asset_page_of_the_risky_asset_lists_its_alert_and_work_order(viewer: Browser, fleet: Fleet) -> None:
    page = viewer.get(f"/console/assets/{quote(fleet.risky, safe='')}")
    assert page.status_code == 200, page.text
    assert "<b id=" not in page.text
    assert '<span class="sev sev-CRITICAL">CRITICAL</span>' in page.text
    assert '<a href="/console/work-orders/1">#1</a>' in page.text
    assert viewer.get("/console/assets/never-seen-pump").status_code == 404


def test_pipeline_shows_each_hops_throughput_and_dead_letters(viewer: Browser) -> None:
    page = viewer.get("/console/pipeline", since="2h")
    assert page.status_code == 200, page.text
    gateway = re.search(r'<th scope="row" class="mono">gateway gw-1</th>(.*?)</tr>', page.text, re.DOTALL)
    assert gateway is not None
    cells = re.findall(r'<td class="num">([^<]*)</td>', gateway[1])
    # messages/s, in/s, out/s, now in/s, readings in, readings out, duplicates, dead letters, lag, spool
    assert cells[4:8] == [f"{100 * STEPS:,}", f"{98 * STEPS:,}", "-", f"{2 * STEPS:,}"]
    assert float(cells[3]) == pytest.approx(100 / 60, abs=0.05)
    streaming = re.search(r'<th scope="row" class="mono">streaming</th>(.*?)</tr>', page.text, re.DOTALL)
    assert streaming is not None
    assert re.findall(r'<td class="num">([^<]*)</td>', streaming[1])[8] == "7"  # consumer lag
    assert f'<td class="mono">malformed_json</td><td class="num">{2 * STEPS:,}</td>' in page.text
    charts = _charts(page.text)
    labels = {s["label"] for c in charts.values() for s in c["series"]}
    assert {
        "gateway gw-1 in",
        "streaming out",
        "streaming consumer lag",
        "gateway gw-1 spool depth",
    } <= labels


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_pages_say_when_influxdb_does_not_answer(stack: StackContext, tmp_path: Path) -> None:
    gone = stack.influx.model_copy(update={"url": f"http://127.0.0.1:{_closed_port()}", "timeout_s": 2.0})
    app = _app(tmp_path, gone)
    with TestClient(app) as client:
        with transaction(app.state.store.sessions) as session:
            now = datetime.now(UTC)
            session.add(
                WorkOrderRow(
                    asset_id="p1", site="site-1", failure_mode="seal", status="approved", severity="MAJOR",
                    priority="P2", due_by=now, created_by="t", created_at=now, updated_at=now,
                )
            )  # fmt: skip
        viewer = browser(app.state.store.sessions, client, "vera", Role.VIEWER)
        for path in ("/console/fleet", "/console/assets/p1", "/console/assets/unknown", "/console/pipeline"):
            page = viewer.get(path)
            assert page.status_code == 200, (path, page.text)
            assert "InfluxDB gave no answer" in page.text, path
