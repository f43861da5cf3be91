"""The fleet, asset, KPI and pipeline pages through the real app on SQLite, without InfluxDB: what the
store has is shown, InfluxDB's absence is a notice (never a 500), hostile names stay text, 500 assets
render on one page, and ``/docs`` needs nothing from outside the machine.

The same pages read a real InfluxDB in tests/integration/alerts/test_console_influx.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from alerts.console.influx_notice import NOT_CONFIGURED
from alerts.identity.roles import Role
from alerts.store.db import transaction
from alerts.store.tables import AlertRow, RiskRejectionRow, WorkOrderRow
from tests.unit.alerts.conftest import Api
from tests.unit.alerts.console_helpers import Browser, browser
from tests.unit.alerts.helpers import T0

HOSTILE_ASSET = '<script>alert("a")</script>/pump 1?#'
HOSTILE_SITE = '"><img src=x onerror=alert(1)>'


def alert_row(asset_id: str, site: str, n: int, *, severity: str = "MAJOR", risk: float = 0.8) -> AlertRow:
    return AlertRow(
        alert_id=f"al-{n}", asset_id=asset_id, site=site, failure_mode="seal", kind="predictive",
        severity=severity, state="ACTIVE", first_seen=T0, last_seen=T0, occurrence_count=1, trigger_risk=risk,
        trigger_rul_cycles=12.0, model_name="pumps", model_version="3", raised_at=T0, last_notified_at=T0,
    )  # fmt: skip


def work_order_row(asset_id: str, site: str, **kw: object) -> WorkOrderRow:
    fields: dict[str, object] = {
        "asset_id": asset_id, "site": site, "failure_mode": "seal", "status": "approved", "severity": "MAJOR",
        "priority": "P2", "due_by": T0 + timedelta(hours=8), "created_by": "test", "created_at": T0,
        "updated_at": T0, "model_name": "pumps", "model_version": "3",
    }  # fmt: skip
    fields.update(kw)
    return WorkOrderRow(**fields)


def add(sessions: sessionmaker[Session], *rows: object) -> None:
    with transaction(sessions) as session:
        session.add_all(rows)


@pytest.fixture
def viewer(sqlite_api: Api) -> Iterator[Browser]:
    """A viewer logged in to the console (the role every page is for)."""
    client = TestClient(sqlite_api.client.app)
    yield browser(sqlite_api.sessions, client, "vera", Role.VIEWER)
    client.close()


def test_pages_need_a_login(sqlite_api: Api) -> None:
    anonymous = TestClient(sqlite_api.client.app)
    for path in ("/console/fleet", "/console/assets/p1", "/console/kpis", "/console/pipeline"):
        response = anonymous.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/console/login?next=")


def test_fleet_without_influxdb_ranks_the_stores_assets_and_escapes_their_names(
    sqlite_api: Api, viewer: Browser
) -> None:
    rows: list[object] = [alert_row(f"pump-{i:03d}", f"site-{i % 3}", i) for i in range(500)]
    rows += [alert_row(HOSTILE_ASSET, HOSTILE_SITE, 999, severity="CRITICAL")]
    rows += [work_order_row(HOSTILE_ASSET, HOSTILE_SITE, due_by=T0 - timedelta(hours=1))]
    add(sqlite_api.sessions, *rows)
    page = viewer.get("/console/fleet")
    assert page.status_code == 200, page.text
    assert NOT_CONFIGURED in page.text
    assert "page 1 of 3 · 501 assets" in page.text  # 200 a page; the summaries count them all
    pages = [page.text] + [viewer.get("/console/fleet", page=str(n)).text for n in (2, 3)]
    assert sum(p.count('class="mono">pump-') for p in pages) == 500
    assert '<td class="num">201</td>' in pages[1]
    assert "<script>alert" not in page.text
    assert "<img src=x" not in page.text
    assert "&lt;script&gt;alert(&#34;a&#34;)&lt;/script&gt;" in page.text
    assert f'href="/console/assets/{quote(HOSTILE_ASSET, safe="")}"' in page.text
    assert "(1 overdue)" in page.text
    # the asset with a critical alert and open work comes first (nothing is scored: no InfluxDB)
    first = re.search(r'<td class="num">1</td>\s*<td><a href="([^"]+)"', page.text)
    assert first
    assert first[1] == f"/console/assets/{quote(HOSTILE_ASSET, safe='')}"
    one_site = viewer.get("/console/fleet", site="site-1")
    assert one_site.text.count('class="mono">pump-') == 167


def test_asset_page_shows_the_stores_alerts_and_work_orders(sqlite_api: Api, viewer: Browser) -> None:
    add(
        sqlite_api.sessions,
        alert_row(HOSTILE_ASSET, "site-1", 1, severity="CRITICAL"),
        work_order_row(HOSTILE_ASSET, "site-1", status="completed", fault_found=True),
    )
    page = viewer.get(f"/console/assets/{quote(HOSTILE_ASSET, safe='')}")
    assert page.status_code == 200, page.text
    assert NOT_CONFIGURED in page.text
    assert "<script>alert" not in page.text
    assert '<span class="sev sev-CRITICAL">CRITICAL</span>' in page.text
    assert ">completed<" in page.text
    assert "<td>yes</td>" in page.text
    assert "pumps v3" in page.text


def test_asset_page_refuses_what_is_not_an_asset(sqlite_api: Api, viewer: Browser) -> None:
    unknown = viewer.get("/console/assets/no-such-pump")
    assert unknown.status_code == 404
    assert "No asset &#39;no-such-pump&#39;" in unknown.text
    assert "InfluxDB is not configured" in unknown.text
    assert viewer.get("/console/assets/" + "x" * 5000).status_code == 404
    add(sqlite_api.sessions, alert_row("p1", "site-1", 1))
    for since in ("91d", "soon", "1h; DROP"):
        assert viewer.get("/console/assets/p1", since=since).status_code == 422


def test_kpis_page_per_site_and_period(sqlite_api: Api, viewer: Browser) -> None:
    opened = T0 - timedelta(days=5)
    done = {"status": "completed", "fault_found": True, "created_at": opened,
            "on_site_at": opened + timedelta(hours=1), "completed_at": opened + timedelta(hours=3),
            "time_on_site_min": 45.0, "source_alert_id": "al-1",
            "alert_raised_at": opened - timedelta(minutes=30)}  # fmt: skip
    add(
        sqlite_api.sessions,
        work_order_row("p1", "site-1", **done),
        work_order_row("p2", HOSTILE_SITE, created_at=T0 - timedelta(days=60)),
    )
    page = viewer.get("/console/kpis")
    assert page.status_code == 200, page.text
    assert ">site-1</a></th>" in page.text
    assert "All sites" in page.text
    assert "45 min" in page.text  # MTTR: the reported time on site
    assert "30 min" in page.text  # alert → work order
    assert "<img src=x" not in page.text  # the hostile site is in the filter only, as text
    assert "&#34;&gt;&lt;img src=x" in page.text
    older = viewer.get("/console/kpis", since="2025-10-01", until="2025-11-15")
    assert "No work order opened in this period." not in older.text
    assert older.text.count('<tr class="total">') == 1
    assert viewer.get("/console/kpis", since="2026-02-01", until="2026-01-01").status_code == 422


def test_pipeline_page_without_influxdb_shows_the_engines_view(sqlite_api: Api, viewer: Browser) -> None:
    add(
        sqlite_api.sessions,
        *[
            RiskRejectionRow(reason="bad_json", detail="x", raw=b"{", source="risk/0/1", received_at=T0)
            for _ in range(3)
        ],
    )
    page = viewer.get("/console/pipeline")
    assert page.status_code == 200, page.text
    assert NOT_CONFIGURED in page.text
    assert re.search(r'<td class="mono">bad_json</td><td class="num">3</td><td class="num">3</td>', page.text)
    assert "No hop reported in the last 1h." in page.text
    assert viewer.get("/console/pipeline", since="8d").status_code == 422


def _local_refs(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def test_docs_load_swagger_ui_from_this_machine(sqlite_api: Api) -> None:
    client = sqlite_api.client
    docs = client.get("/docs")
    assert docs.status_code == 200
    refs = _local_refs(docs.text)
    assert len(refs) == 3  # the stylesheet, the favicon, the script
    for ref in refs:
        assert re.match(r"/[^/]", ref), ref
        assert client.get(ref).status_code == 200, ref
    assert "https://" not in docs.text
    assert "http://" not in docs.text
    assert "url: '/openapi.json'" in docs.text
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/redoc").status_code == 404


def test_every_page_template_names_only_files_of_this_console() -> None:
    root = Path(__file__).parents[3] / "alerts" / "console"
    for name in ("asset.html", "fleet.html", "kpis.html", "pipeline.html", "chart_macros.html"):
        for ref in _local_refs((root / "templates" / name).read_text()):
            if ref.startswith("{{ prefix }}/static/"):
                assert (root / "static" / ref.removeprefix("{{ prefix }}/static/")).is_file(), ref
