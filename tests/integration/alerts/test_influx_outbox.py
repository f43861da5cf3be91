"""Work-order and alert change points reach the real InfluxDB from the outbox, after an outage too."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from alerts.api.app import create_app
from alerts.clock import ManualClock
from alerts.identity.roles import Role
from alerts.influx_outbox import Flusher, pending_count, queue
from alerts.settings import ApiSettings
from alerts.store.db import transaction
from alerts.store.tables import InfluxOutboxRow
from forewarn.influx import InfluxWriter
from forewarn.settings import InfluxSettings, load
from infra.stack.service import StackContext
from tests.unit.alerts.api_scenarios import full_lifecycle, user_auth
from tests.unit.alerts.helpers import T0, at
from tests.unit.alerts.test_influx_outbox import closed_port

pytestmark = pytest.mark.integration


def query(settings: InfluxSettings, q: str) -> list[dict[str, object]]:
    answer = httpx.get(
        f"{settings.url}/query",
        params={"db": settings.database, "q": q},
        headers=settings.auth_headers(),
        timeout=10,
    ).json()
    return answer["results"][0].get("series", [])  # type: ignore[no-any-return]


def test_api_lifecycle_points_reach_influx_after_an_outage(
    stack: StackContext, influx_database: str, tmp_path: Path
) -> None:
    influx = stack.influx.model_copy(update={"database": influx_database})
    down = influx.model_copy(update={"url": f"http://127.0.0.1:{closed_port()}"})
    clock = ManualClock(T0)
    db_url = f"sqlite:///{tmp_path / 'wo.db'}"

    admin: dict[str, str] = {}

    def api(influx_settings: InfluxSettings) -> TestClient:
        settings = load(ApiSettings, database_url=db_url, write_influx=True, influx_flush_interval_s=0.2)
        app = create_app(settings, clock, influx_settings)
        if not admin:  # the first start: the store's admin user
            admin.update(user_auth(app.state.store.sessions, "admin", Role.ADMIN))
        return TestClient(app, headers=admin)

    # InfluxDB unreachable: every request still works, the points wait in the store
    with api(down) as client:
        app = client.app
        full_lifecycle(client, app.state.store.sessions, clock)  # type: ignore[attr-defined]
        sessions = app.state.store.sessions  # type: ignore[attr-defined]
    with transaction(sessions) as s:
        queued = pending_count(s)
    assert queued == 7  # 6 work-order status changes + the raised alert
    assert app.state.flusher.stats.failures >= 1  # type: ignore[attr-defined]
    app.state.engine.dispose()  # type: ignore[attr-defined]

    # the API restarts with InfluxDB back: its background flusher writes what waited
    with api(influx) as client:
        app = client.app
        deadline = time.monotonic() + 30
        while True:
            with transaction(sessions) as s:
                if pending_count(s) == 0:
                    break
            assert time.monotonic() < deadline, "the outbox was not written"
            time.sleep(0.2)
    app.state.engine.dispose()  # type: ignore[attr-defined]

    series = query(
        influx, 'SELECT "work_order_id", "fault_found", "response_s" FROM work_orders GROUP BY "status"'
    )
    by_status = {s["tags"]["status"]: s["values"] for s in series}  # type: ignore[index]
    assert set(by_status) == {"requested", "approved", "scheduled", "in_progress", "completed", "closed"}
    assert all(len(v) == 1 for v in by_status.values())  # type: ignore[arg-type]
    assert by_status["completed"][0][2] == 1  # type: ignore[index]
    assert by_status["in_progress"][0][3] == 3600.0  # type: ignore[index]  # alert at T0, on site at 1 h
    (alerts,) = query(influx, 'SELECT "alert_id", "occurrences" FROM alerts')
    assert len(alerts["values"]) == 1  # type: ignore[arg-type]


def test_refused_point_is_kept_with_the_error_and_does_not_block(
    stack: StackContext, influx_database: str, tmp_path: Path
) -> None:
    from alerts.store.db import make_engine, migrate, session_factory

    influx = stack.influx.model_copy(update={"database": influx_database})
    engine = make_engine(f"sqlite:///{tmp_path / 'wo.db'}")
    migrate(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as s:
        queue(
            s,
            [
                "work_orders,site=a status_code=1i 1767225600000",
                'work_orders,site=a status_code="text" 1767225601000',  # field type clash: refused
                "work_orders,site=b status_code=2i 1767225602000",
            ],
            at(0),
        )
    flusher = Flusher(sessions, InfluxWriter(influx, retry_budget_s=1), ManualClock(T0))
    assert flusher.flush() == 2
    assert flusher.stats.refused == 1
    with transaction(sessions) as s:
        rows = s.scalars(select(InfluxOutboxRow).order_by(InfluxOutboxRow.id)).all()
        assert [(r.written_at is not None, r.error is not None) for r in rows] == [
            (True, False),
            (False, True),
            (True, False),
        ]
        assert "field type conflict" in (rows[1].error or "")
        assert pending_count(s) == 0
    (series,) = query(influx, 'SELECT "status_code" FROM work_orders')
    assert [v[1] for v in series["values"]] == [1, 2]  # type: ignore[index,union-attr]
    flusher.writer.close()
    engine.dispose()
