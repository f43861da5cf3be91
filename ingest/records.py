"""What the gateway puts on Kafka: ``telemetry`` records and ``telemetry.dlq`` records.

Both formats are contracts of the ground, written once and imported here: a ``telemetry`` record is
a run of canonical readings of one asset (``forewarn.contracts.telemetry``), a ``telemetry.dlq``
record a dead letter of stage ``gateway`` (``forewarn.contracts.dead_letter``), keyed by its MQTT
topic, with the reason, the format and the gateway id as headers. This module only packs them into
:class:`OutRecord` (what the producer and the spool carry) and splits runs Kafka would refuse.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from forewarn.contracts import dead_letter
from forewarn.contracts.dead_letter import DeadLetter
from forewarn.contracts.telemetry import Headers, Reading, encode_run, telemetry_headers


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


def dead_letter_record(letter: DeadLetter, gateway_id: str) -> OutRecord:
    """The ``telemetry.dlq`` record of a dead letter (key = its source, reason also as a header)."""
    return OutRecord(
        dlq=True,
        key=letter.source.encode(),
        value=dead_letter.encode(letter),
        headers=dead_letter.headers(letter, ("gateway_id", gateway_id.encode())),
    )


def message_records(
    readings: Sequence[Reading], dead_letters: Sequence[DeadLetter], gateway_id: str, received_at: datetime
) -> list[OutRecord]:
    """Everything one MQTT message becomes on Kafka: at most one telemetry run, then its dead letters.

    A message comes from one topic, hence one asset, so its valid readings form a single run.
    """
    out = [telemetry_record(readings, gateway_id, received_at)] if readings else []
    out += [dead_letter_record(letter, gateway_id) for letter in dead_letters]
    return out
