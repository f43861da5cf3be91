"""What the gateway puts on Kafka: one keyed run per message with its headers, then its dead letters."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from forewarn.contracts import dead_letter
from forewarn.contracts.telemetry import Reading, decode_run
from ingest.contract import ContractPolicy, decode
from ingest.records import message_records, telemetry_records

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)
TOPIC = "forewarn/site-1/pump-7/telemetry"


def test_a_message_becomes_one_keyed_run_with_headers_then_its_dead_letters() -> None:
    batch = [
        {"schema": 1, "asset_id": "pump-7", "ts": "2026-03-01T11:00:00Z", "seq": 1, "sensors": {"v": 1}},
        {"schema": 1, "asset_id": "pump-7", "ts": "2026-03-01T11:00:01Z", "seq": 2, "sensors": {}},
        {"schema": 1, "asset_id": "pump-7", "ts": 1772362802000, "seq": 3, "sensors": {"v": 3.5}},
    ]
    decoded = decode(orjson.dumps(batch), TOPIC, NOW, ContractPolicy())
    run, letter = message_records(decoded.readings, decoded.dead_letters, "gw-1", NOW)
    assert (run.dlq, run.key) == (False, b"pump-7")
    assert dict(run.headers) == {
        "site": b"site-1",
        "schema": b"1",
        "gateway_id": b"gw-1",
        "received_at": b"2026-03-01T12:00:00.000+00:00",
    }
    assert orjson.loads(run.value) == [
        {"schema": 1, "asset_id": "pump-7", "site": "site-1", "ts": 1772362800000, "seq": 1,
         "settings": {}, "sensors": {"v": 1.0}},
        {"schema": 1, "asset_id": "pump-7", "site": "site-1", "ts": 1772362802000, "seq": 3,
         "settings": {}, "sensors": {"v": 3.5}},
    ]  # fmt: skip
    assert decode_run(run.value) == decoded.readings
    assert (letter.dlq, letter.key) == (True, TOPIC.encode())
    assert dict(letter.headers) == {"reason": b"missing_field", "format": b"2", "gateway_id": b"gw-1"}
    assert dead_letter.decode(letter.value) == decoded.dead_letters[0]


def test_a_message_with_nothing_valid_makes_no_telemetry_record() -> None:
    decoded = decode(b"{", TOPIC, NOW, ContractPolicy())
    (only,) = message_records(decoded.readings, decoded.dead_letters, "gw-1", NOW)
    assert only.dlq


@given(count=st.integers(1, 60), max_bytes=st.integers(50, 4000))
@settings(max_examples=50, deadline=None)
def test_a_long_run_is_split_in_order_into_records_under_the_size_limit(count: int, max_bytes: int) -> None:
    readings = [
        Reading(asset_id="pump-7", site="site-1", ts_ms=1772362800000 + i, seq=i, settings={},
                sensors={"v": float(i)})
        for i in range(count)
    ]  # fmt: skip
    records = telemetry_records(readings, "gw-1", NOW, max_bytes)
    assert [r for record in records for r in decode_run(record.value)] == readings
    assert all(record.key == b"pump-7" for record in records)
    # each record is under the limit unless it holds a single reading (never split further)
    assert all(len(r.value) <= max_bytes or len(decode_run(r.value)) == 1 for r in records)
    if len(telemetry_records(readings, "gw-1", NOW, 10**9)[0].value) <= max_bytes:
        assert len(records) == 1
