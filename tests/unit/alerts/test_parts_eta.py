"""When a waiting work order expects its parts: the pure rule, and the scenarios on a real SQLite
store (the same scenarios run on PostgreSQL in tests/integration/alerts)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from alerts.store.db import make_engine, migrate, session_factory
from alerts.workorders.parts_eta import parts_expected_at
from tests.unit.alerts import parts_eta_scenarios as sc

NOW = datetime(2026, 1, 5, 7, 0, tzinfo=UTC)
SKUS = st.sampled_from(["BRG", "IMP", "GRS", "SEAL"])
LEADS = st.dictionaries(SKUS, st.floats(min_value=0, max_value=3650, allow_nan=False))
KNOWN = st.none() | st.integers(-100, 100).map(lambda d: NOW + timedelta(days=d))


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'wo.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


@given(short=st.sets(SKUS, min_size=1), leads=LEADS, known=KNOWN)
def test_the_slowest_short_part_sets_the_date_unless_one_is_ahead(
    short: set[str], leads: dict[str, float], known: datetime | None
) -> None:
    got = parts_expected_at(short, leads, now=NOW, known=known)
    if known is not None and known > NOW:
        assert got == known  # the date already expected is kept
    elif short <= set(leads):
        assert got == NOW + timedelta(days=max(leads[sku] for sku in short))
    else:
        assert got is None  # a part without a policy: unknown, never guessed


def test_the_date_counts_from_the_attempt() -> None:
    leads = {"BRG": 7.0, "IMP": 28.0}
    assert parts_expected_at({"BRG"}, leads, now=NOW) == NOW + timedelta(days=7)
    assert parts_expected_at({"BRG", "IMP"}, leads, now=NOW) == NOW + timedelta(days=28)
    assert parts_expected_at({"BRG", "SEAL"}, leads, now=NOW) is None
    passed = NOW - timedelta(days=1)
    assert parts_expected_at({"BRG"}, leads, now=NOW, known=passed) == NOW + timedelta(days=7)


def test_parts_date_is_the_longest_lead_time_or_unknown(sessions: sessionmaker[Session]) -> None:
    sc.parts_date_is_the_longest_lead_time_or_unknown(sessions)


def test_a_second_attempt_keeps_the_date_and_a_restock_clears_it(sessions: sessionmaker[Session]) -> None:
    sc.a_second_attempt_keeps_the_date_and_a_restock_clears_it(sessions)


def test_the_planner_places_a_waiting_order_no_earlier_than_its_parts(
    sessions: sessionmaker[Session],
) -> None:
    sc.the_planner_places_a_waiting_order_no_earlier_than_its_parts(sessions)
