"""The macro expander writes queries the way Grafana's InfluxDB datasource does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboards.macros import MacroError, TimeRange, Variable, auto_interval, expand, variable_names

START = datetime(2026, 1, 1, tzinfo=UTC)
SIX_HOURS = TimeRange(START, START + timedelta(hours=6))


def test_time_filter_is_an_epoch_millisecond_range() -> None:
    start_ms = int(START.timestamp() * 1000)
    end_ms = start_ms + 6 * 3600 * 1000
    sent = expand('SELECT last("risk") FROM "risk" WHERE $timeFilter', SIX_HOURS, {})
    expected = f'SELECT last("risk") FROM "risk" WHERE time >= {start_ms}ms and time <= {end_ms}ms'  # noqa: S608
    assert sent == expected


@pytest.mark.parametrize(
    ("span", "points", "expected"),
    [
        (timedelta(hours=6), 1000, "15s"),  # 21.6 s raw → 15s
        (timedelta(hours=1), 1000, "1s"),  # 3.6 s raw → 1s
        (timedelta(days=7), 1000, "10m"),  # 604.8 s raw → 10m
        (timedelta(hours=6), 100, "1m"),  # 216 s raw → 1m
    ],
)
def test_interval_rounds_down_to_a_nice_step(span: timedelta, points: int, expected: str) -> None:
    assert auto_interval(TimeRange(START, START + span), points) == expected
    assert f"time({expected})" in expand(
        "GROUP BY time($__interval)", TimeRange(START, START + span), {}, max_data_points=points
    )


def test_single_value_variable_is_inserted_as_is() -> None:
    sent = expand(
        "WHERE \"site\" = '$site' AND \"asset_id\" = '${asset}'",
        SIX_HOURS,
        {"site": Variable(("site-1",)), "asset": Variable(("engine.01",))},
    )
    assert sent == "WHERE \"site\" = 'site-1' AND \"asset_id\" = 'engine.01'"


def test_multi_value_variable_becomes_an_escaped_alternation() -> None:
    site = Variable(("site-1", "plant.2"), multi=True, include_all=True, all_value=".*")
    assert expand('"site" =~ /^$site$/', SIX_HOURS, {"site": site}) == '"site" =~ /^(site-1|plant\\.2)$/'
    one = Variable(("a/b",), multi=True)
    assert expand('"site" =~ /^[[site]]$/', SIX_HOURS, {"site": one}) == '"site" =~ /^a\\/b$/'


def test_all_selected_uses_the_custom_all_value() -> None:
    site = Variable(("site-1", "site-2"), multi=True, include_all=True, all_value=".*", all_selected=True)
    assert expand('"site" =~ /^$site$/', SIX_HOURS, {"site": site}) == '"site" =~ /^.*$/'


def test_unknown_variable_is_a_clear_error() -> None:
    with pytest.raises(MacroError, match=r"\$asset"):
        expand("WHERE \"asset_id\" = '$asset'", SIX_HOURS, {})


def test_time_range_must_be_aware_and_forward() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        TimeRange(datetime(2026, 1, 1), datetime(2026, 1, 2))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="not after"):
        TimeRange(START, START)


def test_variable_names_skips_grafana_macros() -> None:
    query = (
        "SELECT x FROM y WHERE $timeFilter AND a = '$site' AND b =~ /[[asset]]/ GROUP BY time($__interval)"
    )
    assert variable_names(query) == ["site", "asset"]
