"""The seeder writes the schema's shape, deterministically, and tells the documented story."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from dashboards.seed import SENSORS, SETTINGS, Fleet, seed_lines
from forewarn.contracts.influx_schema import BY_NAME, SENSOR_PREFIX, SETTING_PREFIX

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
_LINE = re.compile(r"^(\w+)((?:,\w+=[^ ,]+)*) (\S.*) (\d+)$")
NOW_MS = int(NOW.timestamp() * 1000)


def _parse(text: str) -> tuple[str, dict[str, str], dict[str, str], int]:
    match = _LINE.match(text)
    assert match, text
    name, tags, fields, ts = match.groups()
    tag_map = dict(pair.split("=", 1) for pair in tags.split(",")[1:]) if tags else {}
    field_map = dict(pair.split("=", 1) for pair in re.split(r",(?=[\w.]+=)", fields))
    return name, tag_map, field_map, int(ts)


def test_same_inputs_same_lines() -> None:
    assert seed_lines(NOW)[0] == seed_lines(NOW)[0]
    assert seed_lines(NOW)[0] != seed_lines(NOW, seed=8)[0]


def test_every_line_uses_only_declared_measurements_tags_and_fields() -> None:
    lines, summary = seed_lines(NOW)
    assert set(summary.measurements) == set(BY_NAME)
    for text in lines:
        name, tags, fields, ts = _parse(text)
        spec = BY_NAME[name]
        assert spec.undeclared(tags, fields) == [], text
        assert summary.start.timestamp() * 1000 <= ts <= NOW_MS, text  # milliseconds, as the producers


def test_telemetry_keeps_settings_and_sensors_apart_by_prefix() -> None:
    lines, _ = seed_lines(NOW, Fleet.small(sites=1, assets_per_site=1))
    _, tags, fields, _ = _parse(next(text for text in lines if text.startswith("telemetry,")))
    assert set(tags) == {"site", "asset_id"}
    values = {SENSOR_PREFIX + n for n in SENSORS} | {SETTING_PREFIX + n for n in SETTINGS}
    assert set(fields) == values | {"seq"}
    assert fields["seq"] == "1i"


def test_the_stale_asset_goes_silent_forty_minutes_before_now() -> None:
    lines, summary = seed_lines(NOW)
    site, asset = summary.stale_asset
    cutoff_ms = int((NOW - timedelta(minutes=40)).timestamp() * 1000)
    risk_times = [
        _parse(text)[3] for text in lines if text.startswith("risk,") and f"asset_id={asset}," in text
    ]
    assert risk_times
    assert max(risk_times) < cutoff_ms
    stale = [text for text in lines if text.startswith("alerts,") and "kind=stale" in text]
    assert len(stale) == 1
    assert f"site={site}" in stale[0]


def test_story_one_critical_and_one_false_alarm_per_site() -> None:
    lines, summary = seed_lines(NOW, Fleet.small(sites=2, assets_per_site=3))
    raised = [
        _parse(t) for t in lines if t.startswith("alerts,") and "change=raised" in t and "kind=risk" in t
    ]
    assert sorted(tags["severity"] for _, tags, _, _ in raised) == ["CRITICAL", "CRITICAL", "MINOR", "MINOR"]
    completed = [_parse(t) for t in lines if t.startswith("work_orders,") and "status=completed" in t]
    assert sorted(fields["fault_found"] for _, _, fields, _ in completed) == ["0i", "0i", "1i"]
    assert summary.fleet.sites["site-1"] == ("site-1-engine-01", "site-1-engine-02", "site-1-engine-03")


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        seed_lines(datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
