"""A work-order API on a fresh SQLite file per test, with a manual clock."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from alerts.api.app import create_app
from alerts.clock import ManualClock
from alerts.settings import ApiSettings
from forewarn.settings import load
from tests.unit.alerts.api_scenarios import TOKEN
from tests.unit.alerts.helpers import T0


@dataclass
class Api:
    """A running app: its test client, its sessions and its clock."""

    client: TestClient
    sessions: sessionmaker[Session]
    clock: ManualClock


def make_api(database_url: str) -> Api:
    """An app on ``database_url`` (migrated at start) with a manual clock at T0."""
    clock = ManualClock(T0)
    app = create_app(load(ApiSettings, database_url=database_url, token=TOKEN), clock)
    return Api(TestClient(app), app.state.store.sessions, clock)


@pytest.fixture
def sqlite_api(tmp_path: Path) -> Iterator[Api]:
    """The API on a fresh SQLite database file."""
    api = make_api(f"sqlite:///{tmp_path / 'wo.db'}")
    yield api
    api.client.close()
    api.client.app.state.engine.dispose()  # type: ignore[attr-defined]
