"""The demo catalogue: valid, covers the simulated fleet, seeds idempotently and serves real work orders."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from alerts.catalog import DEFAULT_CATALOG, CatalogError, load_catalog, seed
from alerts.cli import alerts_app
from alerts.store.db import make_engine, migrate, session_factory, transaction
from alerts.store.tables import AuditRow, PartStockRow, TechnicianRow
from alerts.workorders import service
from alerts.workorders.service import NewWorkOrder
from forewarn.contracts.alert import Severity
from forewarn.contracts.risk import UNSPECIFIED_FAILURE_MODE
from ingest.fleet import FailureMode
from tests.unit.alerts.helpers import at

SITES = ["site-a", "site-b"]


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'wo.db'}")
    migrate(engine)
    yield session_factory(engine)
    engine.dispose()


def test_default_catalogue_covers_every_simulated_failure_mode() -> None:
    catalog = load_catalog()
    modes = {m.value for m in FailureMode} | {UNSPECIFIED_FAILURE_MODE}
    assert set(catalog.kits) == modes
    for mode in modes:
        # someone at every site can repair it without travelling
        assert any(mode in t.skills for t in catalog.technicians), mode
    stocked = {p.sku: p.stock_per_site for p in catalog.parts}
    for mode, kit in catalog.kits.items():
        assert all(stocked[sku] >= qty for sku, qty in kit.items()), mode  # one repair per site possible


def test_seed_twice_changes_nothing_and_keeps_used_stock(sessions: sessionmaker[Session]) -> None:
    catalog = load_catalog()
    with transaction(sessions) as s:
        first = seed(s, catalog, SITES, actor="seed", now=at(0))
    assert first.technicians_added == len(catalog.technicians) * len(SITES)
    assert first.stock_added == len(catalog.parts) * len(SITES)
    assert first.kits_set == len(catalog.kits)
    with transaction(sessions) as s:
        stock = s.get(PartStockRow, ("BRG-6309-2RS", "site-a"))
        assert stock is not None
        stock.on_hand = 1  # parts used since the first seed
        audits = s.scalar(select(func.count()).select_from(AuditRow))
    with transaction(sessions) as s:
        again = seed(s, catalog, SITES, actor="seed", now=at(60))
    assert (again.technicians_added, again.kits_set, again.stock_added) == (0, 0, 0)
    assert again.technicians_existing == first.technicians_added
    assert again.kits_unchanged == len(catalog.kits)
    with transaction(sessions) as s:
        assert s.get(PartStockRow, ("BRG-6309-2RS", "site-a")).on_hand == 1  # type: ignore[union-attr]
        assert s.scalar(select(func.count()).select_from(AuditRow)) == audits  # nothing was changed
        specialists = s.scalars(select(TechnicianRow).where(TechnicianRow.name.like("Rotating%"))).all()
        assert {(t.site, tuple(t.territory)) for t in specialists} == {
            ("site-a", ("site-b",)),
            ("site-b", ("site-a",)),
        }


@pytest.mark.parametrize("mode", [m.value for m in FailureMode] + [UNSPECIFIED_FAILURE_MODE])
def test_seeded_store_staffs_and_equips_a_work_order(sessions: sessionmaker[Session], mode: str) -> None:
    with transaction(sessions) as s:
        seed(s, load_catalog(), SITES, actor="seed", now=at(0))
    with transaction(sessions) as s:
        order, _ = service.open_work_order(
            s, NewWorkOrder("pump-3", "site-b", mode, Severity.MAJOR), actor="engine", now=at(1)
        )
        ranked = service.suggestions(s, order.id)
        best = s.get(TechnicianRow, ranked[0].technician_id)
        assert best is not None
        assert (best.site, mode in best.skills) == ("site-b", True)
        service.approve(s, order.id, actor="sup", now=at(2))
        scheduled = service.schedule(s, order.id, actor="sup", now=at(3))
        assert scheduled.status == "scheduled"  # the whole kit is in stock at site-b
        lines = service.part_lines(s, order.id)
        assert lines
        assert all(line.reserved_qty == line.quantity for line in lines)


def test_bad_catalogue_is_refused_naming_the_problem(tmp_path: Path) -> None:
    bad = tmp_path / "catalog.toml"
    bad.write_text('[[parts]]\nsku = "A"\nstock_per_site = 1\n[kits]\nbearing_wear = { "B" = 1 }\n')
    with pytest.raises(CatalogError, match=r"kits\.bearing_wear names parts not in"):
        load_catalog(bad)
    result = CliRunner().invoke(alerts_app, ["seed", "--site", "x", "--catalog", str(bad)])
    assert result.exit_code == 2
    assert "names parts not in" in result.output


def test_seed_command_prints_what_it_did(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOREWARN_ALERTS_DATABASE_URL", f"sqlite:///{tmp_path / 'new' / 'wo.db'}")
    args = ["seed", "--site", "site-a", "--site", "site-b", "--catalog", str(DEFAULT_CATALOG)]
    first = CliRunner().invoke(alerts_app, args)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["stock_added"] == 24
    second = CliRunner().invoke(alerts_app, args)
    assert json.loads(second.stdout)["stock_added"] == 0
