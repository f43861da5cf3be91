"""Parts inventory as movements on a real PostgreSQL cluster: the same scenarios as on SQLite, where
row locks (not SQLite's one writer at a time) keep concurrent issues and reservations honest."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from alerts.store.db import make_engine, migrate, session_factory
from tests.unit.alerts import stock_scenarios as ss
from tests.unit.alerts.conftest import Api, make_api

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_sessions(postgres_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(postgres_url)
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def pg_api(postgres_url: str) -> Iterator[Api]:
    api = make_api(postgres_url)
    yield api
    api.client.close()
    api.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def test_concurrent_movements_never_overdraw(pg_sessions: sessionmaker[Session]) -> None:
    ss.concurrent_movements_never_overdraw(pg_sessions, threads=8)


def test_concurrent_schedules_reserve_once(pg_sessions: sessionmaker[Session]) -> None:
    ss.concurrent_schedules_reserve_once(pg_sessions, threads=8)


def test_api_movements_and_refusals(pg_api: Api) -> None:
    ss.api_movements_and_refusals(pg_api.client, pg_api.sessions)
