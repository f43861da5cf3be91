"""The telemetry contract, schema version 1: MQTT payload bytes in, readings or dead letters out.

A payload is one JSON reading or a JSON array of readings, published on
``forewarn/<site>/<asset_id>/telemetry``::

    {"schema": 1, "asset_id": "pump-7", "ts": "2026-01-01T00:00:00Z" | 1767225600000,
     "seq": 42, "settings": {"load": 0.8}, "sensors": {"vibration_mm_s": 2.1}}

``settings`` may be omitted (no operating regime known); every other field is required and no other
top-level field is allowed: schema 1 is closed, a new field means a new version. :func:`decode`
never raises: every input gives readings, dead letters, or both (one dead letter per rejected
element of an array, naming its index, so the good elements of a batch are not held back by a bad
one).

What the gateway refuses and why (each rule is one :class:`GatewayReason`): what breaks the
schema (``malformed_json``, ``not_a_reading``, ``missing_field``, ``wrong_type``: booleans, strings,
null, arrays or objects where a number belongs; ``unknown_field``, ``unknown_schema``), what can
never be scored or stored, and what the site's policy refuses (``too_old``, ``too_far_in_future``,
``unknown_sensor``, ``oversize``). Never scored or stored, by the rules of
``forewarn.contracts.telemetry`` that the scoring job applies too, so nothing this module forwards
can be refused downstream for it:

- ``bad_name``: a setting or sensor name, or the topic's site or asset id, that is empty, longer than
  ``forewarn.contracts.telemetry.MAX_NAME_CHARS`` (128), holds a control character (U+0000-U+001F,
  U+007F-U+009F), U+2028/U+2029, a surrogate or a noncharacter, or ends with a backslash
  (InfluxDB's line protocol cannot carry a newline nor a trailing backslash; the rest no sensor is
  named, and Mosquitto refuses in topics);
- ``non_finite``: NaN, infinities, and numbers beyond a double (``1e400``, a 400-digit integer:
  orjson refuses the whole payload as "infinity"), and the ``NaN``/``Infinity``/``-Infinity`` tokens
  (or ``nan``/``inf``) that careless encoders write: not JSON, but what is wrong is the number;
- ``bad_timestamp``: ``ts`` before 1970 or after 2262-04-11 (InfluxDB's time range; epoch ms
  or RFC 3339 alike), or not a time at all;
- ``wrong_type``: ``seq`` outside [0, 2^63).

These are the gateway's input rules. What it writes to Kafka (the canonical :class:`Reading`) and the
dead letters it writes (:class:`DeadLetter`, stage ``gateway``, reasons :class:`GatewayReason`) are
contracts of the ground: ``forewarn.contracts.telemetry`` and ``forewarn.contracts.dead_letter``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

from forewarn.contracts.dead_letter import DeadLetter, GatewayReason, Stage
from forewarn.contracts.telemetry import (
    MAX_INT64,
    MAX_TS_MS,
    SCHEMA_VERSION,
    Reading,
    bad_name,
    name_problem,
)

SUPPORTED_SCHEMAS = frozenset({SCHEMA_VERSION})
TOPIC_PREFIX = "forewarn"
TOPIC_SUFFIX = "telemetry"
_isfinite = math.isfinite
_FIELDS = frozenset({"schema", "asset_id", "ts", "seq", "settings", "sensors"})
# what Python's json, printf and spreadsheets write for NaN and infinities (not JSON tokens)
_NON_FINITE_TOKEN = re.compile(r"[-+]?(?:nan|inf(?:inity)?)(?![A-Za-z0-9_])", re.IGNORECASE)


class UnknownSensorPolicy(StrEnum):
    """What happens to a sensor outside :attr:`ContractPolicy.known_sensors`."""

    ACCEPT = "accept"
    """Forward it unchanged (the default: new sensors reach the feature store without a redeploy)."""
    STRIP = "strip"
    """Forward the reading without it; the gateway counts every stripped value."""
    REJECT = "reject"
    """Dead-letter the whole reading with :attr:`GatewayReason.UNKNOWN_SENSOR`."""


@dataclass(frozen=True, slots=True)
class ContractPolicy:
    """The configurable limits of validation (built from the gateway's settings).

    Attributes:
        max_payload_bytes: larger MQTT payloads are dead letters before any parsing.
        max_age_s: readings older than this, relative to the receive time, are rejected.
        max_future_skew_s: readings further ahead of the receive time than this are rejected.
        known_sensors: the sensor names in use; empty means every name is known.
        unknown_sensors: what to do with a sensor not in ``known_sensors``.
    """

    max_payload_bytes: int = 1_048_576
    max_age_s: float = 7 * 24 * 3600.0
    max_future_skew_s: float = 300.0
    known_sensors: frozenset[str] = frozenset()
    unknown_sensors: UnknownSensorPolicy = UnknownSensorPolicy.ACCEPT


@dataclass(frozen=True, slots=True)
class Decoded:
    """What one message became: its readings (in payload order) and its dead letters.

    ``indexed``: the payload was a JSON array, so a reading refused later (the asset register's
    rules, :mod:`ingest.asset_gate`) is dead-lettered with its element's index.
    """

    readings: list[Reading] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)
    stripped_sensors: int = 0
    indexed: bool = False


@dataclass(frozen=True, slots=True)
class TopicParts:
    """The site and asset a telemetry topic names."""

    site: str
    asset_id: str


class _RejectedError(Exception):
    """Internal: a rule failed; becomes a DeadLetter, never escapes this module."""

    def __init__(self, reason: GatewayReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.detail = detail


def telemetry_topic(site: str, asset_id: str) -> str:
    """The MQTT topic a site publishes ``asset_id``'s telemetry on."""
    return f"{TOPIC_PREFIX}/{site}/{asset_id}/{TOPIC_SUFFIX}"


def parse_topic(topic: str) -> TopicParts | None:
    """Site and asset of ``forewarn/<site>/<asset_id>/telemetry``, or None for any other topic."""
    parts = topic.split("/")
    if len(parts) != 4 or parts[0] != TOPIC_PREFIX or parts[3] != TOPIC_SUFFIX:
        return None
    site, asset_id = parts[1], parts[2]
    if not site or not asset_id or not _is_topic_level(site) or not _is_topic_level(asset_id):
        return None
    return TopicParts(site=site, asset_id=asset_id)


def _is_topic_level(name: str) -> bool:
    # the shape of a topic level; whether it is a name a store can hold is name_problem's (bad_name)
    return not any(ch in name for ch in "/+#\x00") and not name.startswith("$")


def decode(payload: bytes, topic: str, received_at: datetime, policy: ContractPolicy) -> Decoded:
    """Validate one MQTT message against the contract; never raises.

    Args:
        payload: the message bytes as received.
        topic: the MQTT topic it arrived on (gives site and the expected asset id).
        received_at: the receive time (timezone-aware UTC), the reference for age and skew rules.
        policy: limits and the unknown-sensor policy.

    Returns:
        The valid readings in payload order and one dead letter per rejected message or element.
    """

    def dead(reason: GatewayReason, detail: str, index: int | None = None) -> DeadLetter:
        return DeadLetter(Stage.GATEWAY, reason, detail, topic, bytes(payload), received_at, index)

    if len(payload) > policy.max_payload_bytes:
        detail = f"payload is {len(payload)} bytes, limit {policy.max_payload_bytes}"
        return Decoded(dead_letters=[dead(GatewayReason.OVERSIZE, detail)])
    parts = parse_topic(topic)
    if parts is None:
        detail = f"topic {topic!r} is not {TOPIC_PREFIX}/<site>/<asset_id>/{TOPIC_SUFFIX}"
        return Decoded(dead_letters=[dead(GatewayReason.BAD_TOPIC, detail)])
    for level, name in (("site", parts.site), ("asset_id", parts.asset_id)):
        problem = name_problem(name)
        if problem is not None:
            detail = f"the topic's {level} {_shown(name)} {problem}"
            return Decoded(dead_letters=[dead(GatewayReason.BAD_NAME, detail)])
    try:
        document = orjson.loads(payload)
    except orjson.JSONDecodeError as exc:
        return Decoded(dead_letters=[dead(*_refused_json(exc))])
    if isinstance(document, dict):
        elements: list[Any] = [document]
        indexed = False
    elif isinstance(document, list):
        if not document:
            return Decoded(dead_letters=[dead(GatewayReason.EMPTY_BATCH, "empty JSON array")])
        elements = document
        indexed = True
    else:
        detail = f"top level is a JSON {_json_type(document)}, expected an object or an array of objects"
        return Decoded(dead_letters=[dead(GatewayReason.NOT_A_READING, detail)])

    readings: list[Reading] = []
    dead_letters: list[DeadLetter] = []
    stripped = 0
    now_ms = _epoch_ms(received_at)
    for i, element in enumerate(elements):
        try:
            reading, dropped = _reading(element, parts, now_ms, policy)
        except _RejectedError as rejected:
            index = i if indexed else None
            where = f"element {i}: " if indexed else ""
            dead_letters.append(dead(rejected.reason, where + rejected.detail, index))
        else:
            readings.append(reading)
            stripped += dropped
    return Decoded(readings=readings, dead_letters=dead_letters, stripped_sensors=stripped, indexed=indexed)


def _refused_json(exc: orjson.JSONDecodeError) -> tuple[GatewayReason, str]:
    """Why orjson refused a payload, as precisely as its message and position tell.

    orjson reports the first fault only, as text: a sender is told the fault it can fix (its
    encoder writes ``NaN``, its bytes are Latin-1, its nesting runs away) rather than "not JSON".
    """
    message = str(exc)
    if "not valid UTF-8" in message:
        return GatewayReason.NOT_UTF8, f"not UTF-8 text: {message}"
    if "infinity" in message:  # "number is infinity when parsed as double": 1e400, 400 digits
        return GatewayReason.NON_FINITE, f"a number beyond a double: {message}"
    if "depth limit" in message:
        return GatewayReason.NOT_A_READING, f"nested deeper than 1,024 levels, where no reading is: {message}"
    token = _non_finite_token(exc.doc, exc.pos)
    if token is not None:
        detail = f"{token!r} at char {exc.pos}: JSON has no NaN or infinity, a reading must be finite"
        return GatewayReason.NON_FINITE, detail
    return GatewayReason.MALFORMED_JSON, f"not JSON: {message}"


def _non_finite_token(doc: object, pos: int) -> str | None:
    """The ``NaN``/``Infinity`` token where orjson stopped (it stops after a sign: ``-Infinity``)."""
    if not isinstance(doc, str):
        return None
    for start in (pos - 1, pos):  # a sign first, so the detail shows it
        if start < 0 or (start < pos and doc[start] not in "+-"):
            continue
        match = _NON_FINITE_TOKEN.match(doc, start)
        if match is not None:
            return match[0]
    return None


def _reading(element: Any, parts: TopicParts, now_ms: int, policy: ContractPolicy) -> tuple[Reading, int]:
    if not isinstance(element, dict):
        raise _RejectedError(
            GatewayReason.NOT_A_READING, f"a JSON {_json_type(element)} where a reading object belongs"
        )
    extra = element.keys() - _FIELDS
    if extra:
        raise _RejectedError(
            GatewayReason.UNKNOWN_FIELD, f"fields not in schema {SCHEMA_VERSION}: {sorted(extra)}"
        )
    schema = _required(element, "schema")
    if not _is_int(schema):
        raise _RejectedError(
            GatewayReason.WRONG_TYPE, f"schema must be an integer, got a JSON {_json_type(schema)}"
        )
    if schema not in SUPPORTED_SCHEMAS:
        raise _RejectedError(
            GatewayReason.UNKNOWN_SCHEMA, f"schema {schema} is not one of {sorted(SUPPORTED_SCHEMAS)}"
        )
    asset_id = _required(element, "asset_id")
    if not isinstance(asset_id, str):
        raise _RejectedError(
            GatewayReason.WRONG_TYPE, f"asset_id must be a string, got a JSON {_json_type(asset_id)}"
        )
    if asset_id != parts.asset_id:
        raise _RejectedError(
            GatewayReason.ASSET_MISMATCH,
            f"asset_id {_shown(asset_id)} but the topic names {parts.asset_id!r}",
        )
    ts_ms = _timestamp_ms(_required(element, "ts"))
    age_ms = now_ms - ts_ms
    if age_ms > policy.max_age_s * 1000:
        raise _RejectedError(
            GatewayReason.TOO_OLD, f"ts is {age_ms / 1000:.0f} s old, limit {policy.max_age_s:.0f} s"
        )
    if -age_ms > policy.max_future_skew_s * 1000:
        raise _RejectedError(
            GatewayReason.TOO_FAR_IN_FUTURE,
            f"ts is {-age_ms / 1000:.0f} s ahead of receive time, limit {policy.max_future_skew_s:.0f} s",
        )
    seq = _required(element, "seq")
    if not _is_int(seq) or not 0 <= seq <= MAX_INT64:
        raise _RejectedError(
            GatewayReason.WRONG_TYPE, f"seq must be an integer in [0, 2^63), got {_shown(seq)}"
        )
    settings = _numbers(element.get("settings", {}), "settings")
    sensors = _numbers(_required(element, "sensors"), "sensors")
    if not sensors:
        raise _RejectedError(
            GatewayReason.MISSING_FIELD, "sensors is empty: a reading needs at least one value"
        )
    dropped = 0
    if policy.known_sensors:
        unknown = sensors.keys() - policy.known_sensors
        if unknown and policy.unknown_sensors is UnknownSensorPolicy.REJECT:
            raise _RejectedError(GatewayReason.UNKNOWN_SENSOR, f"unknown sensors {sorted(unknown)}")
        if unknown and policy.unknown_sensors is UnknownSensorPolicy.STRIP:
            sensors = {k: v for k, v in sensors.items() if k not in unknown}
            dropped = len(unknown)
            if not sensors:
                raise _RejectedError(GatewayReason.UNKNOWN_SENSOR, f"only unknown sensors {sorted(unknown)}")
    return Reading(asset_id, parts.site, ts_ms, seq, settings, sensors, schema), dropped


def _required(element: dict[str, Any], name: str) -> Any:
    try:
        return element[name]
    except KeyError:
        raise _RejectedError(GatewayReason.MISSING_FIELD, f"{name} is missing") from None


def _numbers(value: Any, name: str) -> dict[str, float]:
    if type(value) is not dict:
        raise _RejectedError(
            GatewayReason.WRONG_TYPE, f"{name} must be an object of numbers, got a JSON {_json_type(value)}"
        )
    bad = bad_name(value.keys())  # the scoring job's rule too: a name it refuses never passes here
    if bad is not None:
        raise _RejectedError(GatewayReason.BAD_NAME, f"{name} name {_shown(bad[0])} {bad[1]}")
    # Runs for every reading: exact type checks (orjson never makes subclasses; bool is excluded).
    out: dict[str, float] = {}
    for key, number in value.items():
        kind = type(number)
        if kind is not float and kind is not int:
            raise _RejectedError(
                GatewayReason.WRONG_TYPE, f"{name}.{key} must be a number, got {_shown(number)}"
            )
        as_float = float(number)
        if not _isfinite(as_float):
            raise _RejectedError(GatewayReason.NON_FINITE, f"{name}.{key} is not finite")
        out[key] = as_float
    return out


def _timestamp_ms(value: Any) -> int:
    if _is_int(value):
        if not 0 <= value <= MAX_TS_MS:
            raise _RejectedError(
                GatewayReason.BAD_TIMESTAMP, f"epoch milliseconds {value} not in [0, {MAX_TS_MS}]"
            )
        return int(value)
    if not isinstance(value, str):
        raise _RejectedError(
            GatewayReason.BAD_TIMESTAMP, f"ts must be RFC 3339 text or epoch ms, got {_shown(value)}"
        )
    if len(value) < 20 or value[10] not in "Tt ":
        raise _RejectedError(GatewayReason.BAD_TIMESTAMP, f"ts {value[:40]!r} is not an RFC 3339 date-time")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise _RejectedError(
            GatewayReason.BAD_TIMESTAMP, f"ts {value[:40]!r} is not an RFC 3339 date-time"
        ) from None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise _RejectedError(GatewayReason.BAD_TIMESTAMP, f"ts {value[:40]!r} has no UTC offset")
    try:
        ts_ms = _epoch_ms(parsed)
    except (OverflowError, ValueError):
        ts_ms = -1
    if not 0 <= ts_ms <= MAX_TS_MS:  # the same range as epoch ms: 1970 to 2262 (InfluxDB's time range)
        raise _RejectedError(GatewayReason.BAD_TIMESTAMP, f"ts {value[:40]!r} out of range (1970 to 2262)")
    return ts_ms


def _epoch_ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def _is_int(value: Any) -> bool:
    return type(value) is int  # JSON integers: orjson never makes subclasses; excludes bool


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _json_type(value: Any) -> str:
    match value:
        case bool():
            return "boolean"
        case int() | float():
            return "number"
        case str():
            return "string"
        case list():
            return "array"
        case dict():
            return "object"
        case None:
            return "null"
    return type(value).__name__
