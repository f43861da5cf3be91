"""The asset register's rules (pure): verdicts, first-sight claims, names and the hierarchy."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from ingest.assets import (
    Asset,
    Verdict,
    first_sight,
    judge,
    judge_all,
    name_error,
    parent_error,
    type_error,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)
sites = st.sampled_from(["site-1", "site-2", "site-3"])
asset_ids = st.sampled_from([f"pump-{i}" for i in range(8)])
pairs = st.lists(st.tuples(sites, asset_ids), max_size=40)
owner_maps = st.dictionaries(asset_ids, sites, max_size=8)


@given(pairs, owner_maps)
def test_a_verdict_says_whether_the_register_names_the_publisher(
    batch: list[tuple[str, str]], owners: dict[str, str]
) -> None:
    for (site, asset_id), verdict in zip(batch, judge_all(batch, owners), strict=True):
        if asset_id not in owners:
            assert verdict is Verdict.UNKNOWN
        elif owners[asset_id] == site:
            assert verdict is Verdict.ACCEPT
        else:
            assert verdict is Verdict.FOREIGN


@given(pairs, owner_maps)
def test_first_sight_claims_each_unknown_asset_once_for_its_first_publisher(
    batch: list[tuple[str, str]], owners: dict[str, str]
) -> None:
    claims = first_sight(batch, owners)
    unknown = {a for _, a in batch if a not in owners}
    assert claims.keys() == unknown
    for asset_id, site in claims.items():
        assert next(s for s, a in batch if a == asset_id) == site
    # once claimed, nothing in the batch is unknown, and each asset has exactly one site
    merged = owners | claims
    assert Verdict.UNKNOWN not in judge_all(batch, merged)
    for site, asset_id in batch:
        assert (judge(site, asset_id, merged) is Verdict.ACCEPT) == (merged[asset_id] == site)


def test_a_known_asset_is_never_claimed_again() -> None:
    assert first_sight([("site-2", "pump-1")], {"pump-1": "site-1"}) == {}


def test_names_follow_the_telemetry_contract_and_topic_levels() -> None:
    assert name_error("asset id", "pump-7") is None
    assert name_error("asset id", "") is not None
    assert name_error("asset id", "a/b") is not None
    assert name_error("site", "+") is not None
    assert name_error("site", "$SYS") is not None
    assert name_error("asset id", "x" * 129) is not None
    assert name_error("asset id", "tab\there") is not None
    assert type_error(None) is None
    assert type_error("pump") is None
    assert type_error("") is not None
    assert type_error("x" * 65) is not None


def _asset(asset_id: str, site: str, parent: str | None = None) -> Asset:
    return Asset(asset_id, site, "pump", parent, T0, "test")


def test_a_parent_must_exist_on_the_same_site_without_a_cycle() -> None:
    register = {
        "station": _asset("station", "site-1"),
        "pump": _asset("pump", "site-1", "station"),
        "other": _asset("other", "site-2"),
    }
    assert parent_error("motor", "site-1", "pump", register) is None
    assert parent_error("motor", "site-1", None, register) is None
    assert "not registered" in (parent_error("motor", "site-1", "ghost", register) or "")
    assert "belongs to site 'site-2'" in (parent_error("motor", "site-1", "other", register) or "")
    assert "cycle" in (parent_error("station", "site-1", "pump", register) or "")
    assert "cycle" in (parent_error("pump", "site-1", "pump", register) or "")
