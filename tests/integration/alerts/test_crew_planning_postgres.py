"""Crew planning on a real PostgreSQL 15 cluster: the same scenarios as on SQLite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from alerts.store.db import make_engine, migrate, session_factory
from tests.unit.alerts import crew_scenarios as sc

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_sessions(postgres_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(postgres_url)
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


def test_schedule_respects_shifts_skills_travel_and_parts(pg_sessions: sessionmaker[Session]) -> None:
    sc.schedule_respects_shifts_skills_travel_parts(pg_sessions)


def test_replan_keeps_pins_and_started_jobs(pg_sessions: sessionmaker[Session]) -> None:
    sc.replan_keeps_pins_and_started_jobs(pg_sessions)
