"""The dead-letter contract: one format for every stage, exact bytes, and format-1 letters still decode."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.contracts import dead_letter
from forewarn.contracts.dead_letter import (
    DLQ_FORMAT_VERSION,
    FIELD_NAMES,
    REASONS,
    DeadLetter,
    GatewayReason,
    ScoringReason,
    Stage,
    decode,
    encode,
)
from forewarn.contracts.risk import RiskRejectReason

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
every_reason = st.sampled_from([(stage, reason) for stage, enum in REASONS.items() for reason in enum])


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200), every_reason, st.none() | st.integers(0, 1000))
def test_every_stage_s_letters_keep_every_byte(
    payload: bytes, reason: tuple[Stage, object], index: int | None
) -> None:
    stage, code = reason
    letter = DeadLetter(stage, code, "why", "somewhere", payload, AT, index)  # type: ignore[arg-type]
    assert decode(encode(letter)) == letter


def test_the_value_has_the_fields_in_order_and_the_headers_reason_and_format() -> None:
    letter = DeadLetter(Stage.GATEWAY, GatewayReason.TOO_OLD, "old", "forewarn/s/a/telemetry", b"{}", AT)
    value = orjson.loads(encode(letter))
    assert list(value) == list(FIELD_NAMES)
    assert (value["format"], value["stage"], value["received_at"]) == (
        2,
        "gateway",
        "2026-03-01T12:00:00.000+00:00",
    )
    assert dead_letter.headers(letter, ("gateway_id", b"gw")) == [
        ("reason", b"too_old"),
        ("format", str(DLQ_FORMAT_VERSION).encode()),
        ("gateway_id", b"gw"),
    ]


def _format_1(reason: str, source: str, payload: bytes = b"x") -> bytes:
    """A letter as every producer wrote it before ``stage`` existed (the gateway's, Spark's, the engine's)."""
    return orjson.dumps(
        {"format": 1, "reason": reason, "detail": "d", "source": source,
         "received_at": "2026-03-01T12:00:00.000Z", "index": None,
         "payload_b64": base64.b64encode(payload).decode()}
    )  # fmt: skip


@pytest.mark.parametrize(
    ("reason", "source", "stage", "code"),
    [
        ("too_old", "forewarn/site-1/pump-7/telemetry", Stage.GATEWAY, GatewayReason.TOO_OLD),
        ("unknown_schema", "forewarn/site-1/pump-7/telemetry", Stage.GATEWAY, GatewayReason.UNKNOWN_SCHEMA),
        ("not_canonical", "kafka:telemetry/2@100", Stage.SCORING, ScoringReason.NOT_CANONICAL),
        ("unscorable", "kafka:telemetry/-1@7", Stage.SCORING, ScoringReason.UNSCORABLE),
        ("late_for_state", "kafka:telemetry/-1@7", Stage.SCORING, ScoringReason.LATE_FOR_STATE),
        ("unknown_schema", "kafka:risk/0/3", Stage.ALERTS, RiskRejectReason.UNKNOWN_SCHEMA),
        ("not_json", "kafka:risk/0/3", Stage.ALERTS, RiskRejectReason.NOT_JSON),
    ],
)
def test_a_format_1_letter_decodes_with_its_stage_inferred(
    reason: str, source: str, stage: Stage, code: object
) -> None:
    letter = decode(_format_1(reason, source, b"\x00raw"))
    assert (letter.stage, letter.reason, letter.source, letter.payload) == (stage, code, source, b"\x00raw")
    assert letter.received_at == AT


@pytest.mark.parametrize(
    "value",
    [
        b"",
        b"{}",
        b'{"reason": "nope"}',
        _format_1("no_such_reason", "forewarn/s/a/telemetry"),
        _format_1("not_json", "forewarn/s/a/telemetry"),  # a risk reason from an MQTT topic
        orjson.dumps({**orjson.loads(_format_1("too_old", "t")), "format": 3}),
        orjson.dumps({**orjson.loads(_format_1("too_old", "t")), "format": 2, "stage": "scoring"}),
        orjson.dumps({**orjson.loads(_format_1("too_old", "t")), "received_at": "2026-03-01T12:00:00"}),
    ],
)
def test_what_is_not_a_dead_letter_is_refused(value: bytes) -> None:
    with pytest.raises(ValueError, match="not a dead-letter record"):
        decode(value)


def test_sources_name_a_record_or_one_reading_of_a_run() -> None:
    from forewarn.contracts.dead_letter import kafka_source, reading_source

    assert kafka_source("risk", 2, 17) == "kafka:risk/2/17"
    assert reading_source("telemetry", "pump-7", 42) == "kafka:telemetry/asset/pump-7/seq/42"


def test_a_kafka_source_reads_back() -> None:
    from forewarn.contracts.dead_letter import kafka_source, parse_kafka_source

    assert parse_kafka_source(kafka_source("run-1.telemetry.dlq", 2, 17)) == ("run-1.telemetry.dlq", 2, 17)
    for bad in ("kafka:telemetry/asset/pump-7/seq/42", "kafka:risk/2", "risk/2/17", "kafka:risk/-1/3", ""):
        with pytest.raises(ValueError, match="is not kafka:<topic>/<partition>/<offset>"):
            parse_kafka_source(bad)
