"""The telemetry contract: every rule, and that no input makes decode raise."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.contracts.dead_letter import GatewayReason, Reason, Stage
from ingest.contract import (
    ContractPolicy,
    Decoded,
    UnknownSensorPolicy,
    decode,
    parse_topic,
    telemetry_topic,
)

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
NOW_MS = int(NOW.timestamp() * 1000)
TOPIC = "forewarn/site-1/pump-7/telemetry"
POLICY = ContractPolicy(max_payload_bytes=4096, max_age_s=3600, max_future_skew_s=60)


def reading(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "schema": 1,
        "asset_id": "pump-7",
        "ts": NOW_MS - 1000,
        "seq": 3,
        "settings": {"load": 0.5},
        "sensors": {"vibration_mm_s": 2.5, "bearing_temp_c": 61},
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not _DROP}


_DROP = object()


def run(payload: Any, topic: str = TOPIC, policy: ContractPolicy = POLICY) -> Decoded:
    raw = payload if isinstance(payload, bytes) else orjson.dumps(payload)
    return decode(raw, topic, NOW, policy)


def only_reason(result: Decoded) -> Reason:
    assert not result.readings
    assert len(result.dead_letters) == 1
    assert result.dead_letters[0].stage is Stage.GATEWAY
    return result.dead_letters[0].reason


def test_a_valid_reading_becomes_a_canonical_reading() -> None:
    result = run(reading())
    assert result.dead_letters == []
    (r,) = result.readings
    assert (r.asset_id, r.site, r.ts_ms, r.seq) == ("pump-7", "site-1", NOW_MS - 1000, 3)
    assert r.sensors == {"vibration_mm_s": 2.5, "bearing_temp_c": 61.0}
    assert isinstance(r.sensors["bearing_temp_c"], float)
    assert r.settings == {"load": 0.5}
    assert r.ts == NOW - timedelta(seconds=1)


@pytest.mark.parametrize(
    ("ts", "expected_ms"),
    [
        ("2026-03-01T11:59:00Z", NOW_MS - 60_000),
        ("2026-03-01T11:59:00.250Z", NOW_MS - 59_750),
        ("2026-03-01T12:59:00+01:00", NOW_MS - 60_000),
        ("2026-03-01 11:59:00+00:00", NOW_MS - 60_000),
        (NOW_MS - 5, NOW_MS - 5),
    ],
)
def test_timestamps_in_rfc3339_or_epoch_ms_become_utc_ms(ts: Any, expected_ms: int) -> None:
    (r,) = run(reading(ts=ts)).readings
    assert r.ts_ms == expected_ms


def test_settings_may_be_omitted() -> None:
    (r,) = run(reading(settings=_DROP)).readings
    assert r.settings == {}


def test_an_array_keeps_payload_order_and_rejects_only_bad_elements() -> None:
    batch = [reading(seq=1), reading(seq=2, sensors={"x": "hot"}), reading(seq=3), 7]
    result = run(batch)
    assert [r.seq for r in result.readings] == [1, 3]
    assert [(d.reason, d.index) for d in result.dead_letters] == [
        (GatewayReason.WRONG_TYPE, 1),
        (GatewayReason.NOT_A_READING, 3),
    ]
    assert all(d.payload == orjson.dumps(batch) for d in result.dead_letters)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{not json", GatewayReason.MALFORMED_JSON),
        (b"\xff\xfe\x00", GatewayReason.NOT_UTF8),
        (b"", GatewayReason.MALFORMED_JSON),
        (b'{"schema": 1, "sensors": {"x": NaN}}', GatewayReason.NON_FINITE),
        (b'{"schema": 1, "sensors": {"x": -Infinity}}', GatewayReason.NON_FINITE),
        (b'{"schema": 1, "sensors": {"x": 1e400}}', GatewayReason.NON_FINITE),
        (b"[]", GatewayReason.EMPTY_BATCH),
        (b'"a string"', GatewayReason.NOT_A_READING),
        (b"null", GatewayReason.NOT_A_READING),
        (reading(schema=_DROP), GatewayReason.MISSING_FIELD),
        (reading(asset_id=_DROP), GatewayReason.MISSING_FIELD),
        (reading(ts=_DROP), GatewayReason.MISSING_FIELD),
        (reading(seq=_DROP), GatewayReason.MISSING_FIELD),
        (reading(sensors=_DROP), GatewayReason.MISSING_FIELD),
        (reading(sensors={}), GatewayReason.MISSING_FIELD),
        (reading(schema="1"), GatewayReason.WRONG_TYPE),
        (reading(schema=True), GatewayReason.WRONG_TYPE),
        (reading(schema=2), GatewayReason.UNKNOWN_SCHEMA),
        (reading(schema=0), GatewayReason.UNKNOWN_SCHEMA),
        (reading(asset_id=7), GatewayReason.WRONG_TYPE),
        (reading(asset_id="pump-8"), GatewayReason.ASSET_MISMATCH),
        (reading(seq=-1), GatewayReason.WRONG_TYPE),
        (reading(seq=1.5), GatewayReason.WRONG_TYPE),
        (reading(seq=False), GatewayReason.WRONG_TYPE),
        (reading(seq=2**64 - 1), GatewayReason.WRONG_TYPE),
        (reading(sensors=[1, 2]), GatewayReason.WRONG_TYPE),
        (reading(sensors={"x": None}), GatewayReason.WRONG_TYPE),
        (reading(sensors={"x": True}), GatewayReason.WRONG_TYPE),
        (reading(sensors={"": 1.0}), GatewayReason.BAD_NAME),
        (reading(sensors={"a\nb": 1.0}), GatewayReason.BAD_NAME),
        (reading(sensors={"x" * 129: 1.0}), GatewayReason.BAD_NAME),
        (reading(settings={"load\\": 1.0}), GatewayReason.BAD_NAME),
        (reading(settings={"load\u2028": 1.0}), GatewayReason.BAD_NAME),
        (b'{"schema": 1, "sensors": {"x": 1' + b"0" * 400 + b"}}", GatewayReason.NON_FINITE),
        (reading(settings={"load": "high"}), GatewayReason.WRONG_TYPE),
        (reading(settings=None), GatewayReason.WRONG_TYPE),
        (reading(extra=1), GatewayReason.UNKNOWN_FIELD),
        (reading(ts="yesterday"), GatewayReason.BAD_TIMESTAMP),
        (reading(ts="2026-03-01"), GatewayReason.BAD_TIMESTAMP),
        (reading(ts="2026-03-01T11:59:00"), GatewayReason.BAD_TIMESTAMP),
        (reading(ts="2026-13-01T11:59:00Z"), GatewayReason.BAD_TIMESTAMP),
        (reading(ts=1.5e12), GatewayReason.BAD_TIMESTAMP),
        (reading(ts=-1), GatewayReason.BAD_TIMESTAMP),
        (reading(ts=10**17), GatewayReason.BAD_TIMESTAMP),
        (reading(ts=9_223_372_036_855), GatewayReason.BAD_TIMESTAMP),
        (reading(ts="2262-04-12T00:00:00Z"), GatewayReason.BAD_TIMESTAMP),
        (reading(ts="1969-12-31T23:59:59Z"), GatewayReason.BAD_TIMESTAMP),
        (reading(ts=None), GatewayReason.BAD_TIMESTAMP),
        (reading(ts=NOW_MS - 3_600_001), GatewayReason.TOO_OLD),
        (reading(ts="2026-03-01T10:00:00Z"), GatewayReason.TOO_OLD),
        (reading(ts=NOW_MS + 60_001), GatewayReason.TOO_FAR_IN_FUTURE),
    ],
)
def test_every_rule_has_its_reason(payload: Any, reason: GatewayReason) -> None:
    assert only_reason(run(payload)) is reason


def test_age_and_skew_limits_are_inclusive() -> None:
    assert run(reading(ts=NOW_MS - 3_600_000)).readings
    assert run(reading(ts=NOW_MS + 60_000)).readings


def test_oversize_is_checked_before_parsing() -> None:
    payload = b"x" * 4097
    result = run(payload)
    assert only_reason(result) is GatewayReason.OVERSIZE
    assert "4097" in result.dead_letters[0].detail


@pytest.mark.parametrize(
    "topic",
    [
        "forewarn/site-1/telemetry",
        "other/site-1/pump-7/telemetry",
        "forewarn/site-1/pump-7/status",
        "forewarn//x/telemetry",
    ],
)
def test_a_topic_outside_the_contract_is_a_dead_letter(topic: str) -> None:
    assert only_reason(run(reading(), topic=topic)) is GatewayReason.BAD_TOPIC


def test_dead_letters_keep_bytes_source_and_receive_time() -> None:
    raw = b'{"schema": 1, "asset_id": "pump-7",\n "ts": "soon"}  '
    (letter,) = decode(raw, TOPIC, NOW, POLICY).dead_letters
    assert letter.payload == raw
    assert letter.source == TOPIC
    assert letter.received_at == NOW
    assert letter.index is None


@pytest.mark.parametrize(
    ("policy", "sensors", "expected"),
    [
        (UnknownSensorPolicy.ACCEPT, {"x": 1.0, "new": 2.0}, {"x": 1.0, "new": 2.0}),
        (UnknownSensorPolicy.STRIP, {"x": 1.0, "new": 2.0}, {"x": 1.0}),
        (UnknownSensorPolicy.REJECT, {"x": 1.0, "new": 2.0}, GatewayReason.UNKNOWN_SENSOR),
        (UnknownSensorPolicy.STRIP, {"new": 2.0}, GatewayReason.UNKNOWN_SENSOR),
        (UnknownSensorPolicy.REJECT, {"x": 1.0}, {"x": 1.0}),
    ],
)
def test_unknown_sensors_follow_the_policy(
    policy: UnknownSensorPolicy, sensors: dict[str, float], expected: dict[str, float] | GatewayReason
) -> None:
    configured = ContractPolicy(known_sensors=frozenset({"x"}), unknown_sensors=policy, max_age_s=3600)
    result = run(reading(sensors=sensors), policy=configured)
    if isinstance(expected, GatewayReason):
        assert only_reason(result) is expected
    else:
        assert [r.sensors for r in result.readings] == [expected]
        assert result.stripped_sensors == len(sensors) - len(expected)


def test_topic_helpers_round_trip() -> None:
    parts = parse_topic(telemetry_topic("site-2", "fan-1"))
    assert parts is not None
    assert (parts.site, parts.asset_id) == ("site-2", "fan-1")
    assert parse_topic("forewarn/site-2/$sys/telemetry") is None


@pytest.mark.parametrize("asset", ["a\nb", "x" * 129, "pump\\", "pump\x7f", "pump\u2029"])
def test_a_topic_naming_an_asset_no_store_can_hold_is_a_bad_name(asset: str) -> None:
    result = run(reading(asset_id=asset), topic=telemetry_topic("site-1", asset))
    assert only_reason(result) is GatewayReason.BAD_NAME
    assert "topic's asset_id" in result.dead_letters[0].detail


def _assert_total(payload: bytes, topic: str = TOPIC) -> None:
    result = decode(payload, topic, NOW, POLICY)
    assert result.readings or result.dead_letters
    for letter in result.dead_letters:
        assert isinstance(letter.reason, GatewayReason)
        assert letter.payload == payload
        assert letter.detail


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_give_readings_or_dead_letters(payload: bytes) -> None:
    _assert_total(payload)


finite = st.floats(allow_nan=False, allow_infinity=False)
int64 = st.integers(min_value=-(2**63), max_value=2**63 - 1)
json_values = st.recursive(
    st.none() | st.booleans() | int64 | finite | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
near_readings = st.fixed_dictionaries(
    {},
    optional={
        "schema": st.sampled_from([1, 1, 2, "1", None]),
        "asset_id": st.sampled_from(["pump-7", "pump-8", "", 7]),
        "ts": st.one_of(
            st.integers(min_value=NOW_MS - 10**7, max_value=NOW_MS + 10**6), st.text(max_size=30), json_values
        ),
        "seq": st.one_of(st.integers(min_value=-5, max_value=2**64 - 1), json_values),
        "settings": st.one_of(
            st.dictionaries(st.text(max_size=6), finite),
            json_values,
        ),
        "sensors": st.one_of(
            st.dictionaries(st.text(max_size=6), int64 | finite),
            json_values,
        ),
        "junk": json_values,
    },
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(near_readings, st.lists(near_readings, max_size=5), json_values))
def test_any_json_near_a_reading_gives_readings_or_dead_letters(document: Any) -> None:
    payload = orjson.dumps(document)
    result = decode(payload, TOPIC, NOW, POLICY)
    _assert_total(payload)
    if isinstance(document, list) and document:
        # one outcome per element: a reading, or a dead letter naming its index
        assert len(result.readings) + len(result.dead_letters) == len(document)
        assert len({d.index for d in result.dead_letters}) == len(result.dead_letters)
    else:
        assert len(result.readings) + len(result.dead_letters) == 1


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_any_topic_gives_readings_or_dead_letters(topic: str) -> None:
    _assert_total(orjson.dumps(reading()), topic=topic)
