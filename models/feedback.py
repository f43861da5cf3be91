"""The feedback loop's training source: work-order labels plus the assets' telemetry in InfluxDB.

``forewarn labels export`` writes one label per completed work order in the label file of
:mod:`forewarn.contracts.labels` (``asset_id``, ``ts``, ``failure_mode`` or ``none``, ``source`` =
``work_order`` | ``false_alarm``). The streaming job stores every reading in the InfluxDB measurement
``telemetry`` (tags ``site``, ``asset_id``; fields = the reading's settings and sensors, apart by
the InfluxDB contract's prefixes ``setting.<name>`` and ``sensor.<name>``, plus ``seq``; time = the
reading's event time), so any fleet's settings are read as settings. Here both meet: each
labelled asset's telemetry is read back, and :func:`models.labels.rul_from_label_times` gives each
reading its RUL in steps to the asset's next confirmed fault; a ``none`` label (false alarm, sound
inspection) proves the asset had not failed by then, which makes earlier readings healthy examples.

Telemetry must be stored at full rate (``FOREWARN_STREAM_TELEMETRY_TO_INFLUX=raw``, the default):
features are computed over consecutive readings, as the streaming job does.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd

from forewarn.contracts.influx_schema import SENSOR_PREFIX, ValueKind, parse_value_field
from forewarn.contracts.labels import LABEL_FILE_COLUMNS, NO_FAILURE
from forewarn.influx import quote_ident
from forewarn.settings import InfluxSettings
from models.columns import TIME_MS, SourceColumns
from models.dataset import cmapss_columns
from models.fleet_source import FLEET_COLUMNS
from models.labels import LabelError, validate_labels
from models.predictor import ASSET
from models.sources import SourceError, TrainingData

LABELS_SOURCE = "labels:"
"""How a source of work-order labels names itself (``labels:<file>``; combined with the original
source, ``labels:<file>+<base source>``)."""

MEASUREMENT = "telemetry"
UNKNOWN_SETTING_DECIMALS = 2
"""Rounding for regime learning of a setting whose source forewarn does not know (C-MAPSS's finest)."""


def read_label_file(path: Path) -> pd.DataFrame:
    """The label table from a ``forewarn labels export`` file (CSV, or Parquet by suffix).

    Raises:
        SourceError: the file is missing, unreadable, lacks a column, is empty, or a label is bad.
    """
    if not path.is_file():
        raise SourceError(f"label file {path} does not exist")
    try:
        raw = pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path, dtype=str)
    except (ValueError, OSError) as exc:
        raise SourceError(f"cannot read label file {path}: {exc}") from None
    missing = [c for c in LABEL_FILE_COLUMNS if c not in raw.columns]
    if missing:
        raise SourceError(f"label file {path} lacks columns {missing}; expected {list(LABEL_FILE_COLUMNS)}")
    if raw.empty:
        raise SourceError(f"label file {path} holds no labels")
    table = raw.rename(columns={"ts": "time"}).assign(cycle=pd.NA)  # the file's ts is the table's time
    try:
        return validate_labels(table)
    except LabelError as exc:
        raise SourceError(f"label file {path}: {exc}") from None


def _quote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def query_telemetry(
    settings: InfluxSettings, assets: list[str], client: httpx.Client | None = None
) -> pd.DataFrame:
    """Every stored reading of ``assets`` from the ``telemetry`` measurement, one row per point.

    Returns:
        Columns ``asset_id``, ``site``, ``ts_ms`` (epoch ms), ``seq`` and every stored field.

    Raises:
        SourceError: InfluxDB cannot be reached or answers with an error.
    """
    own = client is None
    http = client or httpx.Client(timeout=settings.timeout_s, headers=settings.auth_headers())
    rows: list[dict[str, Any]] = []
    try:
        for asset in assets:
            fields = _asset_fields(http, settings, asset)
            if not fields:
                continue
            # the asset id is quoted and escaped as an InfluxQL string literal, the fields as identifiers
            selected = ", ".join(quote_ident(f) for f in ("site", "asset_id", *sorted(fields)))
            query = f'SELECT {selected} FROM "{MEASUREMENT}" WHERE "asset_id" = {_quote(asset)}'  # noqa: S608
            params = {"db": settings.database, "q": query, "epoch": "ms", "chunked": "true",
                      "chunk_size": "10000"}  # fmt: skip
            try:
                with http.stream("GET", f"{settings.url}/query", params=params) as response:
                    if response.status_code != 200:
                        response.read()
                        raise SourceError(f"InfluxDB answered {response.status_code}: {response.text[:300]}")
                    for document in json_lines(response.iter_bytes()):
                        rows.extend(_points(orjson.loads(document)))
            except httpx.HTTPError as exc:
                raise SourceError(f"cannot read telemetry from InfluxDB at {settings.url}: {exc}") from None
    finally:
        if own:
            http.close()
    return pd.DataFrame(rows)


def _asset_fields(http: httpx.Client, settings: InfluxSettings, asset: str) -> set[str]:
    """The fields an asset's points carry: those with a value in its first or its latest point.

    ``SELECT *`` answers with a column for every field the measurement's shard ever saw, and one
    fleet that sent thousands of sensor names makes every other asset's rows that wide (gigabytes
    for a few dozen assets). An asset's readings carry the same settings and sensors throughout.
    """
    found: set[str] = set()
    for order in ("ASC", "DESC"):
        query = (
            f'SELECT * FROM "{MEASUREMENT}" WHERE "asset_id" = {_quote(asset)}'  # noqa: S608
            f" ORDER BY time {order} LIMIT 1"
        )
        params = {"db": settings.database, "q": query, "epoch": "ms"}
        try:
            response = http.get(f"{settings.url}/query", params=params)
        except httpx.HTTPError as exc:
            raise SourceError(f"cannot read telemetry from InfluxDB at {settings.url}: {exc}") from None
        if response.status_code != 200:
            raise SourceError(f"InfluxDB answered {response.status_code}: {response.text[:300]}")
        for row in _points(orjson.loads(response.content)):
            found.update(k for k, v in row.items() if v is not None and k not in ("time", "site", "asset_id"))
    return found


def json_lines(chunks: Iterable[bytes]) -> Iterator[bytes]:
    """The documents of a chunked InfluxDB answer: one JSON document per ``\n``-ended line.

    Split on ``\n`` alone: a text splitter (``httpx``'s ``iter_lines``, ``str.splitlines``) also
    breaks at U+2028, U+0085, ``\x1c``..., which a field name another fleet sent can hold, and cuts
    a document in two.
    """
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from (line for line in complete if line.strip())
    if pending.strip():
        yield pending


def _points(document: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for result in document.get("results", []):
        if "error" in result:
            raise SourceError(f"InfluxDB query failed: {result['error']}")
        for series in result.get("series", []):
            columns = series["columns"]
            out.extend(dict(zip(columns, values, strict=True)) for values in series["values"])
    return out


def _value_fields(points: pd.DataFrame) -> dict[str, tuple[ValueKind, str]]:
    """The points' setting and sensor fields → (which, the reading's name), told apart by the contract's
    prefixes. A field without a value in these points (``SELECT *`` returns every field of the
    measurement, other fleets' too) is left out, and so is a setting whose name a sensor also has:
    the scoring job merges a reading's settings and sensors with the sensor winning."""
    fields = {
        column: parsed
        for column in points.columns
        if (parsed := parse_value_field(str(column))) is not None and points[column].notna().any()
    }
    sensors = {name for kind, name in fields.values() if kind is ValueKind.SENSOR}
    return {c: (k, name) for c, (k, name) in fields.items() if k is ValueKind.SENSOR or name not in sensors}


def telemetry_readings(points: pd.DataFrame) -> pd.DataFrame:
    """Points as model readings: settings and sensors by the names the readings have (prefixes
    removed: the scoring job hands the model those names), ``cycle`` = ``seq`` (as the streaming job
    does), ``ts_ms`` = time, one row per (asset, seq) (a reading written twice by an at-least-once
    replay counts once). Other fields, and points with no setting or sensor value, are left out."""
    fields = _value_fields(points)
    keep = [c for c in ("time", ASSET, "site", "seq") if c in points.columns]
    frame = points.loc[:, keep + list(fields)].dropna(subset=list(fields), how="all")
    frame = frame.rename(columns={"time": TIME_MS, **{c: name for c, (_, name) in fields.items()}})
    frame[ASSET] = frame[ASSET].astype(str)
    frame["seq"] = pd.to_numeric(frame["seq"]).astype(np.int64)
    frame[TIME_MS] = pd.to_numeric(frame[TIME_MS]).astype(np.int64)
    frame = frame.sort_values([ASSET, "seq", TIME_MS], kind="stable").drop_duplicates(
        [ASSET, "seq"], keep="last"
    )
    frame.insert(1, "cycle", frame["seq"].to_numpy())
    return frame.reset_index(drop=True)


def telemetry_columns(points: pd.DataFrame) -> SourceColumns:
    """Settings and sensors of stored telemetry points, by the names the readings have, told apart
    by the contract's field prefixes (``setting.``, ``sensor.``) whatever the fleet calls them.

    A setting is rounded for regime learning as its source's columns say where forewarn knows the
    source (the simulated fleet, C-MAPSS), else to :data:`UNKNOWN_SETTING_DECIMALS` decimals.

    Raises:
        SourceError: no numeric sensor field.
    """
    fields = {c: v for c, v in _value_fields(points).items() if pd.api.types.is_numeric_dtype(points[c])}
    settings = tuple(name for kind, name in fields.values() if kind is ValueKind.SETTING)
    sensors = tuple(name for kind, name in fields.values() if kind is ValueKind.SENSOR)
    if not sensors:
        raise SourceError(
            f"telemetry has no sensor fields (named {SENSOR_PREFIX}<name>; fields: {list(points.columns)})"
        )
    known = {
        name: decimals
        for columns in (FLEET_COLUMNS, cmapss_columns())
        for name, decimals in zip(columns.settings, columns.setting_decimals, strict=True)
    }
    rounding = tuple(known.get(name, UNKNOWN_SETTING_DECIMALS) for name in settings)
    return SourceColumns(settings, sensors, rounding, cycle_is_age=False)


def reading_step_s(readings: pd.DataFrame) -> float:
    """Seconds between consecutive readings of an asset (the median over the fleet)."""
    gaps = readings.groupby(ASSET)[TIME_MS].diff().dropna()
    gaps = gaps[gaps > 0]
    if gaps.empty:
        raise SourceError("need at least two readings of an asset to know the reading interval")
    return float(gaps.median()) / 1000.0


def labels_source(path: Path, influx: InfluxSettings, rul_cap_steps: int) -> TrainingData:
    """Training data from a label file and the labelled assets' telemetry in InfluxDB.

    Raises:
        SourceError: a bad label file, no telemetry for the labelled assets, or no reading
            before a confirmed fault (nothing to learn RUL from).
    """
    labels = read_label_file(path)
    assets = sorted(labels["asset_id"].unique())
    points = query_telemetry(influx, assets)
    if points.empty:
        raise SourceError(
            f"no telemetry for the {len(assets)} labelled assets in InfluxDB database {influx.database!r}"
        )
    columns = telemetry_columns(points)
    readings = telemetry_readings(points)
    step_s = reading_step_s(readings)
    from models.labels import rul_from_label_times

    targets = rul_from_label_times(readings, labels, ASSET, TIME_MS, step_s, min_known_rul=rul_cap_steps)
    frame = pd.concat([readings.drop(columns=["site"], errors="ignore"), targets], axis=1)
    if not (frame["rul_cycles"] < rul_cap_steps).any():
        raise SourceError("no telemetry before a confirmed fault: the labels give nothing to learn RUL from")
    faults = int((labels["failure_mode"] != NO_FAILURE).sum())
    params = {
        "labels_file": path.name,
        "labels": len(labels),
        "labels_faults": faults,
        "labelled_assets": len(assets),
        "influx_database": influx.database,
        "step_s": step_s,
    }
    return TrainingData(frame, columns, f"{LABELS_SOURCE}{path.name}", params, labels=labels, step_s=step_s)
