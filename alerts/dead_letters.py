"""Dead letters of the ``risk`` topic (Kafka ``risk.dlq``), in the shape of ``telemetry.dlq``.

A ``risk`` record that fails the risk contract is not lost: the engine sends it here, byte for byte,
before it commits the offset that passes it. The record mirrors ``ingest.records`` (the
``telemetry.dlq`` format) so one tool reads both; only the reason codes differ
(:class:`alerts.risk_contract.RiskRejectReason`)::

    key     = "kafka:<topic>/<partition>/<offset>"      (where the bad record came from)
    value   = {"format": 1, "reason": "not_json", "detail": "...", "source": "kafka:risk/2/17",
               "received_at": "2026-11-22T22:01:02.345+00:00", "index": null,
               "payload_b64": "<the original value, base64>"}
    headers = reason, format, producer (the engine's consumer group)
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime

import orjson

from alerts.risk_contract import RiskRejection, RiskRejectReason

DLQ_FORMAT_VERSION = 1
"""The same format version as ``telemetry.dlq`` records (``ingest.records.DLQ_FORMAT_VERSION``)."""


@dataclass(frozen=True, slots=True)
class RiskDeadLetter:
    """A rejected ``risk`` record with everything needed to fix and replay it.

    Attributes:
        reason: which rule of the risk contract rejected it.
        detail: what exactly was wrong, for a person.
        source: ``kafka:<topic>/<partition>/<offset>`` of the original record.
        payload: the original record value, byte for byte.
        received_at: when the engine polled it (UTC, processing time).
    """

    reason: RiskRejectReason
    detail: str
    source: str
    payload: bytes
    received_at: datetime


def from_rejection(rejection: RiskRejection, source: str, received_at: datetime) -> RiskDeadLetter:
    """The dead letter of a rejected record read at ``source`` (``topic/partition/offset``)."""
    return RiskDeadLetter(rejection.reason, rejection.detail, f"kafka:{source}", rejection.raw, received_at)


def encode(letter: RiskDeadLetter) -> bytes:
    """The ``risk.dlq`` value of a dead letter."""
    return orjson.dumps(
        {
            "format": DLQ_FORMAT_VERSION,
            "reason": letter.reason.value,
            "detail": letter.detail,
            "source": letter.source,
            "received_at": letter.received_at.isoformat(timespec="milliseconds"),
            "index": None,
            "payload_b64": base64.b64encode(letter.payload).decode("ascii"),
        }
    )


def headers(letter: RiskDeadLetter, producer: str) -> list[tuple[str, bytes]]:
    """Kafka headers: the reason (filter without parsing), the format and who produced it."""
    return [
        ("reason", letter.reason.value.encode()),
        ("format", str(DLQ_FORMAT_VERSION).encode()),
        ("producer", producer.encode()),
    ]


def decode(value: bytes) -> RiskDeadLetter:
    """A dead letter from its ``risk.dlq`` value; ValueError if the value is not one."""
    try:
        item = orjson.loads(value)
        received_at = datetime.fromisoformat(item["received_at"])
        if received_at.tzinfo is None:
            raise ValueError("received_at has no UTC offset")
        if item.get("format") != DLQ_FORMAT_VERSION:
            raise ValueError(f"format {item.get('format')!r}, expected {DLQ_FORMAT_VERSION}")
        return RiskDeadLetter(
            reason=RiskRejectReason(item["reason"]),
            detail=str(item["detail"]),
            source=str(item["source"]),
            payload=base64.b64decode(item["payload_b64"], validate=True),
            received_at=received_at,
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError, binascii.Error) as exc:
        raise ValueError(f"not a risk dead-letter record: {exc}") from None
