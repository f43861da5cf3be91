"""The demo catalogue: valid, covers the simulated fleet, seeds idempotently and serves real work orders."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from alerts.catalog import DEFAULT_CATALOG, CatalogError, load_catalog, seed
from alerts.cli import alerts_app
from alerts.store.db import make_engine, migrate, session_factory, transaction
from alerts.store.tables import AuditRow, PartPolicyRow, PartStockRow, TechnicianRow
from alerts.workorders import service
from alerts.workorders.part_policy import set_policy
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


def test_default_catalogue_gives_every_part_a_lead_time() -> None:
    parts = {p.sku: p for p in load_catalog().parts}
    assert all(p.lead_time_days is not None and p.reorder_point is not None for p in parts.values())
    assert (parts["BRG-6309-2RS"].lead_time_days, parts["IMP-CF-200"].lead_time_days) == (7, 28)


def test_seed_gives_each_site_part_policies_once_and_never_overwrites_one(
    sessions: sessionmaker[Session],
) -> None:
    catalog = load_catalog()
    with transaction(sessions) as s:
        first = seed(s, catalog, SITES, actor="seed", now=at(0))
    assert (first.policies_added, first.policies_existing) == (len(catalog.parts) * len(SITES), 0)
    with transaction(sessions) as s:
        bearing = s.get_one(PartPolicyRow, ("BRG-6309-2RS", "site-a"))
        assert (bearing.lead_time_days, bearing.reorder_point, bearing.reorder_qty) == (7.0, 2, None)
        # a new supplier since: the admin's policy must survive the next seed
        set_policy(s, "IMP-CF-200", "site-a", lead_time_days=35, reorder_point=1, actor="admin", now=at(30))
    with transaction(sessions) as s:
        again = seed(s, catalog, [*SITES, "site-c"], actor="seed", now=at(60))
    assert (again.policies_added, again.policies_existing) == (len(catalog.parts), len(catalog.parts) * 2)
    with transaction(sessions) as s:
        assert s.get_one(PartPolicyRow, ("IMP-CF-200", "site-a")).lead_time_days == 35.0
        assert s.get_one(PartPolicyRow, ("IMP-CF-200", "site-c")).lead_time_days == 28.0
        seeded = s.scalar(
            select(func.count())
            .select_from(AuditRow)
            .where(AuditRow.action == "set_policy", AuditRow.actor == "seed")
        )
        assert seeded == len(catalog.parts) * 3  # each seeded policy audited once


def test_a_seeded_order_short_of_the_impeller_expects_it_after_its_lead_time(
    sessions: sessionmaker[Session],
) -> None:
    with transaction(sessions) as s:
        seed(s, load_catalog(), SITES, actor="seed", now=at(0))
        service.set_stock(s, "IMP-CF-200", "site-a", 0, actor="storekeeper", now=at(1))
        service.set_stock(s, "WRG-FRONT-200", "site-a", 0, actor="storekeeper", now=at(1))
    with transaction(sessions) as s:
        order, _ = service.open_work_order(
            s, NewWorkOrder("pump-1", "site-a", "cavitation", Severity.MAJOR), actor="engine", now=at(2)
        )
        service.approve(s, order.id, actor="sup", now=at(2))
        waiting = service.schedule(s, order.id, actor="sup", now=at(3))
        assert waiting.status == "waiting_parts"
        # short of the impeller (28 d) and the wear ring (14 d): the kit is whole when the impeller comes
        assert waiting.parts_available_at == at(3) + timedelta(days=28)


def test_a_reorder_point_without_a_lead_time_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "catalog.toml"
    bad.write_text('[[parts]]\nsku = "A"\nstock_per_site = 1\nreorder_point = 2\n')
    with pytest.raises(CatalogError, match="a reorder_point needs a lead_time_days"):
        load_catalog(bad)
    bad.write_text('[[parts]]\nsku = "A"\nstock_per_site = 1\nlead_time_days = -1\n')
    with pytest.raises(CatalogError, match="lead_time_days"):
        load_catalog(bad)
