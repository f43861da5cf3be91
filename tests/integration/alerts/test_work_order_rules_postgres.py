"""The work-order rules through the API on a real PostgreSQL cluster: the same scenarios as on SQLite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.alerts import rules_scenarios as rs
from tests.unit.alerts.conftest import Api, make_api

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_api(postgres_url: str) -> Iterator[Api]:
    api = make_api(postgres_url)
    yield api
    api.client.close()
    api.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def test_escalation_raises_priority(pg_api: Api) -> None:
    rs.escalation_raises_priority(pg_api.client, pg_api.sessions, pg_api.clock)


def test_schedule_at_a_time(pg_api: Api) -> None:
    rs.schedule_at_a_time(pg_api.client, pg_api.sessions, pg_api.clock)


def test_restock_releases_by_priority(pg_api: Api) -> None:
    rs.restock_releases_by_priority(pg_api.client, pg_api.sessions)


def test_snooze_needs_reason_and_has_a_maximum(pg_api: Api) -> None:
    rs.snooze_needs_reason_and_has_a_maximum(pg_api.client, pg_api.sessions)


def test_mttr_from_reported_time(pg_api: Api) -> None:
    rs.mttr_from_reported_time(pg_api.client, pg_api.sessions, pg_api.clock)
