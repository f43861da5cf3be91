"""Kafka ``telemetry`` records → readings, column by column, in the scoring job's Python step.

The JVM moves each record's bytes (a run of one asset's readings, ``forewarn.contracts.telemetry``)
through the shuffle untouched; Python parses it here, once, with orjson. A record is used only if
the contract's own decoder (:func:`forewarn.contracts.telemetry.decode_run`) would accept it and
its Kafka key is its asset: anything else is a ``not_canonical`` dead letter with the decoder's
words, and nothing a producer writes can raise out of :func:`read_records`.

The contract's decoder checks every value and every name of every reading (about 13 µs a
reading of the C-MAPSS shape). Most records look alike, so a fast path accepts a record when its
structure is the plain canonical one (exact keys, integers and strings where they belong, every
value a JSON float: JSON has no NaN or infinity, so those are finite, at least one sensor) and
every name in it passes the decoder's own name checks (:func:`name_problem`, :func:`bad_name`;
each name set and asset/site pair is checked once per worker, then remembered); any other record
goes through the decoder itself. The fast path therefore never accepts what the decoder refuses (a
property test checks the two agree). Until Dec 2026 the fast path took only pairs and name sets
the decoder had accepted before, so each worker's first record of every asset went through the
decoder: 8 % of the step's samples in a 2,000-asset drain.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from forewarn.contracts.telemetry import (
    FIELD_NAMES,
    MAX_INT64,
    MAX_TS_MS,
    SCHEMA_VERSION,
    bad_name,
    decode_run,
    name_problem,
)

_ALL_FIELDS = frozenset(FIELD_NAMES)
_WITHOUT_SETTINGS = _ALL_FIELDS - {"settings"}
_CHECKED_MAX = 65_536
"""How many name sets and asset/site pairs a worker remembers as accepted (beyond it, new ones are
checked each time)."""


@dataclass
class Readings:
    """The canonical readings of a set of records, one entry per reading, in record order.

    ``values`` is each reading's settings and sensors as one mapping (sensors win a name clash):
    what the window keeps. ``settings`` and ``sensors`` stay apart for the InfluxDB points; every
    value is a finite float (the fast path takes JSON floats only, and orjson refuses a number that
    overflows a double; the decoder refuses the rest), which the bulk points rely on.
    ``record`` is the position of the reading's record in the input.
    """

    asset: list[str] = field(default_factory=list)
    site: list[str] = field(default_factory=list)
    ts: list[int] = field(default_factory=list)
    seq: list[int] = field(default_factory=list)
    settings: list[dict[str, float]] = field(default_factory=list)
    sensors: list[dict[str, float]] = field(default_factory=list)
    record: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.seq)

    def add(self, asset: str, site: str, ts: int, seq: int, settings: dict[str, float],
            sensors: dict[str, float], record: int) -> None:  # fmt: skip
        self.asset.append(asset)
        self.site.append(site)
        self.ts.append(ts)
        self.seq.append(seq)
        self.settings.append(settings)
        self.sensors.append(sensors)
        self.record.append(record)

    def values(self, i: int) -> dict[str, float]:
        """Reading ``i``'s settings and sensors as one mapping (sensors win a name clash)."""
        settings, sensors = self.settings[i], self.sensors[i]
        return {**settings, **sensors} if settings else sensors

    def canonical(self, i: int) -> bytes:
        """Reading ``i`` as a one-reading ``telemetry`` value (the payload of its dead letter)."""
        return orjson.dumps(
            [
                {
                    "schema": SCHEMA_VERSION,
                    "asset_id": self.asset[i],
                    "site": self.site[i],
                    "ts": self.ts[i],
                    "seq": self.seq[i],
                    "settings": self.settings[i],
                    "sensors": self.sensors[i],
                }
            ]
        )


@dataclass(frozen=True)
class Refused:
    """A record that is not canonical telemetry: its position in the input and why."""

    record: int
    detail: str


_accepted_names: set[tuple[str | None, ...]] = set()  # settings names, None, sensor names
_accepted_origins: set[tuple[str, str]] = set()


def _origin_accepted(asset: str, site: str) -> bool:
    """The decoder's check of an asset id and site (:func:`name_problem`), remembered per pair."""
    if (asset, site) in _accepted_origins:
        return True
    if name_problem(asset) is not None or name_problem(site) is not None:
        return False
    if len(_accepted_origins) < _CHECKED_MAX:
        _accepted_origins.add((asset, site))
    return True


def _names_accepted(settings: dict[str, Any], sensors: dict[str, Any]) -> bool:
    """The decoder's check of setting and sensor names (:func:`bad_name`), remembered per set."""
    names = (*settings, None, *sensors)
    if names in _accepted_names:
        return True
    if bad_name(settings.keys()) is not None or bad_name(sensors.keys()) is not None:
        return False
    if len(_accepted_names) < _CHECKED_MAX:
        _accepted_names.add(names)
    return True


def _fast(items: Any, key: str | None, record: int, out: Readings) -> bool:
    """Add the run's readings to ``out`` when it passes the fast path; False (``out`` untouched) when
    the contract's decoder must decide."""
    if type(items) is not list or not items:
        return False
    start = len(out)
    for item in items:
        if type(item) is not dict:
            break
        keys = item.keys()
        if keys != _ALL_FIELDS and keys != _WITHOUT_SETTINGS:
            break
        schema, asset, site, ts, seq = item["schema"], item["asset_id"], item["site"], item["ts"], item["seq"]
        settings = item.get("settings", {})
        sensors = item["sensors"]
        if not (
            type(schema) is int
            and schema == SCHEMA_VERSION
            and asset == key
            and type(ts) is int
            and type(seq) is int
            and 0 <= ts <= MAX_TS_MS
            and 0 <= seq <= MAX_INT64
            and type(asset) is str
            and type(site) is str
            and type(settings) is dict
            and type(sensors) is dict
            and sensors
            and _origin_accepted(asset, site)
            and _names_accepted(settings, sensors)
        ):
            break
        if not all(type(v) is float for v in sensors.values()):
            break
        if settings and not all(type(v) is float for v in settings.values()):
            break
        out.add(asset, site, ts, seq, settings, sensors, record)
    else:
        return True
    for column in (out.asset, out.site, out.ts, out.seq, out.settings, out.sensors, out.record):
        del column[start:]
    return False


def read_records(
    keys: Sequence[str | None], values: Sequence[bytes | None]
) -> tuple[Readings, list[Refused]]:
    """Every record's readings (in record order), and the records that are not canonical.

    Never raises on what a producer wrote: the decoder's ``ValueError`` becomes a :class:`Refused`.
    """
    out = Readings()
    refused: list[Refused] = []
    for record, (key, value) in enumerate(zip(keys, values, strict=True)):
        if value is None:
            refused.append(Refused(record, "the record has no value"))
            continue
        raw = bytes(value)
        try:
            items = orjson.loads(raw)
        except orjson.JSONDecodeError:
            items = None
        if items is not None and _fast(items, key, record, out):
            continue
        try:
            readings = decode_run(raw)
        except ValueError as exc:
            refused.append(Refused(record, str(exc)))
            continue
        if readings[0].asset_id != key:
            refused.append(
                Refused(
                    record,
                    f"the record's key {key!r:.60} is not its readings' asset_id "
                    f"{readings[0].asset_id!r:.60}",
                )
            )
            continue
        for r in readings:
            out.add(r.asset_id, r.site, r.ts_ms, r.seq, dict(r.settings), dict(r.sensors), record)
    return out, refused
