"""The asset register on a real SQLite file: management, first-sight races, and the gateway's gate."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from forewarn.contracts.dead_letter import GatewayReason
from ingest.asset_gate import AssetGate, RegisterUnavailableError
from ingest.asset_store import AssetError, AssetErrorCode, AssetStore
from ingest.assets import FIRST_SIGHT, Asset, UnknownAssetPolicy
from ingest.contract import ContractPolicy, decode

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ingest' / 'assets.sqlite'}"


@pytest.fixture
def store(url: str) -> Iterator[AssetStore]:
    s = AssetStore(url)
    yield s
    s.close()


def _asset(asset_id: str, site: str = "site-1", parent: str | None = None) -> Asset:
    return Asset(asset_id, site, "pump", parent, T0, "cli:test")


def test_add_show_move_remove(store: AssetStore) -> None:
    store.add(_asset("station-1"))
    store.add(_asset("pump-1", parent="station-1"))
    got = store.get("pump-1")
    assert (got.site, got.asset_type, got.parent_id, got.created_at, got.created_by) == (
        "site-1", "pump", "station-1", T0, "cli:test",
    )  # fmt: skip
    with pytest.raises(AssetError) as taken:
        store.add(_asset("pump-1", "site-2"))
    assert taken.value.code is AssetErrorCode.EXISTS
    with pytest.raises(AssetError) as has_parts:
        store.remove("station-1")
    assert has_parts.value.code is AssetErrorCode.CONFLICT
    with pytest.raises(AssetError) as parent_elsewhere:  # moving keeps the parent unless told: refused
        store.update("pump-1", site="site-2")
    assert parent_elsewhere.value.code is AssetErrorCode.INVALID
    moved = store.update("pump-1", site="site-2", parent_id=None)
    assert (moved.site, moved.parent_id) == ("site-2", None)
    assert store.owners() == {"station-1": "site-1", "pump-1": "site-2"}
    store.remove("pump-1")
    with pytest.raises(AssetError) as gone:
        store.get("pump-1")
    assert gone.value.code is AssetErrorCode.NOT_FOUND
    found, total = store.find(site="site-1")
    assert [a.asset_id for a in found] == ["station-1"]
    assert total == 1


def test_bad_values_are_refused_before_the_database(store: AssetStore) -> None:
    for bad in (
        _asset("a/b"),
        _asset("ok", site=""),
        _asset("ok", parent="ghost"),
        _asset("ok", parent="ok"),
    ):
        with pytest.raises(AssetError) as refused:
            store.add(bad)
        assert refused.value.code is AssetErrorCode.INVALID
    assert store.owners() == {}


def test_ensure_registers_the_missing_and_reports_the_foreign(store: AssetStore) -> None:
    store.add(_asset("pump-2", "site-2"))
    foreign = store.ensure([_asset("pump-1"), _asset("pump-2"), _asset("pump-3")])
    assert [(a.asset_id, a.site) for a in foreign] == [("pump-2", "site-2")]
    assert store.owners() == {"pump-1": "site-1", "pump-2": "site-2", "pump-3": "site-1"}
    assert store.ensure([_asset("pump-1")]) == []  # idempotent


def test_of_two_racing_first_sights_the_database_picks_one_winner(url: str) -> None:
    stores = [AssetStore(url) for _ in range(2)]
    ids = [f"pump-{i}" for i in range(200)]
    results: list[dict[str, str]] = [{}, {}]
    go = threading.Barrier(2)

    def race(k: int) -> None:
        go.wait()
        results[k] = stores[k].claim(dict.fromkeys(ids, f"site-{k + 1}"), T0, FIRST_SIGHT)

    threads = [threading.Thread(target=race, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results[0] == results[1] == stores[0].owners()  # both read back the same winners
    assert set(results[0]) == set(ids)
    assert stores[0].get("pump-0").created_by == FIRST_SIGHT
    for s in stores:
        s.close()


def _message(site: str, asset_id: str, seqs: list[int], bad_first: bool = False) -> tuple[bytes, str]:
    items: list[object] = [{"schema": 1, "asset_id": asset_id, "ts": 1767225600000 + s, "seq": s,
                            "sensors": {"v": 1.0}} for s in seqs]  # fmt: skip
    if bad_first:
        items.insert(0, {"schema": 1})
    body = items[0] if len(items) == 1 else items  # one reading: a JSON object, else an array
    return orjson.dumps(body), f"forewarn/{site}/{asset_id}/telemetry"


def _screen(gate: AssetGate, messages: list[tuple[bytes, str]]) -> list[tuple[int, list[object]]]:
    now = datetime(2026, 1, 1, 0, 1, tzinfo=UTC)
    decoded = [decode(p, t, now, ContractPolicy()) for p, t in messages]
    out = gate.screen(messages, decoded, now)
    return [(len(d.readings), [(x.reason, x.index) for x in d.dead_letters]) for d in out]


def test_the_gate_refuses_a_foreign_asset_per_element_and_registers_first_sights(store: AssetStore) -> None:
    store.add(_asset("pump-1", "site-1"))
    gate = AssetGate(store, UnknownAssetPolicy.REGISTER, refresh_s=30)
    gate.refresh(force=True)
    out = _screen(gate, [
        _message("site-1", "pump-1", [1, 2]),
        _message("site-2", "pump-1", [3, 4], bad_first=True),
        _message("site-2", "pump-9", [1]),
        _message("site-3", "pump-9", [2]),  # same group, later: pump-9 is site-2's by now
    ])  # fmt: skip
    foreign = GatewayReason.FOREIGN_ASSET
    assert out == [
        (2, []),
        (0, [(GatewayReason.MISSING_FIELD, 0), (foreign, 1), (foreign, 2)]),
        (1, []),
        (0, [(foreign, None)]),  # a single object: the whole payload
    ]
    assert store.get("pump-9").site == "site-2"
    assert gate.registered == 1


def test_under_dead_letter_an_unknown_asset_is_refused_until_registered(store: AssetStore) -> None:
    now = [0.0]
    gate = AssetGate(store, UnknownAssetPolicy.DEAD_LETTER, refresh_s=30, monotonic=lambda: now[0])
    gate.refresh(force=True)
    assert _screen(gate, [_message("site-1", "pump-5", [1])]) == [(0, [(GatewayReason.UNKNOWN_ASSET, None)])]
    assert store.owners() == {}  # nothing registered under this policy
    store.add(_asset("pump-6"))  # registered after the gateway loaded its map: found on first sight
    assert _screen(gate, [_message("site-1", "pump-6", [1])]) == [(1, [])]
    store.add(_asset("pump-5"))  # remembered as absent until the next reload
    assert _screen(gate, [_message("site-1", "pump-5", [2])])[0][0] == 0
    now[0] = 31.0
    gate.refresh()
    assert _screen(gate, [_message("site-1", "pump-5", [3])]) == [(1, [])]


def test_a_register_that_does_not_answer_holds_the_messages(store: AssetStore, tmp_path: Path) -> None:
    from sqlalchemy import create_engine

    gate = AssetGate(store, UnknownAssetPolicy.REGISTER, refresh_s=30, retry_s=60)
    gate.refresh(force=True)
    store.engine.dispose()  # a database file in a folder that does not exist cannot be opened
    store.engine = create_engine(f"sqlite:///{tmp_path / 'no-such-folder' / 'assets.sqlite'}")
    with pytest.raises(RegisterUnavailableError):
        _screen(gate, [_message("site-1", "pump-1", [1])])
    with pytest.raises(RegisterUnavailableError, match="waiting to retry"):  # not asked before retry_s
        _screen(gate, [_message("site-1", "pump-1", [1])])
    gate.refresh(force=True)  # a reload that fails keeps the map
    assert gate.owners == {}


def test_the_register_lives_under_the_state_folder_by_default(tmp_path: Path) -> None:
    from forewarn.settings import load
    from ingest.settings import AssetSettings

    default = load(AssetSettings, tmp_path, database_url=None).url(tmp_path)
    assert default == f"sqlite:///{tmp_path / 'ingest' / 'assets.sqlite'}"


def test_a_gateway_without_a_register_does_not_start(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from forewarn.settings import KafkaSettings, MqttSettings
    from ingest.gateway import Gateway, GatewayError
    from ingest.settings import GatewaySettings

    (tmp_path / "file").write_text("not a folder")
    monkeypatch.setenv("FOREWARN_ASSETS_DATABASE_URL", f"sqlite:///{tmp_path / 'file' / 'assets.sqlite'}")
    with pytest.raises(GatewayError, match="asset register sqlite:///"):
        Gateway(GatewaySettings(gateway_id="t", metrics_to_influx=False), MqttSettings(), KafkaSettings(),
                None, tmp_path)  # fmt: skip
