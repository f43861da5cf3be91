"""Every panel, annotation and variable query of every board, run on the real InfluxDB.

A fresh database is seeded with ``dashboards.seed`` (the pipeline's shape, a known story), then
each query is expanded as Grafana would send it and must return rows with values; key panels must
also compute the numbers the story implies.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from chain.cli import app
from dashboards.macros import TimeRange
from dashboards.render import build_all
from dashboards.seed import SeedSummary, seed
from dashboards.verify import (
    BoardQuery,
    InfluxQL,
    QueryResult,
    Source,
    board_queries,
    check_board,
    resolve,
)
from forewarn.contracts.influx_schema import OPEN_WORK_ORDER_STATUSES
from infra.stack.service import StackContext

pytestmark = pytest.mark.integration

BOARDS = build_all()


@pytest.fixture
def seeded(stack: StackContext, influx_database: str) -> tuple[SeedSummary, TimeRange]:
    now = datetime.now(UTC)
    summary = seed(stack.influx, influx_database, now)
    return summary, TimeRange(now - timedelta(hours=6), now + timedelta(minutes=1))


@pytest.fixture
def client(stack: StackContext, influx_database: str) -> Iterator[InfluxQL]:
    with InfluxQL(stack.influx, influx_database) as influx:
        yield influx


def _results(uid: str, client: InfluxQL, time_range: TimeRange) -> dict[str, QueryResult]:
    variables, _ = resolve(BOARDS[uid], client, time_range)
    return {
        f"{r.query.title} {r.query.ref_id}".rstrip(): r
        for r in check_board(BOARDS[uid], client, time_range, variables)
    }


def _value(result: QueryResult) -> Any:
    [series] = result.series
    [row] = series["values"]
    return row[1]


def _by_tag(result: QueryResult, tag: str) -> dict[str, Any]:
    return {s["tags"][tag]: s["values"][-1][1] for s in result.series}


def test_template_variables_resolve_to_the_seeded_values(
    seeded: tuple[SeedSummary, TimeRange], client: InfluxQL
) -> None:
    summary, time_range = seeded
    sites = sorted(summary.fleet.sites)
    for uid in ("forewarn-operations", "forewarn-fleet", "forewarn-service-kpis"):
        _, options = resolve(BOARDS[uid], client, time_range)
        assert options == {"site": sites}, uid

    def first_site(name: str, values: Sequence[str]) -> Sequence[str]:
        return values[:1]

    chosen, options = resolve(BOARDS["forewarn-asset"], client, time_range, first_site)
    assert options["site"] == sites
    assert options["asset"] == sorted(summary.fleet.sites[sites[0]])
    assert chosen["site"].render() == sites[0]
    assert chosen["asset"].render() == sorted(summary.fleet.sites[sites[0]])[0]


@pytest.mark.parametrize("uid", sorted(BOARDS))
def test_every_query_of_the_board_returns_rows(
    uid: str, seeded: tuple[SeedSummary, TimeRange], client: InfluxQL
) -> None:
    _, time_range = seeded
    results = _results(uid, client, time_range)
    assert results, uid
    empty = {label: (r.error, r.sent) for label, r in results.items() if not r.ok}
    assert empty == {}, f"queries with no rows on {uid}: {empty}"


def test_operations_board_counts_the_story(seeded: tuple[SeedSummary, TimeRange], client: InfluxQL) -> None:
    summary, time_range = seeded
    sites = len(summary.fleet.sites)
    r = _results("forewarn-operations", client, time_range)
    # per site: one minor alert still active, one critical acknowledged; plus one stale alert
    assert _value(r["Active, unacknowledged A"]) == sites + 1
    assert _value(r["Acknowledged, in work A"]) == sites
    by_severity = _by_tag(r["Active alerts by severity A"], "severity")
    assert by_severity == {"CRITICAL": 0, "MAJOR": 0, "MINOR": sites, "WARNING": 1}
    # the first site's P1 repair is still in progress, past its one-hour SLA
    assert _value(r["Open work orders A"]) == 1
    assert _value(r["SLA breaches now A"]) == 1
    by_status = _by_tag(r["Open work orders by status A"], "status")
    assert by_status == dict.fromkeys(OPEN_WORK_ORDER_STATUSES, 0) | {"in_progress": 1}
    at_risk = r["Assets with latest risk ≥ 50% A"]
    assert {s["tags"]["asset_id"] for s in at_risk.series} <= {
        asset for assets in summary.fleet.sites.values() for asset in assets[:2]
    }


def test_fleet_board_tells_reporting_from_stale(
    seeded: tuple[SeedSummary, TimeRange], client: InfluxQL
) -> None:
    summary, time_range = seeded
    assets = len(summary.fleet.assets)
    r = _results("forewarn-fleet", client, time_range)
    assert _value(r["Assets seen in the time range A"]) == assets
    assert _value(r["Assets reporting (last 10m) A"]) == assets - 1
    assert _value(r["Stale assets (open stale-data alerts) A"]) == 1
    assert len(r["Latest risk by asset A"].series) == assets


def test_site_variable_narrows_the_fleet(seeded: tuple[SeedSummary, TimeRange], client: InfluxQL) -> None:
    summary, time_range = seeded
    second = sorted(summary.fleet.sites)[1]
    variables, _ = resolve(BOARDS["forewarn-fleet"], client, time_range, lambda _n, _v: [second])
    results = {r.query.title: r for r in check_board(BOARDS["forewarn-fleet"], client, time_range, variables)}
    assert _value(results["Assets seen in the time range"]) == len(summary.fleet.sites[second])
    assert {s["tags"]["site"] for s in results["Mean risk by site"].series} == {second}


def test_reliability_board_separates_model_versions(
    seeded: tuple[SeedSummary, TimeRange], client: InfluxQL
) -> None:
    summary, time_range = seeded
    r = _results("forewarn-reliability", client, time_range)
    assert set(_by_tag(r["False-alarm rate by model version A"], "model_version")) == set(
        summary.model_versions
    )
    predicted = sum(v[1] or 0 for s in r["Predicted vs actual failures A"].series for v in s["values"])
    actual = sum(v[1] or 0 for s in r["Predicted vs actual failures B"].series for v in s["values"])
    sites = len(summary.fleet.sites)
    assert predicted == 2 * sites  # one critical and one minor risk alert per site
    assert actual == sites - 1  # critical repairs completed with a fault (the first site's is open)


def test_an_empty_database_is_reported_not_passed(stack: StackContext, influx_database: str) -> None:
    now = datetime.now(UTC)
    with InfluxQL(stack.influx, influx_database) as influx:
        results = check_board(
            BOARDS["forewarn-pipeline"], influx, TimeRange(now - timedelta(hours=1), now), {}
        )
        assert results
        assert not any(r.ok for r in results)
        bad = BoardQuery("x", Source.PANEL, "broken", "A", 'SELECT last("risk") FROM WHERE $timeFilter')
        doc = {"uid": "x", "panels": [{"title": bad.title, "targets": [{"refId": "A", "query": bad.query}]}]}
        [result] = check_board(doc, influx, TimeRange(now - timedelta(hours=1), now), {})
        assert not result.ok
        assert result.error
        assert "error parsing query" in result.error


def test_cli_verify_passes_on_seeded_data_and_fails_on_an_empty_database(
    stack: StackContext, influx_database: str
) -> None:
    runner = CliRunner()
    empty = runner.invoke(app, ["dashboards", "verify", "--database", influx_database])
    assert empty.exit_code == 1
    seeded = runner.invoke(app, ["dashboards", "seed", "--database", influx_database])
    assert seeded.exit_code == 0, seeded.output
    passed = runner.invoke(app, ["dashboards", "verify", "--database", influx_database])
    assert passed.exit_code == 0, passed.output
    assert "FAIL" not in passed.output
    checked = [row for row in passed.output.splitlines() if row.startswith("ok")]
    assert len(checked) == sum(len(board_queries(doc)) for doc in BOARDS.values())
