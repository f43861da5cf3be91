"""The scoring job's InfluxDB points, built through the InfluxDB contract: ``telemetry`` per reading
that is not a duplicate, ``risk`` per score, ``pipeline`` counters; and InfluxDB's refusals as dead
letters."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import orjson
import pandas as pd
import pytest
from pyspark.sql import Row

from forewarn.contracts import dead_letter
from forewarn.contracts.dead_letter import ScoringReason, Stage
from forewarn.contracts.influx_schema import BY_NAME, ValueKind, parse_value_field
from forewarn.contracts.telemetry import encode_run
from ingest.cmapss import SENSOR_COLUMNS, SETTING_COLUMNS
from streaming import scoring
from streaming.sinks import PipelineCounters, TelemetryPoints, refused_letters, telemetry_lines
from tests.unit.streaming.stepping import REF, Job, Kafka, engine, serve, step_config


def parse(point: str) -> tuple[str, dict[str, str], dict[str, str], int]:
    head, fields, ts = point.split(" ")
    measurement, *tag_parts = head.split(",")
    return (
        measurement,
        dict(t.split("=", 1) for t in tag_parts),
        dict(f.split("=", 1) for f in fields.split(",")),
        int(ts),
    )


def points(out: pd.DataFrame) -> list[tuple[str, dict[str, str], dict[str, str], int]]:
    bodies = out.loc[out["kind"] == "points", "lines"]
    return [parse(line) for body in bodies for line in body.split("\n")]


@pytest.fixture
def served(small_model: Any) -> Iterator[None]:
    serve(small_model)
    yield
    scoring._CACHE.clear()


def test_a_readings_settings_and_sensors_are_told_apart_by_prefix() -> None:
    rows = [
        Row(asset_id="pump-1", site="site-1", ts=1_767_225_601_500, seq=3,
            settings=orjson.dumps({"load_frac": 0.7}).decode(),
            sensors=orjson.dumps({"vibration_mm_s": 2.5, "load_frac": 0.1}).decode()),
        Row(asset_id="engine-1", site="site-2", ts=1_767_225_601_500, seq=4, settings=None,
            sensors=orjson.dumps({"sensor_1": 518.67}).decode()),
    ]  # fmt: skip
    pump, engine_point = (parse(p) for p in telemetry_lines(rows, None) if p)
    assert pump == (
        "telemetry",
        {"asset_id": "pump-1", "site": "site-1"},
        {"setting.load_frac": "0.7", "sensor.vibration_mm_s": "2.5", "sensor.load_frac": "0.1", "seq": "3i"},
        1_767_225_601_500,
    )
    assert engine_point[2] == {"sensor.sensor_1": "518.67", "seq": "4i"}
    assert {parse_value_field(name) for name in pump[2]} == {
        (ValueKind.SETTING, "load_frac"), (ValueKind.SENSOR, "vibration_mm_s"),
        (ValueKind.SENSOR, "load_frac"), None,
    }  # fmt: skip


def test_downsampled_points_are_stamped_with_their_bucket() -> None:
    point = TelemetryPoints(True, 60_000).line("a", "s", 1_767_225_601_500, 1, {}, {"x": 1.0})
    assert point is not None
    assert parse(point)[3] == 1_767_225_600_000


def test_the_step_writes_a_telemetry_point_per_reading_and_a_risk_point_per_score(served: None) -> None:
    """Duplicates get no point (the first copy has one); an unscorable reading does (it is data, only
    not the model's); every point is declared by the InfluxDB schema."""
    readings = engine(4, range(1, 9))
    broken = replace(readings[7], sensors={"sensor_2": 1.0})
    kafka = Kafka()
    job = Job(config=step_config(points=TelemetryPoints(True)))
    out = job.batch(kafka.runs([readings[:4], readings[2:7], [broken]]))
    got = points(out)
    for measurement, tags, fields, _ in got:
        assert BY_NAME[measurement].undeclared(tags, fields) == [], (measurement, tags, fields)
    telemetry = [p for p in got if p[0] == "telemetry"]
    assert [(f["seq"], ts) for _, _, f, ts in telemetry] == [(f"{r.seq}i", r.ts_ms) for r in readings]
    full = {f"setting.{c}" for c in SETTING_COLUMNS} | {f"sensor.{c}" for c in SENSOR_COLUMNS} | {"seq"}
    assert all(set(f) == full for _, _, f, _ in telemetry[:7])
    assert set(telemetry[7][2]) == {f"setting.{c}" for c in SETTING_COLUMNS} | {"sensor.sensor_2", "seq"}
    risk = [p for p in got if p[0] == "risk"]
    records = [orjson.loads(v) for v in out.loc[out["kind"] == "risk", "value"]]
    assert len(risk) == len(records) == 7
    for (_, tags, fields, ts), record in zip(risk, records, strict=True):
        assert tags == {"site": "s1", "asset_id": "engine-4", "model_name": REF.name, "model_version": "1",
                        "model_alias": REF.alias, "failure_mode": "unspecified"}  # fmt: skip
        assert set(fields) == {"risk", "rul_cycles", "horizon_cycles", "seq"}
        assert fields["seq"] == f"{record['seq']}i"
        assert float(fields["risk"]) == record["risk"]
        assert datetime.fromtimestamp(ts / 1000, tz=UTC) == datetime.fromisoformat(record["event_ts"])


def test_points_follow_the_telemetry_setting_and_are_cut_into_rows(served: None) -> None:
    readings = engine(5, range(1, 31))

    def run(points_config: TelemetryPoints, lines_per_row: int = 5000) -> pd.DataFrame:
        config = step_config(points=points_config, lines_per_row=lines_per_row)
        return Job(config=config).batch(Kafka().records([("engine-5", encode_run(readings))]))

    off = points(run(TelemetryPoints(False)))
    assert {p[0] for p in off} == {"risk"}
    hourly = [p for p in points(run(TelemetryPoints(True, 3_600_000))) if p[0] == "telemetry"]
    assert [ts for *_, ts in hourly] == [r.ts_ms - r.ts_ms % 3_600_000 for r in readings]
    cut = run(TelemetryPoints(True), lines_per_row=7)
    bodies = cut.loc[cut["kind"] == "points", "lines"].tolist()
    assert [len(b.split("\n")) for b in bodies] == [7] * 8 + [4]  # 30 telemetry + 30 risk points


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


def test_points_influxdb_refuses_are_dead_letters_the_contract_decodes() -> None:
    now = datetime(2026, 11, 23, 4, 30, tzinfo=UTC)
    refused = [
        {"line": "risk,asset_id=a x=1 1", "error": "field type conflict"},
        {"line": "telemetry x", "error": "bad"},
    ]
    out = refused_letters(refused, now)
    assert [(key, reason) for key, _, reason in out] == [
        ("influxdb:risk", "sink_refused"), ("influxdb:telemetry", "sink_refused"),
    ]  # fmt: skip
    letters = [dead_letter.decode(value) for _, value, _ in out]
    assert [(x.stage, x.reason, x.source) for x in letters] == [
        (Stage.SCORING, ScoringReason.SINK_REFUSED, "influxdb:risk"),
        (Stage.SCORING, ScoringReason.SINK_REFUSED, "influxdb:telemetry"),
    ]
    assert [x.payload for x in letters] == [r["line"].encode() for r in refused]
    assert "field type conflict" in letters[0].detail
    assert letters[0].received_at == now


def test_points_in_bulk_are_each_readings_point_and_fall_back_for_what_bulk_cannot_write() -> None:
    """Readings of two name sets, downsampled: each reading's point as :meth:`TelemetryPoints.line`
    writes it, in order within a name set; a NaN (no canonical reading holds one) takes the general
    point for its name set, which leaves the value out, instead of failing the call."""
    points = TelemetryPoints(True, 60_000)
    site, asset = ["s1", "s1", "s2", "s1"], ["a", "b", "c", "a"]
    ts, seq = [1_767_225_601_500, 1_767_225_602_500, 1_767_225_603_500, 1_767_225_661_500], [1, 1, 1, 2]
    settings = [{"op": 0.5}, {"op": 0.25}, {}, {"op": 0.75}]
    sensors = [{"x": 518.67, "y": 2.5}, {"x": 1.0, "y": -0.5}, {"z": 3.0}, {"x": 7.0, "y": 8.0}]
    got = points.lines(asset, site, ts, seq, settings, sensors)
    each = [points.line(*args) for args in zip(asset, site, ts, seq, settings, sensors, strict=True)]
    assert sorted(got) == sorted(p for p in each if p)
    assert [g for g in got if "asset_id=a" in g] == [each[0], each[3]]  # one asset's order kept
    sensors[1] = {"x": float("nan"), "y": -0.5}
    with_nan = points.lines(asset, site, ts, seq, settings, sensors)
    assert len(with_nan) == 4
    assert parse(next(g for g in with_nan if "asset_id=b" in g))[2] == {
        "setting.op": "0.25", "sensor.y": "-0.5", "seq": "1i",
    }  # fmt: skip
