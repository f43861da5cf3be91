"""The job's parser agrees with the gateway's canonical encoding and dead-letters the rest."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from forewarn.contracts.dead_letter import FIELD_NAMES, ScoringReason, Stage
from forewarn.contracts.dead_letter import decode as decode_dead_letter
from forewarn.contracts.telemetry import Reading, decode_run, encode_run
from streaming.parse import NOT_CANONICAL, parse_telemetry
from streaming.sinks import state_dead_letters
from streaming.state import canonical_json

pytestmark = [pytest.mark.integration, pytest.mark.spark]


RECEIVED = datetime(2026, 11, 23, 4, 30, 12, 345000, tzinfo=UTC)


def kafka_rows(spark: Any, values: list[bytes]) -> Any:
    rows = [("telemetry", 2, 100 + i, RECEIVED, b"key", value) for i, value in enumerate(values)]
    schema = "topic string, partition int, offset long, timestamp timestamp, key binary, value binary"
    return spark.createDataFrame(rows, schema)


def test_canonical_runs_explode_and_everything_else_is_a_dead_letter(spark: Any) -> None:
    run = [
        Reading("pump-7", "site-1", 1_767_225_600_000 + i, 40 + i, {"load": 0.8}, {"vib_mm_s": 2.0 + i})
        for i in range(3)
    ]
    bad = [
        b"not json",
        b"[]",
        b'{"asset_id": "pump-7"}',
        orjson.dumps([{"schema": 2, "asset_id": "a", "site": "s", "ts": 1, "seq": 1, "sensors": {}}]),
        orjson.dumps([{"schema": 1, "asset_id": "a", "site": "s", "ts": 1, "sensors": {"x": 1.0}}]),
    ]
    readings, dead = parse_telemetry(kafka_rows(spark, [encode_run(run), *bad]))

    got = sorted((r["asset_id"], r["seq"], r["ts"], r["site"]) for r in readings.collect())
    assert got == [("pump-7", r.seq, r.ts_ms, "site-1") for r in run]
    first = readings.orderBy("seq").first()
    assert first is not None
    assert orjson.loads(first["sensors"]) == {"vib_mm_s": 2.0}
    assert orjson.loads(first["settings"]) == {"load": 0.8}

    letters = dead.orderBy("key").collect()
    assert len(letters) == len(bad)
    decoded = [orjson.loads(row["value"]) for row in letters]
    assert {d["payload_b64"] for d in decoded} == {__import__("base64").b64encode(b).decode() for b in bad}
    assert {d["reason"] for d in decoded} == {NOT_CANONICAL}
    assert all(d["source"].startswith("kafka:telemetry/2/") for d in decoded)
    assert all(list(d) == list(FIELD_NAMES) for d in decoded), "the contract's fields, in its order"
    letter = decode_dead_letter(letters[0]["value"].encode())
    assert (letter.stage, letter.reason) == (Stage.SCORING, ScoringReason.NOT_CANONICAL)
    assert letter.payload in bad
    assert letter.received_at == RECEIVED, "the record's Kafka timestamp, whenever the batch runs"


def test_a_late_or_unscorable_reading_is_a_letter_holding_its_canonical_run(spark: Any) -> None:
    """What ``forewarn dlq replay`` revives: the contract decodes the letter, and its payload is a
    canonical run the telemetry contract reads back as the very reading."""
    reading = Reading("pump-7", "site-1", 1_767_225_600_000, 7, {"load": 0.8}, {"vib_mm_s": 2.0})
    payload = canonical_json("pump-7", "site-1", reading.ts_ms, 7, '{"load": 0.8}', '{"vib_mm_s": 2.0}')
    rows = spark.createDataFrame(
        [("unscorable", "pump-7", 7, payload, "FeatureInputError: readings lack ['s2']"),
         ("late", "pump-7", 7, payload, "older than the 30 readings kept")],
        "kind string, asset_id string, seq long, payload string, detail string",
    )  # fmt: skip
    letters = [
        decode_dead_letter(row["value"].encode()) for row in state_dead_letters(rows, "telemetry").collect()
    ]
    assert [(d.stage, d.reason) for d in letters] == [
        (Stage.SCORING, ScoringReason.UNSCORABLE),
        (Stage.SCORING, ScoringReason.LATE_FOR_STATE),
    ]
    assert all(decode_run(d.payload) == [reading] for d in letters)
    assert [d.source for d in letters] == ["kafka:telemetry/asset/pump-7/seq/7"] * 2
    assert [row["key"] for row in state_dead_letters(rows, "telemetry").collect()] == [
        d.source for d in letters
    ]
