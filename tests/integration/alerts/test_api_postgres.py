"""The work-order API and store on a real PostgreSQL 15 cluster: the same scenarios as on SQLite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from alerts.identity.roles import Role
from alerts.identity.users import IdentityError, add_user
from alerts.store.db import transaction
from alerts.store.tables import Base
from tests.unit.alerts import api_scenarios as sc
from tests.unit.alerts.conftest import Api, make_api
from tests.unit.alerts.helpers import T0

pytestmark = pytest.mark.integration


@pytest.fixture
def pg_api(postgres_url: str) -> Iterator[Api]:
    api = make_api(postgres_url)
    yield api
    api.client.close()
    api.client.app.state.engine.dispose()  # type: ignore[attr-defined]


def test_migrations_create_partial_unique_indexes(pg_api: Api) -> None:
    engine = pg_api.client.app.state.engine  # type: ignore[attr-defined]
    indexes = {ix["name"]: ix for ix in inspect(engine).get_indexes("work_orders")}
    assert indexes["uq_work_orders_open_key"]["unique"]
    assert "status" in str(indexes["uq_work_orders_open_key"]["dialect_options"]["postgresql_where"])


def test_migrations_build_exactly_the_tables(pg_api: Api) -> None:
    engine = pg_api.client.app.state.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []


def test_users_and_tokens_on_postgres(pg_api: Api) -> None:
    viewer = sc.user_auth(pg_api.sessions, "vic", Role.VIEWER)
    assert pg_api.client.get("/kpis", headers=viewer).status_code == 200
    refused = pg_api.client.put("/parts/stock", json={}, headers=viewer)
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    with pytest.raises(IdentityError), transaction(pg_api.sessions) as session:
        add_user(session, "vic", Role.ADMIN, sc.PASSWORD, actor="t", now=T0)  # the name is unique


def test_full_lifecycle(pg_api: Api) -> None:
    sc.full_lifecycle(pg_api.client, pg_api.sessions, pg_api.clock)


def test_completion_records_when_the_fault_happened(pg_api: Api) -> None:
    sc.failure_time_at_completion(pg_api.client, pg_api.sessions, pg_api.clock)


def test_illegal_transitions_answer_409(pg_api: Api) -> None:
    sc.illegal_transitions_answer_409(pg_api.client, pg_api.sessions)


def test_waiting_parts_then_scheduled(pg_api: Api) -> None:
    sc.waiting_parts_then_scheduled(pg_api.client, pg_api.sessions)


def test_concurrent_duplicates_open_one_work_order(pg_api: Api) -> None:
    sc.concurrent_duplicates_open_one(pg_api.sessions, threads=8, rounds=5)


def test_concurrent_duplicate_requests_through_the_api(pg_api: Api) -> None:
    body = {"asset_id": "pump-9", "site": "site-1", "failure_mode": "seal", "severity": "MAJOR"}
    responses = sc.run_in_threads(lambda _i: pg_api.client.post("/work-orders", json=body), 8)
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] * 7 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
