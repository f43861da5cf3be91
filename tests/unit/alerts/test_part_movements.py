"""Parts inventory as movements on SQLite: any sequence of movements keeps the balance equal to the
sum of the history (hypothesis), refusals change nothing, concurrent threads never overdraw, the
migration gives existing stock an opening history, the CLI and the API refuse bad input."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from alerts.plan_cli import parts_app
from alerts.store.db import MIGRATIONS_DIR, make_engine, migrate, session_factory, transaction
from alerts.store.tables import PartMovementRow, PartStockRow, WorkOrderPartRow, WorkOrderRow
from alerts.workorders import stock
from alerts.workorders.errors import WorkOrderError
from tests.unit.alerts import stock_scenarios as ss
from tests.unit.alerts.conftest import Api
from tests.unit.alerts.helpers import T0, at


@pytest.fixture(scope="module")
def sessions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('moves') / 'wo.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'wo.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


SKUS = ("BRG", "SEAL")
op = st.one_of(
    st.tuples(st.just("receive"), st.sampled_from(SKUS), st.sampled_from(ss.SITES), st.integers(-2, 6)),
    st.tuples(st.just("reserve"), st.sampled_from(SKUS), st.sampled_from(ss.SITES), st.integers(-1, 5)),
    st.tuples(st.just("unreserve"), st.sampled_from(SKUS), st.sampled_from(ss.SITES), st.integers(-1, 5)),
    st.tuples(st.just("issue"), st.sampled_from(SKUS), st.sampled_from(ss.SITES), st.integers(-1, 5)),
    st.tuples(st.just("return"), st.sampled_from(SKUS), st.sampled_from(ss.SITES), st.integers(-1, 5)),
    st.tuples(st.just("transfer"), st.sampled_from(SKUS), st.sampled_from(ss.SITES), st.integers(-1, 5)),
    st.tuples(st.just("adjust"), st.sampled_from(SKUS), st.sampled_from(ss.SITES), st.integers(-1, 8)),
    st.tuples(st.just("receive"), st.just("UNKNOWN"), st.sampled_from(ss.SITES), st.integers(1, 3)),
)


def _apply(session: Session, name: str, sku: str, site: str, qty: int, wo: int) -> None:
    kw = {"actor": "prop", "now": at(1)}
    other = ss.SITES[1 - ss.SITES.index(site)]
    if name == "receive":
        stock.receive(session, sku, site, qty, **kw)  # type: ignore[arg-type]
    elif name == "reserve":
        stock.reserve(session, sku, site, qty, wo, **kw)  # type: ignore[arg-type]
    elif name == "unreserve":
        stock.unreserve(session, sku, site, qty, wo, **kw)  # type: ignore[arg-type]
    elif name == "issue":
        stock.issue_to_work_order(session, sku, site, qty, wo, **kw)  # type: ignore[arg-type]
    elif name == "return":
        stock.return_from_work_order(session, sku, site, qty, wo, **kw)  # type: ignore[arg-type]
    elif name == "transfer":
        stock.transfer(session, sku, site, other, qty, **kw)  # type: ignore[arg-type]
    else:
        stock.adjust(session, sku, site, qty, reason="count", **kw)  # type: ignore[arg-type]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(op, max_size=25))
def test_any_sequence_keeps_the_books(
    sessions: sessionmaker[Session], ops: list[tuple[str, str, str, int]]
) -> None:
    """After every movement, accepted or refused, the balances equal the sums of the movements; a
    refused one (savepoint rolled back, as a request's transaction would be) wrote nothing."""
    session = sessions()
    tx = session.begin()
    try:
        wo = _order(session)
        for name, sku, site, qty in ops:
            count = session.scalar(select(func.count()).select_from(PartMovementRow))
            snapshot = {
                (r.sku, r.site): (r.on_hand, r.reserved) for r in session.scalars(select(PartStockRow))
            }
            nested = session.begin_nested()
            try:
                _apply(session, name, sku, site, qty, wo)
                nested.commit()
                assert qty > 0 or name == "adjust"
            except WorkOrderError:
                nested.rollback()
                session.expire_all()
                assert session.scalar(select(func.count()).select_from(PartMovementRow)) == count
                after = {
                    (r.sku, r.site): (r.on_hand, r.reserved) for r in session.scalars(select(PartStockRow))
                }
                assert after == snapshot
            ss.assert_books_agree(session)
            assert (
                session.scalar(
                    select(func.count()).select_from(PartStockRow).where(PartStockRow.sku == "UNKNOWN")
                )
                == 0
            )
    finally:
        tx.rollback()
        session.close()


def _order(session: Session) -> int:
    from alerts.workorders import service

    service.set_kit(session, "bearing", {"BRG": 1, "SEAL": 1}, actor="t", now=T0)
    row = WorkOrderRow(
        asset_id="pump-1",
        site="site-1",
        failure_mode="bearing",
        status="approved",
        severity="MINOR",
        priority="P3",
        due_by=at(86_400),
        created_by="t",
        created_at=T0,
        updated_at=T0,
    )
    session.add(row)
    session.flush()
    return row.id


def test_concurrent_movements_never_overdraw(fresh: sessionmaker[Session]) -> None:
    ss.concurrent_movements_never_overdraw(fresh)


def test_concurrent_schedules_reserve_once(fresh: sessionmaker[Session]) -> None:
    ss.concurrent_schedules_reserve_once(fresh)


def test_api_movements_and_refusals(sqlite_api: Api) -> None:
    ss.api_movements_and_refusals(sqlite_api.client, sqlite_api.sessions)


def test_migration_gives_existing_stock_an_opening_history(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "0005")
    with engine.begin() as conn:
        conn.execute(
            insert(PartStockRow),
            [
                {"sku": "BRG", "site": "site-1", "on_hand": 7, "reserved": 3},
                {"sku": "SEAL", "site": "site-1", "on_hand": 0, "reserved": 0},
                {"sku": "BRG", "site": "site-2", "on_hand": 2, "reserved": 1},
            ],
        )
        wo = {
            "asset_id": "pump-1",
            "site": "site-1",
            "failure_mode": "bearing",
            "status": "scheduled",
            "severity": "MINOR",
            "priority": "P3",
            "due_by": T0,
            "created_by": "t",
            "created_at": T0,
            "updated_at": T0,
            "version": 1,
        }
        wo_id = conn.execute(insert(WorkOrderRow).returning(WorkOrderRow.id), wo).scalar_one()
        conn.execute(
            insert(WorkOrderPartRow),
            {"work_order_id": wo_id, "sku": "BRG", "quantity": 2, "reserved_qty": 2, "used_qty": 0},
        )
    migrate(engine)
    sessions = session_factory(engine)
    with transaction(sessions) as session:
        ss.assert_books_agree(session)
        held = session.execute(
            select(PartMovementRow.work_order_id, PartMovementRow.quantity).where(
                PartMovementRow.kind == "reserve"
            )
        ).all()
        assert sorted(held, key=str) == sorted([(wo_id, 2), (None, 1), (None, 1)], key=str)
        # the history goes on from there: the order's reservation can be released
        stock.unreserve(session, "BRG", "site-1", 2, wo_id, actor="t", now=at(5))
        ss.assert_books_agree(session)
    engine.dispose()


def test_cli_moves_stock_and_refuses_bad_input(fresh: sessionmaker[Session]) -> None:
    url = str(fresh.kw["bind"].url)
    runner = CliRunner()

    def run(*args: str) -> tuple[int, str]:
        result = runner.invoke(parts_app, [*args, "--database-url", url, "--by", "stores"])
        return result.exit_code, result.output

    code, out = run("receive", "BRG", "--site", "site-1", "--qty", "4")
    assert code == 2
    assert "unknown SKU 'BRG'" in out
    code, out = run(
        "policy", "set", "BRG", "--site", "site-1", "--lead-time-days", "5", "--reorder-point", "2"
    )
    assert code == 0, out
    assert run("receive", "BRG", "--site", "site-1", "--qty", "-4")[0] == 2
    code, out = run("receive", "BRG", "--site", "site-1", "--qty", "4", "--note", "PO 17")
    assert code == 0, out
    assert "receipt" in out
    assert "4 on hand" in out
    code, out = run("transfer", "BRG", "--from", "site-1", "--to", "site-2", "--qty", "9")
    assert code == 2
    assert "4 of part 'BRG' free" in out
    assert run("transfer", "BRG", "--from", "site-1", "--to", "site-2", "--qty", "1")[0] == 0
    assert run("adjust", "BRG", "--site", "site-2", "--counted", "0", "--reason", "broken in transit")[0] == 0
    code, out = run(
        "policy", "set", "BRG", "--site", "site-1", "--lead-time-days", "-1", "--reorder-point", "2"
    )
    assert code == 2
    assert "lead-time-days" in out
    with transaction(fresh) as session:
        kinds = [m.kind for m in session.scalars(select(PartMovementRow).order_by(PartMovementRow.id))]
        assert kinds == ["receipt", "transfer_out", "transfer_in", "adjust"]
        assert all(m.actor == "stores" for m in session.scalars(select(PartMovementRow)))
        ss.assert_books_agree(session)
        assert stock.balance(session, "BRG", "site-1").on_hand == 3
    result = runner.invoke(parts_app, ["movements", "--sku", "BRG", "--json", "--database-url", url])
    assert result.exit_code == 0
    assert '"transfer_in"' in result.output
    result = runner.invoke(parts_app, ["stock", "--database-url", url])
    assert result.exit_code == 0
    assert "site-1" in result.output
