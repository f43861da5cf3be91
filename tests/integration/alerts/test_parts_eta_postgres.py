"""When a waiting work order expects its parts, on a real PostgreSQL 15 cluster: the same scenarios
as on SQLite (tests/unit/alerts/test_parts_eta.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session, sessionmaker

from alerts.store.db import make_engine, migrate, session_factory
from tests.unit.alerts import parts_eta_scenarios as sc

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_sessions(postgres_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(postgres_url)
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


def test_parts_date_is_the_longest_lead_time_or_unknown(pg_sessions: sessionmaker[Session]) -> None:
    sc.parts_date_is_the_longest_lead_time_or_unknown(pg_sessions)


def test_a_second_attempt_keeps_the_date_and_a_restock_clears_it(pg_sessions: sessionmaker[Session]) -> None:
    sc.a_second_attempt_keeps_the_date_and_a_restock_clears_it(pg_sessions)


def test_the_planner_places_a_waiting_order_no_earlier_than_its_parts(
    pg_sessions: sessionmaker[Session],
) -> None:
    sc.the_planner_places_a_waiting_order_no_earlier_than_its_parts(pg_sessions)
