"""The simulator and the C-MAPSS replay name their fleets for the register: every asset they publish,
on the site they publish it from."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from ingest.asset_store import AssetStore
from ingest.assets import Verdict, judge
from ingest.cmapss import read_run
from ingest.fleet import FleetConfig
from ingest.messages import FaultRates
from ingest.replay import ReplayConfig, assets, readings
from ingest.simulate import SimulationRun
from tests.unit.ingest.test_replay import run_file  # noqa: F401 (a fixture)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def test_the_simulators_fleet_is_registered_where_it_publishes(tmp_path: Path) -> None:
    run = SimulationRun(FleetConfig(7, ("site-1", "site-2"), 3, T0, 60.0, 5, 0.5), 2, FaultRates())
    fleet = run.assets(T0)
    assert {(a.asset_type, a.created_by) for a in fleet} == {("pump", "simulator")}
    store = AssetStore(f"sqlite:///{tmp_path / 'assets.sqlite'}")
    assert store.ensure(fleet) == []
    owners = store.owners()
    store.close()
    published = {(m.site, m.asset_id) for m in run.messages()}
    assert len(owners) == 7
    assert {judge(site, asset_id, owners) for site, asset_id in published} == {Verdict.ACCEPT}


def test_the_replays_engines_are_registered_to_its_site(run_file: Path) -> None:  # noqa: F811
    frame = read_run(run_file)
    config = ReplayConfig("FD001", "test", "cmapss", T0, asset_prefix="r1-")
    engines = assets(frame, config, T0)
    owners = {a.asset_id: a.site for a in engines}
    assert {(a.asset_type, a.created_by) for a in engines} == {("turbofan", "replay")}
    assert len(engines) == frame["unit"].nunique()
    assert {judge(site, r["asset_id"], owners) for site, r in readings(frame, config)} == {Verdict.ACCEPT}
