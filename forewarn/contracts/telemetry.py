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

What can never be stored is refused here, by rules the gateway applies too (it imports them), so
what the gateway forwards always decodes, and a record that does not (an older gateway, a producer
bug, a hand-written revival) is the scoring job's ``not_canonical`` dead letter rather than a
refusal by a sink downstream:

- **names** (``asset_id``, ``site``, every setting and sensor name; :func:`name_problem`): 1 to
  :data:`MAX_NAME_CHARS` characters; no control character (U+0000-U+001F, U+007F-U+009F), no line or
  paragraph separator (U+2028, U+2029), no surrogate, no Unicode noncharacter (U+FDD0-U+FDEF and
  U+xFFFE/U+xFFFF of every plane); not ending with a backslash. A newline breaks a line-protocol line
  (InfluxDB 1.x refuses the batch), and 1.x cannot carry a trailing backslash in a key or tag value
  (``a\\`` is refused however it is escaped); the other control characters, separators and
  noncharacters InfluxDB 1.x stores, but Mosquitto refuses them in topics (so an ``asset_id`` that
  holds one could never be published), they break logs and consoles, and no sensor is named so.
  Everything else is a name: spaces, commas, ``=``, quotes, backslashes inside, emoji, ``time``
  (a field is ``sensor.time`` in InfluxDB, never ``time``), leading ``_``.
- **values**: finite numbers as doubles. Booleans are not numbers; a JSON number beyond a double's
  range (``1e400``, a 400-digit integer) is not finite.
- **``ts``**: epoch milliseconds in [0, :data:`MAX_TS_MS`] (InfluxDB's last representable
  nanosecond: a later point is refused by the store).
- **``seq``**: an integer in [0, 2^63).
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from pyspark.sql.types import ArrayType, StructType

SCHEMA_VERSION = 1
MAX_INT64 = 2**63 - 1
MAX_NAME_CHARS = 128
"""The longest name (asset id, site, setting or sensor name) a reading may carry, in characters."""
MAX_TS_MS = 9_223_372_036_854
"""The latest event time, epoch milliseconds: 2262-04-11T23:47:16.854Z, the last nanosecond an
int64 holds, where InfluxDB's time range ends (1.x refuses a later point: "time outside range")."""
_NONCHARACTERS = "\ufdd0-\ufdef" + "".join(
    f"{chr(plane << 16 | 0xFFFE)}{chr(plane << 16 | 0xFFFF)}" for plane in range(17)
)
_BAD_NAME_CHARACTER = re.compile(f"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff{_NONCHARACTERS}]")
Headers = list[tuple[str, bytes]]


class FieldKind(StrEnum):
    """The JSON kind of a canonical field (and so its Spark type)."""

    INT = "int"
    """A JSON integer that fits 32 bits (the schema version)."""
    LONG = "long"
    """A JSON integer that fits 64 bits (epoch milliseconds, sequence numbers)."""
    TEXT = "text"
    """A JSON string that is a name (:func:`name_problem`)."""
    NUMBERS = "numbers"
    """A JSON object of name (:func:`name_problem`) → finite number. Spark reads it as its JSON text
    (see :func:`spark_schema`)."""


@dataclass(frozen=True, slots=True)
class ReadingField:
    """One field of a canonical reading.

    Attributes:
        name: the JSON key (and Spark column).
        attribute: the :class:`Reading` attribute it holds.
        kind: its JSON kind.
        required: a reading without it (or with null) is not canonical. ``settings`` is optional:
            a reading with no operating regime is still scorable.
        maximum: the largest value of an integer field (its kind's range when None).
    """

    name: str
    attribute: str
    kind: FieldKind
    required: bool = True
    maximum: int | None = None


FIELDS: tuple[ReadingField, ...] = (
    ReadingField("schema", "schema", FieldKind.INT),
    ReadingField("asset_id", "asset_id", FieldKind.TEXT),
    ReadingField("site", "site", FieldKind.TEXT),
    ReadingField("ts", "ts_ms", FieldKind.LONG, maximum=MAX_TS_MS),
    ReadingField("seq", "seq", FieldKind.LONG),
    ReadingField("settings", "settings", FieldKind.NUMBERS, required=False),
    ReadingField("sensors", "sensors", FieldKind.NUMBERS),
)
"""A canonical reading's fields, in the order they are written."""
FIELD_NAMES: tuple[str, ...] = tuple(f.name for f in FIELDS)
_FIELD_SET = frozenset(FIELD_NAMES)


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
    held, so its letter shows the fault: see ``streaming.runs.Readings.canonical``)."""
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
    extra = item.keys() - _FIELD_SET
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


def name_problem(name: str) -> str | None:
    """What makes ``name`` no name a reading may carry (see the module docstring), or None.

    Shared by the gateway's input rules and :func:`decode_run`, which must agree; it runs for every
    setting and sensor name of every reading on both, so a name of printable ASCII (every fleet's
    names so far) costs two string methods and a length check, and only others meet the regex.
    """
    if not 0 < len(name) <= MAX_NAME_CHARS:
        return f"must have 1..{MAX_NAME_CHARS} characters, has {len(name)}"
    if name[-1] == "\\":
        return "must not end with a backslash (InfluxDB line protocol cannot carry one there)"
    if not (name.isascii() and name.isprintable()):
        bad = _BAD_NAME_CHARACTER.search(name)
        if bad is not None:
            return f"must not hold U+{ord(bad[0]):04X} (a control character, separator or noncharacter)"
    return None


_known_names: set[str] = set()
"""Names that passed :func:`name_problem` (a reading's names repeat: a set lookup instead of a check)."""
_MAX_KNOWN_NAMES = 65_536
"""Names come from sites: the memory of checked ones stays bounded (beyond it, new names are checked
each time)."""


def bad_name(names: Collection[str]) -> tuple[str, str] | None:
    """The first name in ``names`` that :func:`name_problem` refuses and why, or None when all pass.

    Names already seen cost one set comparison for the lot (it runs per reading in the gateway and
    the scoring job: a check per name was a quarter of :func:`decode_run`'s time).
    """
    if _known_names.issuperset(names):
        return None
    for name in names:
        problem = name_problem(name)
        if problem is not None:
            return name, problem
    if len(_known_names) < _MAX_KNOWN_NAMES:
        _known_names.update(names)
    return None


def _checked(spec: ReadingField, value: object) -> Any:
    match spec.kind:
        case FieldKind.INT | FieldKind.LONG:
            limit = spec.maximum or (2**31 - 1 if spec.kind is FieldKind.INT else MAX_INT64)
            if type(value) is not int or not 0 <= value <= limit:
                raise ValueError(f"{spec.name} must be an integer in [0, {limit}], got {_shown(value)}")
            return value
        case FieldKind.TEXT:
            if not isinstance(value, str):
                raise ValueError(f"{spec.name} must be a string, got {_shown(value)}")
            if value not in _known_names:
                problem = name_problem(value)
                if problem is not None:
                    raise ValueError(f"{spec.name} {_shown(value)} {problem}")
                if len(_known_names) < _MAX_KNOWN_NAMES:
                    _known_names.add(value)
            return value
        case FieldKind.NUMBERS:
            if not isinstance(value, dict):
                raise ValueError(f"{spec.name} must be an object of numbers")
            bad = bad_name(value.keys())
            if bad is not None:
                raise ValueError(f"{spec.name} name {_shown(bad[0])} {bad[1]}")
            out: dict[str, float] = {}
            for name, number in value.items():
                try:  # float() of a huge JSON integer overflows: not a finite double either
                    as_float = float(number) if type(number) in (int, float) else math.nan
                except OverflowError:
                    as_float = math.nan
                if not math.isfinite(as_float):
                    raise ValueError(
                        f"{spec.name}.{name!r:.40} must be a finite number, got {_shown(number)}"
                    )
                out[name] = as_float
            return out
    raise AssertionError(spec.kind)  # pragma: no cover - every kind is matched above


def _shown(value: object) -> str:
    """A value in an error message: its repr, at most 40 characters (a repr never holds a control
    character; an integer beyond Python's 4,300-digit repr limit is named by its size)."""
    try:
        text = repr(value)
    except ValueError:
        return f"an integer of {value.bit_length() if isinstance(value, int) else '?'} bits"
    return text if len(text) <= 40 else text[:37] + "..."


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
