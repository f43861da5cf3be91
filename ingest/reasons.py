"""Why a telemetry message was rejected: one code per rule of the contract."""

from __future__ import annotations

from enum import StrEnum


class Reason(StrEnum):
    """The reason code a dead letter carries; stable strings, used as InfluxDB tag values too."""

    OVERSIZE = "oversize"
    """The payload is larger than the configured limit (checked before parsing)."""
    BAD_TOPIC = "bad_topic"
    """The MQTT topic is not ``forewarn/<site>/<asset_id>/telemetry``."""
    MALFORMED_JSON = "malformed_json"
    """The bytes are not JSON (or not UTF-8)."""
    NOT_A_READING = "not_a_reading"
    """Valid JSON, but neither an object nor an array of objects."""
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
    """A number is NaN or infinite (or overflows a double)."""
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
    # Reasons the scoring job (streaming/) gives: the record got past the gateway but not further.
    NOT_CANONICAL = "not_canonical"
    """A ``telemetry`` record that is not a JSON array of canonical schema-1 readings (a producer bug)."""
    LATE_FOR_STATE = "late_for_state"
    """A reading older than every reading the job keeps for its asset: it can no longer be scored
    with the readings before it."""
    UNSCORABLE = "unscorable"
    """A reading the champion model cannot score (a sensor it needs is missing)."""
