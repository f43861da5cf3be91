"""The telemetry contract: canonical runs round-trip, anything else is refused, shapes derive from FIELDS."""

from __future__ import annotations

import dataclasses

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.contracts.telemetry import (
    FIELD_NAMES,
    FIELDS,
    MAX_TS_MS,
    SCHEMA_VERSION,
    Reading,
    canonical,
    decode_run,
    encode_run,
    name_problem,
    telemetry_headers,
)

READING = Reading("pump-7", "site-1", 1_772_362_800_000, 42, {"load": 0.8}, {"vib_mm_s": 2.1})
names = st.text(min_size=1, max_size=8).filter(lambda name: name_problem(name) is None)
numbers = st.floats(allow_nan=False, allow_infinity=False)


def test_canonical_writes_the_fields_in_their_order_from_the_reading() -> None:
    assert list(canonical(READING)) == list(FIELD_NAMES)
    attributes = {f.name for f in dataclasses.fields(Reading)}
    assert {f.attribute for f in FIELDS} == attributes, "every field holds a Reading attribute, and back"
    assert {name: canonical(READING)[name] for name in FIELD_NAMES} == {
        f.name: getattr(READING, f.attribute) for f in FIELDS
    }


@settings(max_examples=100, deadline=None)
@given(
    st.lists(
        st.builds(
            Reading,
            asset_id=st.just("pump-7"),
            site=st.text(min_size=1, max_size=10).filter(lambda name: name_problem(name) is None),
            ts_ms=st.integers(0, MAX_TS_MS),
            seq=st.integers(0, 2**63 - 1),
            settings=st.dictionaries(names, numbers, max_size=3),
            sensors=st.dictionaries(names, numbers, min_size=1, max_size=3),
        ),
        min_size=1,
        max_size=5,
    )
)
def test_a_run_round_trips(readings: list[Reading]) -> None:
    assert decode_run(encode_run(readings)) == readings


def test_settings_may_be_absent_and_integers_become_floats() -> None:
    item = {**canonical(READING), "sensors": {"v": 3}}
    del item["settings"]
    (reading,) = decode_run(orjson.dumps([item]))
    assert (reading.settings, reading.sensors) == ({}, {"v": 3.0})


@pytest.mark.parametrize(
    ("change", "why"),
    [
        ({"schema": 2}, "schema 2"),
        ({"ts": "2026-01-01T00:00:00Z"}, "ts must be an integer"),
        ({"seq": -1}, "seq must be an integer"),
        ({"seq": True}, "seq must be an integer"),
        ({"site": ""}, "site '' must have 1..128 characters"),
        ({"sensors": {}}, "sensors is empty"),
        ({"sensors": {"v": "high"}}, "sensors.'v' must be a finite number"),
        ({"sensors": {"v": True}}, "sensors.'v' must be a finite number"),
        ({"sensors": {"a\nb": 1.0}}, "sensors name 'a\\\\nb' must not hold U\\+000A"),
        ({"settings": {"": 1.0}}, "settings name '' must have 1..128 characters"),
        ({"settings": {"x" * 129: 1.0}}, "must have 1..128 characters, has 129"),
        ({"sensors": {"v\\": 1.0}}, "must not end with a backslash"),
        ({"asset_id": "pump\u2028"}, "asset_id 'pump\\\\u2028' must not hold U\\+2028"),
        ({"site": "site\x85"}, "site 'site\\\\x85' must not hold U\\+0085"),
        ({"site": 7}, "site must be a string"),
        ({"ts": 9_223_372_036_855}, "ts must be an integer in \\[0, 9223372036854\\]"),
        ({"sensors": None}, "sensors is missing"),
        ({"extra": 1}, "fields not in schema"),
    ],
)
def test_a_reading_that_is_not_canonical_is_refused_with_why(change: dict[str, object], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        decode_run(orjson.dumps([{**canonical(READING), **change}]))


@pytest.mark.parametrize("value", [b"", b"not json", b"[]", b"{}", b"[1]"])
def test_a_value_that_is_not_a_run_is_refused(value: bytes) -> None:
    with pytest.raises(ValueError, match="not a canonical telemetry value"):
        decode_run(value)


def test_a_run_is_of_one_asset() -> None:
    other = dataclasses.replace(READING, asset_id="pump-8")
    with pytest.raises(ValueError, match="one asset"):
        decode_run(encode_run([READING, other]))


def test_headers_name_site_schema_gateway_and_receive_time() -> None:
    at = READING.ts
    assert dict(telemetry_headers("site-1", "gw-1", at)) == {
        "site": b"site-1",
        "schema": str(SCHEMA_VERSION).encode(),
        "gateway_id": b"gw-1",
        "received_at": b"2026-03-01T11:00:00.000+00:00",
    }


def test_the_spark_schema_derives_from_the_fields() -> None:
    pytest.importorskip("pyspark")
    from pyspark.sql.types import ArrayType, StringType

    from forewarn.contracts.telemetry import spark_schema

    struct, run = spark_schema()
    assert struct.fieldNames() == list(FIELD_NAMES)
    assert run == ArrayType(struct)
    # settings and sensors stay JSON text: the job's state parses them once
    assert isinstance(struct["sensors"].dataType, StringType)
    assert isinstance(struct["settings"].dataType, StringType)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(field=st.sampled_from(FIELD_NAMES), value=json_values)
def test_any_json_in_any_field_is_a_reading_or_a_value_error(field: str, value: object) -> None:
    try:
        raw = orjson.dumps([{**canonical(READING), field: value}])
    except TypeError:  # integers beyond 64 bits: no producer can write them either
        return
    try:
        (reading,) = decode_run(raw)
    except ValueError:
        return
    assert reading.asset_id  # what passes is a scorable, canonical reading
    assert reading.sensors
