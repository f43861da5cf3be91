"""The dead-letter contract: one format for every stage that refuses a record, format version 2.

The gateway (MQTT messages that break the telemetry contract) and the scoring job (``telemetry``
records it cannot use) write to Kafka ``telemetry.dlq``; the alert engine (``risk`` records that
break the risk contract) writes to ``risk.dlq``. All three write this one format, with these
encoders, so ``forewarn dlq`` reads them all and knows, from :class:`Stage`, which contract a
letter must pass to be revived::

    key     = the source (the MQTT topic, or a Kafka coordinate)
    value   = {"format": 2, "stage": "gateway", "reason": "too_old", "detail": "ts is 700000 s old, ...",
               "source": "forewarn/site-1/pump-7/telemetry", "received_at": "2026-11-22T22:01:02.345+00:00",
               "index": null, "payload_b64": "<the original bytes, base64>"}
    headers = reason, format (and who produced it: ``gateway_id`` or ``producer``)

``source`` is the MQTT topic (gateway), or a Kafka coordinate in one of two forms, written once
here (:data:`KAFKA_SOURCE`, :data:`READING_SOURCE`) for Python and Spark alike:
``kafka:<topic>/<partition>/<offset>`` (a whole record: the scoring job's ``not_canonical``, the
alert engine's ``risk`` records) and ``kafka:<topic>/asset/<asset_id>/seq/<seq>`` (one reading of a
run: the scoring job's ``late_for_state`` and ``unscorable``; the record's offset is not kept per
reading). ``index`` is the position of the rejected element of a JSON array (gateway batches), null
for the whole payload. Format 1 letters (before ``stage``) still decode: their stage is inferred
(:func:`infer_stage`).
"""

from __future__ import annotations

import base64
import binascii
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

import orjson

from forewarn.contracts.risk import RiskRejectReason

DLQ_FORMAT_VERSION = 2
SUPPORTED_FORMATS = frozenset({1, DLQ_FORMAT_VERSION})
"""Format 1 is format 2 without ``stage``."""
FIELD_NAMES: tuple[str, ...] = (
    "format",
    "stage",
    "reason",
    "detail",
    "source",
    "received_at",
    "index",
    "payload_b64",
)
"""The value's fields, in the order every encoder writes them (the Spark job's builder iterates these)."""
KAFKA_SOURCE = "kafka:%s/%d/%d"
"""``kafka:<topic>/<partition>/<offset>`` (``%`` style: Python's ``%`` and Spark's ``format_string``)."""
READING_SOURCE = "kafka:%s/asset/%s/seq/%d"
"""``kafka:<topic>/asset/<asset_id>/seq/<seq>``: one reading of a ``telemetry`` run."""
RECEIVED_AT_SPARK_FORMAT = "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"
"""``received_at`` as Spark's ``date_format`` writes it: what :func:`encode` writes (RFC 3339, ms)."""
Headers = list[tuple[str, bytes]]


class Stage(StrEnum):
    """Which stage refused a record, and so which contract a revived letter must pass."""

    GATEWAY = "gateway"
    """The MQTT gateway: the payload is an MQTT message; revived through the telemetry input rules."""
    SCORING = "scoring"
    """The scoring job: the payload is a canonical ``telemetry`` value; revived to ``telemetry``."""
    ALERTS = "alerts"
    """The alert engine: the payload is a ``risk`` record; revived through the risk contract to ``risk``."""


class GatewayReason(StrEnum):
    """Why the gateway rejected an MQTT message: one code per rule of the telemetry input contract.

    Stable strings, used as InfluxDB tag values too.
    """

    OVERSIZE = "oversize"
    """The payload is larger than the configured limit (checked before parsing)."""
    BAD_TOPIC = "bad_topic"
    """The MQTT topic is not ``forewarn/<site>/<asset_id>/telemetry``."""
    MALFORMED_JSON = "malformed_json"
    """UTF-8 text that is not JSON (truncated, a trailing comma, single quotes, ...)."""
    NOT_UTF8 = "not_utf8"
    """The bytes are not UTF-8, JSON's only encoding (a sender writing Latin-1, or binary)."""
    NOT_A_READING = "not_a_reading"
    """Valid JSON, but neither an object nor an array of objects (or nested deeper than the parser's
    1,024 levels, where no reading is)."""
    EMPTY_BATCH = "empty_batch"
    """An empty JSON array: nothing to forward, and nothing a sender means to send."""
    UNKNOWN_SCHEMA = "unknown_schema"
    """``schema`` is an integer this gateway does not know."""
    MISSING_FIELD = "missing_field"
    """A required field is absent."""
    WRONG_TYPE = "wrong_type"
    """A field has the wrong JSON type or an out-of-range value (e.g. negative ``seq``)."""
    UNKNOWN_FIELD = "unknown_field"
    """A top-level field schema 1 does not define (the schema is closed: a new field is a new version)."""
    NON_FINITE = "non_finite"
    """A number is NaN or infinite: the tokens ``NaN``, ``Infinity``, ``-Infinity`` (or ``nan``,
    ``inf``) careless encoders write where JSON has none, or a number that overflows a double."""
    ASSET_MISMATCH = "asset_mismatch"
    """``asset_id`` in the payload differs from the asset in the topic."""
    BAD_TIMESTAMP = "bad_timestamp"
    """``ts`` is not RFC 3339 with a UTC offset nor epoch milliseconds."""
    TOO_OLD = "too_old"
    """``ts`` is older than the configured maximum age."""
    TOO_FAR_IN_FUTURE = "too_far_in_future"
    """``ts`` is further ahead of the receive time than the configured clock skew."""
    UNKNOWN_SENSOR = "unknown_sensor"
    """A sensor outside the configured set, under the ``reject`` policy."""
    BAD_NAME = "bad_name"
    """A name no store can hold: a setting or sensor name, or the site or asset id of the topic, that is
    empty, too long, holds a control character, a line separator or a noncharacter, or ends with a
    backslash (``forewarn.contracts.telemetry.name_problem``: the scoring job refuses it too)."""
    FOREIGN_ASSET = "foreign_asset"
    """The asset is registered to another site than the one publishing it (the asset register)."""
    UNKNOWN_ASSET = "unknown_asset"
    """The asset is not in the register, under the gateway's ``dead_letter`` policy for unknown assets."""


class ScoringReason(StrEnum):
    """Why the scoring job could not use a ``telemetry`` record that got past the gateway."""

    NOT_CANONICAL = "not_canonical"
    """A ``telemetry`` record that is not a JSON array of canonical schema-1 readings (a producer bug)."""
    LATE_FOR_STATE = "late_for_state"
    """A reading older than every reading the job keeps for its asset: it can no longer be scored
    with the readings before it."""
    UNSCORABLE = "unscorable"
    """A reading the champion model cannot score: a value it needs is missing, not finite, or
    beyond any value the model can score; or the model refused its features."""
    SINK_REFUSED = "sink_refused"
    """A point InfluxDB refused (the payload is the line): the reading was scored; the point is what
    could not be stored. Its source is ``influxdb:<measurement>``; ``forewarn dlq replay`` cannot
    revive it."""


Reason = GatewayReason | ScoringReason | RiskRejectReason
"""Any stage's reason code (the alert engine's are the risk contract's :class:`RiskRejectReason`)."""
REASONS: dict[Stage, type[GatewayReason] | type[ScoringReason] | type[RiskRejectReason]] = {
    Stage.GATEWAY: GatewayReason,
    Stage.SCORING: ScoringReason,
    Stage.ALERTS: RiskRejectReason,
}
"""Each stage's reason codes (``unknown_schema`` is both a gateway and a risk code: the stage tells)."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A refused record (or element of a batch) with everything needed to fix and replay it.

    Attributes:
        stage: which stage refused it.
        reason: which rule of that stage's contract refused it (one of ``REASONS[stage]``).
        detail: what exactly was wrong, for a person.
        source: where it came from (see the module docstring).
        payload: the original bytes, byte for byte (the whole message for a batch element).
        received_at: when the stage received it (timezone-aware UTC).
        index: the position of the rejected element in a JSON array, None for the whole payload.
    """

    stage: Stage
    reason: Reason
    detail: str
    source: str
    payload: bytes
    received_at: datetime
    index: int | None = None


def kafka_source(topic: str, partition: int, offset: int) -> str:
    """Where a whole Kafka record came from (:data:`KAFKA_SOURCE`)."""
    return KAFKA_SOURCE % (topic, partition, offset)


def parse_kafka_source(source: str) -> tuple[str, int, int]:
    """(topic, partition, offset) of a :data:`KAFKA_SOURCE`, the inverse of :func:`kafka_source`.

    ``forewarn dlq list`` names each letter by where it sits this way; ``forewarn dlq show`` reads it back.

    Raises:
        ValueError: ``source`` is not ``kafka:<topic>/<partition>/<offset>``.
    """
    match = re.fullmatch(r"kafka:([A-Za-z0-9._-]+)/(\d+)/(\d+)", source)
    if match is None:
        raise ValueError(f"{source!r} is not kafka:<topic>/<partition>/<offset>")
    return match[1], int(match[2]), int(match[3])


def reading_source(topic: str, asset_id: str, seq: int) -> str:
    """Where one reading of a ``telemetry`` run came from (:data:`READING_SOURCE`)."""
    return READING_SOURCE % (topic, asset_id, seq)


def encode(letter: DeadLetter) -> bytes:
    """The dead-letter topic's value of ``letter`` (fields in :data:`FIELD_NAMES` order)."""
    value = {
        "format": DLQ_FORMAT_VERSION,
        "stage": letter.stage.value,
        "reason": letter.reason.value,
        "detail": letter.detail,
        "source": letter.source,
        "received_at": letter.received_at.isoformat(timespec="milliseconds"),
        "index": letter.index,
        "payload_b64": base64.b64encode(letter.payload).decode("ascii"),
    }
    return orjson.dumps(value)


def headers(letter: DeadLetter, *extra: tuple[str, bytes]) -> Headers:
    """Kafka headers: the reason (filter without parsing), the format, then ``extra`` (who produced it)."""
    return [("reason", letter.reason.value.encode()), ("format", str(DLQ_FORMAT_VERSION).encode()), *extra]


def infer_stage(reason: str, source: str) -> Stage:
    """The stage of a format-1 letter, which did not say: the scoring job's reasons are its own; the
    alert engine's sources are Kafka coordinates, the gateway's are MQTT topics."""
    if reason in ScoringReason.__members__.values():
        return Stage.SCORING
    return Stage.ALERTS if source.startswith("kafka:") else Stage.GATEWAY


def decode(value: bytes) -> DeadLetter:
    """A dead letter from its topic value (format 1 or 2).

    Raises:
        ValueError: the value is not a dead letter (or names a reason its stage does not have).
    """
    try:
        item = orjson.loads(value)
        version = item.get("format")
        if version not in SUPPORTED_FORMATS:
            raise ValueError(f"format {version!r} is not one of {sorted(SUPPORTED_FORMATS)}")
        received_at = datetime.fromisoformat(item["received_at"])
        if received_at.tzinfo is None:
            raise ValueError("received_at has no UTC offset")
        source = str(item["source"])
        reason = str(item["reason"])
        stage = Stage(item["stage"]) if "stage" in item else infer_stage(reason, source)
        index = item.get("index")
        return DeadLetter(
            stage=stage,
            reason=REASONS[stage](reason),
            detail=str(item["detail"]),
            source=source,
            payload=base64.b64decode(item["payload_b64"], validate=True),
            received_at=received_at,
            index=None if index is None else int(index),
        )
    except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError, ValueError, binascii.Error) as exc:
        raise ValueError(f"not a dead-letter record: {exc}") from None
