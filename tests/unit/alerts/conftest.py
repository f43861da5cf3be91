"""A work-order API on a fresh SQLite file per test, with a manual clock and an admin user.

The test client sends the admin's API token by default (``Api.admin``); scenarios create other
users with :func:`tests.unit.alerts.api_scenarios.user_auth`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from alerts.api.app import create_app
from alerts.clock import ManualClock
from alerts.identity.roles import Role
from alerts.settings import ApiSettings
from forewarn.settings import load
from tests.unit.alerts.api_scenarios import Auth, user_auth
from tests.unit.alerts.helpers import T0


@dataclass
class Api:
    """A running app: its test client (sending ``admin``), its sessions and its clock."""

    client: TestClient
    sessions: sessionmaker[Session]
    clock: ManualClock
    admin: Auth


def make_api(database_url: str, **settings: Any) -> Api:
    """An app on ``database_url`` (migrated at start) with a manual clock at T0 and user ``admin``."""
    clock = ManualClock(T0)
    app = create_app(load(ApiSettings, database_url=database_url, **settings), clock)
    sessions = app.state.store.sessions
    admin = user_auth(sessions, "admin", Role.ADMIN)
    return Api(TestClient(app, headers=admin), sessions, clock, admin)


@pytest.fixture
def sqlite_api(tmp_path: Path) -> Iterator[Api]:
    """The API on a fresh SQLite database file."""
    api = make_api(f"sqlite:///{tmp_path / 'wo.db'}")
    yield api
    api.client.close()
    api.client.app.state.engine.dispose()  # type: ignore[attr-defined]
