"""The Kafka side of the contract: canonical ``telemetry`` records and ``telemetry.dlq`` records.

``telemetry`` record: key = asset_id (UTF-8), value = a JSON array holding a *run* of readings of that
asset in arrival order (the readings of that asset the gateway took together), in canonical form::

    [{"schema": 1, "asset_id": "pump-7", "site": "site-1", "ts": 1767225600000, "seq": 42,
      "settings": {"load": 0.8}, "sensors": {"vibration_mm_s": 2.1}}, ...]

Canonical means: ``ts`` always epoch milliseconds, every value a float, ``settings`` always present,
``site`` added from the topic. Always an array, even for one reading, so consumers (Spark's
``from_json`` with an array schema plus ``explode``) have one shape. A run per record rather than a
record per reading because per-record cost dominates a Python producer: see ``ingest/bench.py``.

``telemetry.dlq`` record: key = the MQTT topic, value = a JSON object with the reason, detail, source,
receive time, the index of a rejected array element, and the original payload base64-encoded (exact
bytes, whatever they were). The reason is also a header, so a consumer can filter without parsing.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from ingest.contract import SCHEMA_VERSION, DeadLetter, Reading
from ingest.reasons import Reason

DLQ_FORMAT_VERSION = 1
Headers = list[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class OutRecord:
    """A record ready for the producer: topic kind, key, value and headers.

    Attributes:
        dlq: True for ``telemetry.dlq``, False for ``telemetry`` (topic names come from settings).
        key: the Kafka key (asset id for telemetry, MQTT topic for dead letters).
        value: the encoded value.
        headers: Kafka headers.
    """

    dlq: bool
    key: bytes
    value: bytes
    headers: Headers


def canonical(reading: Reading) -> dict[str, Any]:
    """The canonical JSON object of one reading."""
    return {
        "schema": reading.schema,
        "asset_id": reading.asset_id,
        "site": reading.site,
        "ts": reading.ts_ms,
        "seq": reading.seq,
        "settings": dict(reading.settings),
        "sensors": dict(reading.sensors),
    }


def encode_run(readings: Sequence[Reading]) -> bytes:
    """The ``telemetry`` value for a run of readings of one asset (a JSON array, payload order)."""
    return orjson.dumps([canonical(r) for r in readings])


def decode_run(value: bytes) -> list[Reading]:
    """Readings from a ``telemetry`` value; ValueError if it is not canonical (a producer bug)."""
    try:
        items = orjson.loads(value)
        if not isinstance(items, list):
            raise TypeError("the value is not a JSON array")
        return [
            Reading(
                asset_id=item["asset_id"],
                site=item["site"],
                ts_ms=int(item["ts"]),
                seq=int(item["seq"]),
                settings={k: float(v) for k, v in item["settings"].items()},
                sensors={k: float(v) for k, v in item["sensors"].items()},
                schema=int(item["schema"]),
            )
            for item in items
        ]
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError) as exc:
        raise ValueError(f"not a canonical telemetry value: {exc}") from None


def telemetry_headers(site: str, gateway_id: str, received_at: datetime) -> Headers:
    """Headers of a ``telemetry`` record: site, schema version, gateway id, receive time (RFC 3339)."""
    return [
        ("site", site.encode()),
        ("schema", str(SCHEMA_VERSION).encode()),
        ("gateway_id", gateway_id.encode()),
        ("received_at", received_at.isoformat(timespec="milliseconds").encode()),
    ]


def telemetry_record(readings: Sequence[Reading], gateway_id: str, received_at: datetime) -> OutRecord:
    """The one ``telemetry`` record for a run of readings of one asset."""
    first = readings[0]
    return OutRecord(
        dlq=False,
        key=first.asset_id.encode(),
        value=encode_run(readings),
        headers=telemetry_headers(first.site, gateway_id, received_at),
    )


def telemetry_records(
    readings: Sequence[Reading], gateway_id: str, received_at: datetime, max_bytes: int
) -> list[OutRecord]:
    """``telemetry`` records for a run, split in order so that each value stays under ``max_bytes``.

    Coalescing many batched messages of one asset could otherwise build a record Kafka refuses
    (``MessageSizeTooLarge``), which would stall delivery for good. A single reading is never split.
    """
    record = telemetry_record(readings, gateway_id, received_at)
    if len(record.value) <= max_bytes or len(readings) == 1:
        return [record]
    half = len(readings) // 2
    return telemetry_records(readings[:half], gateway_id, received_at, max_bytes) + telemetry_records(
        readings[half:], gateway_id, received_at, max_bytes
    )


def encode_dead_letter(letter: DeadLetter) -> bytes:
    """The ``telemetry.dlq`` value of a dead letter."""
    return orjson.dumps(
        {
            "format": DLQ_FORMAT_VERSION,
            "reason": letter.reason.value,
            "detail": letter.detail,
            "source": letter.source,
            "received_at": letter.received_at.isoformat(timespec="milliseconds"),
            "index": letter.index,
            "payload_b64": base64.b64encode(letter.payload).decode("ascii"),
        }
    )


def dead_letter_record(letter: DeadLetter, gateway_id: str) -> OutRecord:
    """The ``telemetry.dlq`` record of a dead letter (key = its source, reason also as a header)."""
    return OutRecord(
        dlq=True,
        key=letter.source.encode(),
        value=encode_dead_letter(letter),
        headers=[
            ("reason", letter.reason.value.encode()),
            ("gateway_id", gateway_id.encode()),
            ("format", str(DLQ_FORMAT_VERSION).encode()),
        ],
    )


def decode_dead_letter(value: bytes) -> DeadLetter:
    """A dead letter from its ``telemetry.dlq`` value; ValueError if the value is not one."""
    try:
        item = orjson.loads(value)
        index = item.get("index")
        received_at = datetime.fromisoformat(item["received_at"])
        if received_at.tzinfo is None:
            raise ValueError("received_at has no UTC offset")
        return DeadLetter(
            reason=Reason(item["reason"]),
            detail=str(item["detail"]),
            source=str(item["source"]),
            payload=base64.b64decode(item["payload_b64"], validate=True),
            received_at=received_at,
            index=None if index is None else int(index),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError, binascii.Error) as exc:
        raise ValueError(f"not a dead-letter record: {exc}") from None


def message_records(
    readings: Sequence[Reading], dead_letters: Sequence[DeadLetter], gateway_id: str, received_at: datetime
) -> list[OutRecord]:
    """Everything one MQTT message becomes on Kafka: at most one telemetry run, then its dead letters.

    A message comes from one topic, hence one asset, so its valid readings form a single run.
    """
    out = [telemetry_record(readings, gateway_id, received_at)] if readings else []
    out += [dead_letter_record(letter, gateway_id) for letter in dead_letters]
    return out
