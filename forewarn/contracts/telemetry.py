"""The Kafka ``telemetry`` contract, schema version 1: one run of canonical readings of one asset.

Written by the gateway (``ingest``), read by the scoring job (``streaming``) and revived by
``forewarn dlq replay``; each of them imports this module. A record is::

    key     = asset_id (UTF-8)
    value   = [{"schema": 1, "asset_id": "pump-7", "site": "site-1", "ts": 1767225600000, "seq": 42,
                "settings": {"load": 0.8}, "sensors": {"vibration_mm_s": 2.1}}, ...]
    headers = site, schema, gateway_id, received_at (RFC 3339, milliseconds)

Canonical means: ``ts`` always epoch milliseconds, every value a float, ``settings`` always written,
``site`` added from the MQTT topic. Always an array, even for one reading, so consumers (Spark's
``from_json`` with an array schema plus ``explode``) have one shape. A run per record rather than a
record per reading because per-record cost dominates a Python producer (``bench/ingest.py``).

:data:`FIELDS` is the one list of a reading's fields; :func:`canonical`, :func:`decode_run` and the
scoring job's Spark schema (:func:`spark_schema`) are built from it or checked against it by a test.
The MQTT payload's rules (RFC 3339 or epoch ``ts``, optional ``settings``, the policy limits) are the
gateway's input rules and stay in ``ingest.contract``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from pyspark.sql.types import ArrayType, StructType

SCHEMA_VERSION = 1
MAX_INT64 = 2**63 - 1
Headers = list[tuple[str, bytes]]


class FieldKind(StrEnum):
    """The JSON kind of a canonical field (and so its Spark type)."""

    INT = "int"
    """A JSON integer that fits 32 bits (the schema version)."""
    LONG = "long"
    """A JSON integer that fits 64 bits (epoch milliseconds, sequence numbers)."""
    TEXT = "text"
    """A non-empty JSON string."""
    NUMBERS = "numbers"
    """A JSON object of name → finite number. Spark reads it as its JSON text (see :func:`spark_schema`)."""


@dataclass(frozen=True, slots=True)
class ReadingField:
    """One field of a canonical reading.

    Attributes:
        name: the JSON key (and Spark column).
        attribute: the :class:`Reading` attribute it holds.
        kind: its JSON kind.
        required: a reading without it (or with null) is not canonical. ``settings`` is optional:
            a reading with no operating regime is still scorable.
    """

    name: str
    attribute: str
    kind: FieldKind
    required: bool = True


FIELDS: tuple[ReadingField, ...] = (
    ReadingField("schema", "schema", FieldKind.INT),
    ReadingField("asset_id", "asset_id", FieldKind.TEXT),
    ReadingField("site", "site", FieldKind.TEXT),
    ReadingField("ts", "ts_ms", FieldKind.LONG),
    ReadingField("seq", "seq", FieldKind.LONG),
    ReadingField("settings", "settings", FieldKind.NUMBERS, required=False),
    ReadingField("sensors", "sensors", FieldKind.NUMBERS),
)
"""A canonical reading's fields, in the order they are written."""
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)


@dataclass(frozen=True, slots=True)
class Reading:
    """One validated reading: event time in epoch milliseconds (UTC), values as finite floats."""

    asset_id: str
    site: str
    ts_ms: int
    seq: int
    settings: Mapping[str, float]
    sensors: Mapping[str, float]
    schema: int = SCHEMA_VERSION

    @property
    def ts(self) -> datetime:
        """Event time as a timezone-aware UTC datetime."""
        return datetime.fromtimestamp(self.ts_ms / 1000, tz=UTC)


def _plain(value: object) -> object:
    """A mapping as a plain dict for orjson; anything else as it is (a dead reading keeps what it
    held, so its letter shows the fault: see ``streaming.state.canonical_json``)."""
    if type(value) is dict:  # the usual case, per reading on the gateway: orjson reads it as it is
        return value
    return dict(value) if isinstance(value, Mapping) else value


def canonical(reading: Reading) -> dict[str, Any]:
    """The canonical JSON object of one reading (keys in :data:`FIELDS` order)."""
    # Written out rather than looped over FIELDS: the gateway calls this per reading, and a test
    # checks that the keys are FIELD_NAMES in order.
    return {
        "schema": reading.schema,
        "asset_id": reading.asset_id,
        "site": reading.site,
        "ts": reading.ts_ms,
        "seq": reading.seq,
        "settings": _plain(reading.settings),
        "sensors": _plain(reading.sensors),
    }


def encode_run(readings: Sequence[Reading]) -> bytes:
    """The ``telemetry`` value for a run of readings of one asset (a JSON array, payload order)."""
    return orjson.dumps([canonical(r) for r in readings])


def decode_run(value: bytes) -> list[Reading]:
    """Readings from a ``telemetry`` value, checked field by field against :data:`FIELDS`.

    A value is canonical when it is a non-empty JSON array of readings of one asset, each an object
    with exactly the fields of :data:`FIELDS` (``settings`` may be absent), schema
    :data:`SCHEMA_VERSION`, integers where integers belong and finite numbers in ``settings`` and
    ``sensors`` (at least one sensor).

    Raises:
        ValueError: the value is not canonical (a producer bug, or a dead letter not fixed yet),
            with what is wrong.
    """
    try:
        items = orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not a canonical telemetry value: not JSON: {exc}") from None
    if not isinstance(items, list) or not items:
        raise ValueError("not a canonical telemetry value: not a non-empty JSON array")
    readings = []
    for i, item in enumerate(items):
        try:
            readings.append(_reading(item))
        except ValueError as exc:
            raise ValueError(f"not a canonical telemetry value: element {i}: {exc}") from None
    assets = {r.asset_id for r in readings}
    if len(assets) > 1:
        raise ValueError(f"not a canonical telemetry value: a run of one asset, got {sorted(assets)}")
    return readings


def _reading(item: object) -> Reading:
    if not isinstance(item, dict):
        raise ValueError("not a JSON object")
    extra = item.keys() - set(FIELD_NAMES)
    if extra:
        raise ValueError(f"fields not in schema {SCHEMA_VERSION}: {sorted(extra)}")
    values: dict[str, Any] = {}
    for spec in FIELDS:
        value = item.get(spec.name)
        if value is None:
            if spec.required:
                raise ValueError(f"{spec.name} is missing")
            value = {}
        values[spec.attribute] = _checked(spec, value)
    if values["schema"] != SCHEMA_VERSION:
        raise ValueError(f"schema {values['schema']}, expected {SCHEMA_VERSION}")
    if not values["sensors"]:
        raise ValueError("sensors is empty")
    return Reading(**values)


def _checked(spec: ReadingField, value: object) -> Any:
    match spec.kind:
        case FieldKind.INT | FieldKind.LONG:
            limit = 2**31 - 1 if spec.kind is FieldKind.INT else MAX_INT64
            if type(value) is not int or not 0 <= value <= limit:
                raise ValueError(f"{spec.name} must be an integer in [0, {limit}], got {value!r:.40}")
            return value
        case FieldKind.TEXT:
            if not isinstance(value, str) or not value:
                raise ValueError(f"{spec.name} must be a non-empty string, got {value!r:.40}")
            return value
        case FieldKind.NUMBERS:
            if not isinstance(value, dict):
                raise ValueError(f"{spec.name} must be an object of numbers")
            out: dict[str, float] = {}
            for name, number in value.items():
                try:  # float() of a huge JSON integer overflows: not a finite double either
                    as_float = float(number) if type(number) in (int, float) else math.nan
                except OverflowError:
                    as_float = math.nan
                if not math.isfinite(as_float):
                    raise ValueError(f"{spec.name}.{name} must be a finite number, got {number!r:.40}")
                out[name] = as_float
            return out
    raise AssertionError(spec.kind)  # pragma: no cover - every kind is matched above


def telemetry_headers(site: str, gateway_id: str, received_at: datetime) -> Headers:
    """Headers of a ``telemetry`` record: site, schema version, gateway id, receive time (RFC 3339)."""
    return [
        ("site", site.encode()),
        ("schema", str(SCHEMA_VERSION).encode()),
        ("gateway_id", gateway_id.encode()),
        ("received_at", received_at.isoformat(timespec="milliseconds").encode()),
    ]


def spark_schema() -> tuple[StructType, ArrayType]:
    """The Spark struct of one canonical reading and the array type of a run, from :data:`FIELDS`.

    ``settings`` and ``sensors`` stay JSON text (``StringType``): Spark hands an object's raw text
    to a string field, and the scoring job's per-asset state parses it, so a champion that reads
    other sensors needs no new plan. pyspark is imported here only, so this module stays light.
    """
    from pyspark.sql.types import ArrayType, IntegerType, LongType, StringType, StructField, StructType

    types = {
        FieldKind.INT: IntegerType(),
        FieldKind.LONG: LongType(),
        FieldKind.TEXT: StringType(),
        FieldKind.NUMBERS: StringType(),
    }
    struct = StructType([StructField(f.name, types[f.kind]) for f in FIELDS])
    return struct, ArrayType(struct)
