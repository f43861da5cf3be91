"""The InfluxDB contract: points only of declared names, telemetry's settings and sensors apart."""

from __future__ import annotations

import pytest

from forewarn.contracts.influx_schema import (
    PIPELINE,
    RISK,
    SENSOR_FIELD_REGEX,
    TELEMETRY,
    ValueKind,
    parse_value_field,
    telemetry_point,
    undeclared_names,
    value_field,
)


def test_a_point_of_declared_names_is_the_one_line_protocol() -> None:
    point = RISK.point({"site": "s 1", "asset_id": "a", "model_alias": ""}, {"risk": 0.5, "seq": 7}, 1_000)
    assert point == "risk,asset_id=a,site=s\\ 1 risk=0.5,seq=7i 1000"


@pytest.mark.parametrize(
    ("tags", "fields", "named"),
    [
        ({"site": "s", "gateway_id": "g"}, {"risk": 0.5}, "tag 'gateway_id'"),
        ({"site": "s"}, {"risk": 0.5, "rul": 3.0}, "field 'rul'"),
    ],
)
def test_an_undeclared_tag_or_field_is_refused_every_time(
    tags: dict[str, str], fields: dict[str, float], named: str
) -> None:
    for _ in range(2):  # a refused name is not remembered as checked
        with pytest.raises(ValueError, match=f"measurement 'risk' does not declare {named}"):
            RISK.point(tags, fields, 1)


def test_telemetry_fields_are_declared_by_prefix_only() -> None:
    tags = {"site": "s", "asset_id": "a"}
    assert TELEMETRY.point(tags, {"sensor.any_name.with.dots": 1.0, "setting.load": 0.5, "seq": 1}, 1)
    for bad in ("sensor.", "sensor_1", "sensorx", "vibration_mm_s"):
        with pytest.raises(ValueError, match=f"field {bad!r}"):
            TELEMETRY.point(tags, {bad: 1.0}, 1)


def test_a_reading_point_keeps_settings_and_sensors_apart() -> None:
    point = telemetry_point("site-1", "pump-7", 5, 42, {"load": 0.8}, {"load": 3.0, "sensor_1": 518.67})
    assert point == (
        "telemetry,asset_id=pump-7,site=site-1"
        " setting.load=0.8,sensor.load=3.0,sensor.sensor_1=518.67,seq=42i 5"
    )
    # what a line protocol cannot hold is left out, as for every point
    assert (
        telemetry_point("s", "a", 5, 1, {}, {"x": None, "y": float("nan")})
        == "telemetry,asset_id=a,site=s seq=1i 5"
    )


def test_a_field_name_says_which_part_of_the_reading_it_holds() -> None:
    for kind in ValueKind:
        assert parse_value_field(value_field(kind, "a.b")) == (kind, "a.b")
    assert [parse_value_field(name) for name in ("seq", "sensor.", "sensors.x", "sensor_1")] == [None] * 4


def test_boards_may_select_the_sensor_family_by_regex_and_nothing_looser() -> None:
    assert SENSOR_FIELD_REGEX == "/^sensor\\./"
    query = f'SELECT mean({SENSOR_FIELD_REGEX}) FROM "telemetry" WHERE $timeFilter'  # noqa: S608
    assert undeclared_names(query) == []
    assert undeclared_names('SELECT mean(/^sensor_/) FROM "telemetry"') == ["field regex /^sensor_/"]
    assert undeclared_names('SELECT mean(/^sensor/) FROM "telemetry"') == ["field regex /^sensor/"]
    assert undeclared_names('SELECT mean(/^sensor\\./) FROM "risk"') == ["field regex /^sensor\\./"]
    assert undeclared_names('SELECT last("sensor.vibration_mm_s") FROM "telemetry"') == []
    assert undeclared_names('SELECT last("sensor.vibration_mm_s") FROM "risk"') == [
        "tag or field 'sensor.vibration_mm_s'"
    ]


def test_pipeline_declares_what_the_gateway_and_the_scoring_job_count() -> None:
    for name in ("stripped_sensors", "spooled_records", "forwarded_records", "duplicates", "dead_letters"):
        assert PIPELINE.declares_field(name)
    assert not PIPELINE.declares_field("unscorable")  # a dead-letter reason: a `reason` point


def test_names_a_site_invents_do_not_grow_memory_without_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    from forewarn.contracts import influx_schema

    bound = max(len(influx_schema._SENSOR_FIELDS), len(influx_schema.TELEMETRY._accepted)) + 10
    monkeypatch.setattr(influx_schema, "_MAX_REMEMBERED_NAMES", bound)
    for i in range(200):
        point = influx_schema.telemetry_point("s", "a", 1, i, {}, {f"invented_{i}": 1.0})
        assert point is not None
        assert f"sensor.invented_{i}=1.0" in point  # still written, and still checked
    assert len(influx_schema._SENSOR_FIELDS) <= bound
    assert len(influx_schema.TELEMETRY._accepted) <= bound + 2  # the last update passes by one point's names
