"""Every board builds, deterministically, with stable uids and a datasource and query on every panel."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from dashboards.influxql import DATASOURCE_TYPE, DATASOURCE_UID
from dashboards.macros import variable_names
from dashboards.registry import BOARDS
from dashboards.render import build_all, dumps, iter_panels
from dashboards.verify import board_queries, variable_specs
from forewarn.contracts.influx_schema import undeclared_names

JSON_DIR = Path(__file__).resolve().parents[3] / "dashboards" / "json"
EXPECTED_UIDS = {
    "forewarn-operations",
    "forewarn-fleet",
    "forewarn-asset",
    "forewarn-reliability",
    "forewarn-service-kpis",
    "forewarn-pipeline",
}
EXPECTED_DATASOURCE = {"type": DATASOURCE_TYPE, "uid": DATASOURCE_UID}


@pytest.fixture(scope="module")
def boards() -> dict[str, dict[str, Any]]:
    return build_all()


def test_every_board_builds_with_its_fixed_uid(boards: dict[str, dict[str, Any]]) -> None:
    assert set(boards) == EXPECTED_UIDS
    assert set(BOARDS) == EXPECTED_UIDS
    for uid, doc in boards.items():
        assert doc["uid"] == uid
        assert doc["title"].startswith("forewarn · ")
        assert doc["id"] is None  # Grafana assigns ids; a fixed one would clash across instances


def test_two_builds_are_byte_identical() -> None:
    first = {uid: dumps(doc) for uid, doc in build_all().items()}
    second = {uid: dumps(doc) for uid, doc in build_all().items()}
    assert first == second


def _assert_sorted(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    assert keys == sorted(keys), f"keys not sorted: {keys}"
    return dict(pairs)


def test_written_json_has_sorted_keys_everywhere(boards: dict[str, dict[str, Any]]) -> None:
    for doc in boards.values():
        json.loads(dumps(doc), object_pairs_hook=_assert_sorted)


def test_committed_json_matches_the_code(boards: dict[str, dict[str, Any]]) -> None:
    """dashboards/json is what `forewarn dashboards build` writes; a stale copy fails here."""
    committed = {path.stem: path.read_text(encoding="utf-8") for path in JSON_DIR.glob("*.json")}
    assert committed == {uid: dumps(doc) for uid, doc in boards.items()}, (
        "run `forewarn dashboards build` and commit dashboards/json"
    )


def test_every_panel_has_the_datasource_and_a_query(boards: dict[str, dict[str, Any]]) -> None:
    for uid, doc in boards.items():
        panels = [p for p in iter_panels(doc) if p["type"] != "row"]
        assert len(panels) >= 5, uid
        for panel in panels:
            where = f"{uid} / {panel['title']}"
            assert panel["datasource"] == EXPECTED_DATASOURCE, where
            assert panel["targets"], where
            ref_ids = [target["refId"] for target in panel["targets"]]
            assert len(ref_ids) == len(set(ref_ids)), where
            for target in panel["targets"]:
                assert target["datasource"] == EXPECTED_DATASOURCE, where
                assert target["rawQuery"] is True, where
                assert target["query"].lstrip().upper().startswith("SELECT "), where
                assert "$timeFilter" in target["query"] or "now()" in target["query"], where


def test_panel_ids_are_unique_and_the_grid_fits(boards: dict[str, dict[str, Any]]) -> None:
    for uid, doc in boards.items():
        ids = [panel["id"] for panel in iter_panels(doc)]
        assert ids == list(range(1, len(ids) + 1)), uid
        for panel in iter_panels(doc):
            grid = panel["gridPos"]
            assert grid["x"] >= 0, (uid, panel["title"])
            assert grid["x"] + grid["w"] <= 24, (uid, panel["title"])


def test_queries_name_only_what_the_influx_schema_declares(boards: dict[str, dict[str, Any]]) -> None:
    for doc in boards.values():
        for query in board_queries(doc):
            assert undeclared_names(query.query) == [], query.label
        for spec in variable_specs(doc):
            assert undeclared_names(spec["query"]) == [], (doc["uid"], spec["name"])


def test_schema_check_catches_a_typo() -> None:
    assert undeclared_names('SELECT last("rul") FROM "risk" WHERE $timeFilter') == ["tag or field 'rul'"]
    assert undeclared_names('SELECT last("risk") FROM "risks"') == [
        "measurement 'risks'",
        "tag or field 'risk'",
    ]


def test_every_variable_a_query_uses_is_defined_on_its_board(boards: dict[str, dict[str, Any]]) -> None:
    for uid, doc in boards.items():
        defined = [spec["name"] for spec in variable_specs(doc)]
        for query in board_queries(doc):
            assert set(variable_names(query.query)) <= set(defined), query.label
        for position, spec in enumerate(variable_specs(doc)):
            # a variable may only use variables declared before it (Grafana resolves in order)
            assert set(variable_names(spec["query"])) <= set(defined[:position]), (uid, spec["name"])


def test_asset_drill_down_has_site_then_asset_and_two_annotations(boards: dict[str, dict[str, Any]]) -> None:
    doc = boards["forewarn-asset"]
    specs = variable_specs(doc)
    assert [spec["name"] for spec in specs] == ["site", "asset"]
    assert all(spec["query"].startswith("SHOW TAG VALUES") for spec in specs)
    assert all(spec["datasource"] == EXPECTED_DATASOURCE for spec in specs)
    names = [annotation["name"] for annotation in doc["annotations"]["list"]]
    assert names == ["Alerts raised", "Model versions"]
    for annotation in doc["annotations"]["list"]:
        assert annotation["datasource"] == EXPECTED_DATASOURCE
        assert annotation["target"]["textColumn"]
        assert annotation["target"]["tagsColumn"]
