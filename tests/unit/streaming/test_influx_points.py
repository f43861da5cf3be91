"""The scoring job's InfluxDB points, built through the InfluxDB contract."""

from __future__ import annotations

from typing import Any

import orjson
import pandas as pd
import pytest

from forewarn.contracts.influx_schema import BY_NAME, ValueKind, parse_value_field
from ingest.cmapss import SENSOR_COLUMNS, SETTING_COLUMNS
from streaming.sinks import PipelineCounters, TelemetryPoints, risk_lines, telemetry_lines
from streaming.state import make_update
from tests.unit.streaming.test_state import REF, State, engine_rows, serve  # noqa: F401 - a fixture


def parse(point: str) -> tuple[str, dict[str, str], dict[str, str], int]:
    head, fields, ts = point.split(" ")
    measurement, *tag_parts = head.split(",")
    return (
        measurement,
        dict(t.split("=", 1) for t in tag_parts),
        dict(f.split("=", 1) for f in fields.split(",")),
        int(ts),
    )


def test_a_readings_settings_and_sensors_are_told_apart_by_prefix() -> None:
    rows: list[dict[str, Any]] = [
        {"asset_id": "pump-1", "site": "site-1", "ts": 1_767_225_601_500, "seq": 3,
         "settings": orjson.dumps({"load_frac": 0.7}).decode(),
         "sensors": orjson.dumps({"vibration_mm_s": 2.5, "load_frac": 0.1}).decode()},
        {"asset_id": "engine-1", "site": "site-2", "ts": 1_767_225_601_500, "seq": 4, "settings": None,
         "sensors": orjson.dumps({"sensor_1": 518.67}).decode()},
    ]  # fmt: skip
    pump, engine = (parse(p) for p in telemetry_lines(rows, None) if p)
    assert pump == (
        "telemetry",
        {"asset_id": "pump-1", "site": "site-1"},
        {"setting.load_frac": "0.7", "sensor.vibration_mm_s": "2.5", "sensor.load_frac": "0.1", "seq": "3i"},
        1_767_225_601_500,
    )
    assert engine[2] == {"sensor.sensor_1": "518.67", "seq": "4i"}
    assert {parse_value_field(name) for name in pump[2]} == {
        (ValueKind.SETTING, "load_frac"), (ValueKind.SENSOR, "vibration_mm_s"),
        (ValueKind.SENSOR, "load_frac"), None,
    }  # fmt: skip


def test_downsampled_points_are_stamped_with_their_bucket() -> None:
    point = TelemetryPoints(True, 60_000).line("a", "s", 1_767_225_601_500, 1, {}, {"x": 1.0})
    assert point is not None
    assert parse(point)[3] == 1_767_225_600_000


def test_risk_points_carry_the_failure_mode_tag_and_the_seq() -> None:
    row = {"site": "s", "asset_id": "a", "model_name": "m", "model_version": "3", "model_alias": None,
           "failure_mode": None, "risk": 0.25, "rul_cycles": 40.0, "horizon_cycles": 30.0, "seq": 9,
           "event_ts_ms": 1000}  # fmt: skip
    [point] = [p for p in risk_lines([row]) if p]
    measurement, tags, fields, _ = parse(point)
    assert tags == {"site": "s", "asset_id": "a", "model_name": "m", "model_version": "3",
                    "failure_mode": "unspecified"}  # fmt: skip
    assert fields == {"risk": "0.25", "rul_cycles": "40.0", "horizon_cycles": "30.0", "seq": "9i"}
    assert BY_NAME[measurement].undeclared(tags, fields) == []


def test_pipeline_counters_write_dead_letters_per_reason_as_the_gateway_does() -> None:
    counters = PipelineCounters("streaming")
    counters.add(readings_in=10, duplicates=1, readings_out=6, late=1, unscorable=2, not_canonical=0)
    counters.add(readings_in=5, late=1)
    main, *per_reason = (parse(p) for p in counters.lines(1000) if p)
    assert main[1] == {"component": "streaming"}
    assert main[2] == {"readings_in": "15i", "duplicates": "1i", "readings_out": "6i", "dead_letters": "4i"}
    assert [(t["reason"], f["dead_letters"]) for _, t, f, _ in per_reason] == [
        ("late_for_state", "2i"), ("not_canonical", "0i"), ("unscorable", "2i"),
    ]  # fmt: skip
    assert counters.totals["late"] == 2  # the job's own log keeps its names


@pytest.mark.usefixtures("serve")
def test_the_stateful_step_writes_a_point_per_reading_that_parses() -> None:
    """One parse per reading feeds both the features and the points; a reading whose sensors are not
    an object gets no point (it is a dead letter)."""
    readings = engine_rows(4, range(1, 6))
    bad = readings.iloc[[0]].assign(seq=6, ts=6_000, sensors="[1, 2]")
    update = make_update(REF, 0, TelemetryPoints(True))
    frames = update(("engine-4",), iter([pd.concat([readings, bad], ignore_index=True)]), State())
    out = pd.concat(list(frames), ignore_index=True)
    [body] = out.loc[out["kind"] == "telemetry", "payload"]
    points = [parse(p) for p in body.split("\n")]
    assert [(f["seq"], ts) for _, _, f, ts in points] == [(f"{s}i", 1_000 * s) for s in range(1, 6)]
    expected = {f"setting.{c}" for c in SETTING_COLUMNS} | {f"sensor.{c}" for c in SENSOR_COLUMNS} | {"seq"}
    assert all(set(fields) == expected for _, _, fields, _ in points)
    assert 6 in out.loc[out["kind"] == "unscorable", "seq"].tolist()
