"""The InfluxDB outbox on a real SQLite store: every change queues its point; InfluxDB down keeps them.

"Down" here is a real closed port on loopback, not a fake; writing to the real InfluxDB is in
tests/integration/alerts/test_influx_outbox.py.
"""

from __future__ import annotations

import socket

from sqlalchemy import select

from alerts.clock import ManualClock
from alerts.influx_outbox import Flusher, pending_count
from alerts.store.db import transaction
from alerts.store.tables import InfluxOutboxRow
from forewarn.influx import InfluxWriter
from forewarn.settings import InfluxSettings
from tests.unit.alerts.api_scenarios import full_lifecycle
from tests.unit.alerts.conftest import Api
from tests.unit.alerts.helpers import at


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])  # closed again when the block ends: nothing listens


def points(api: Api) -> list[str]:
    with transaction(api.sessions) as s:
        return list(s.scalars(select(InfluxOutboxRow.line).order_by(InfluxOutboxRow.id)))


def test_lifecycle_queues_one_point_per_status_change(sqlite_api: Api) -> None:
    full_lifecycle(sqlite_api.client, sqlite_api.sessions, sqlite_api.clock)
    lines = points(sqlite_api)
    statuses = [
        p.split(" ")[0].split("status=")[1].split(",")[0] for p in lines if p.startswith("work_orders,")
    ]
    # assign does not change the status: no point for it
    assert statuses == ["requested", "approved", "scheduled", "in_progress", "completed", "closed"]
    assert sum(p.startswith("alerts,") for p in lines) == 1  # the raised alert
    (completed,) = [p for p in lines if "status=completed" in p]
    assert "fault_found=1i" in completed
    assert 'failure_code="BRG-OUTER-RACE"' in completed


def test_influx_down_keeps_points_and_backs_off(sqlite_api: Api) -> None:
    full_lifecycle(sqlite_api.client, sqlite_api.sessions, sqlite_api.clock)
    queued = len(points(sqlite_api))
    settings = InfluxSettings(url=f"http://127.0.0.1:{closed_port()}", timeout_s=1)
    clock = ManualClock(at(0))
    flusher = Flusher(sqlite_api.sessions, InfluxWriter(settings, retry_budget_s=0), clock, interval_s=2)
    assert flusher.maybe_flush() == 0
    assert flusher.stats.failures == 1
    assert flusher.stats.last_error is not None
    assert "ConnectError" in flusher.stats.last_error
    clock.set(at(1.9))
    assert flusher.maybe_flush() == 0
    assert flusher.stats.failures == 1  # still backing off: no attempt
    clock.set(at(2))
    flusher.maybe_flush()
    clock.set(at(5.9))
    flusher.maybe_flush()
    assert flusher.stats.failures == 2  # back-off doubled to 4 s after the second failure
    with transaction(sqlite_api.sessions) as s:
        assert pending_count(s) == queued  # nothing lost, nothing marked
    flusher.writer.close()
