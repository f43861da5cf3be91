"""The per-asset stateful step and the batch scoring step of the scoring job.

:func:`make_update` is the function for ``groupBy("asset_id").applyInPandasWithState``. State per
asset is its last W readings as arrays (``seq`` as int64 bytes, the column names, the values as
float64 bytes), never re-parsed: each reading's JSON is parsed once, when it arrives. Each call merges the
micro-batch's readings (:mod:`streaming.window` rules), computes the fresh readings' feature
rows with the champion's own feature function, and emits rows of five kinds: ``features`` (one
per fresh reading, with the model version that computed them), ``late`` and ``unscorable`` (dead
letters, with the reading's canonical JSON), ``telemetry`` (the asset's InfluxDB points of the
micro-batch, line protocol: the readings are parsed here anyway, so the job reads and parses
Kafka once for scoring and for the time series) and one ``stats`` row (readings in, duplicates).

:func:`make_scorer` is the function for ``mapInPandas`` after it: it turns all ``features`` rows
of a partition into ``risk`` rows with one ``predict`` per model version (:mod:`streaming.scoring`).
Spark checkpoints the state with the Kafka offsets, so after a crash every reading is merged once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import orjson
import pandas as pd
from pyspark.sql.types import (
    BinaryType,
    DoubleType,
    LongType,
    StringType,
    StructField,
    StructType,
)

from forewarn.contracts.telemetry import Reading, encode_run
from models.features import asset_features
from streaming.scoring import (
    ModelRef,
    champion,
    feature_names,
    model_version,
    required_history,
    score_features,
)
from streaming.sinks import TelemetryPoints
from streaming.window import merge

# The stateful step's rows: what the scoring step reads.
STEP = StructType(
    [
        StructField("kind", StringType()),
        StructField("asset_id", StringType()),
        StructField("site", StringType()),
        StructField("seq", LongType()),
        StructField("event_ts_ms", LongType()),
        StructField("model_version", StringType()),
        StructField("features", BinaryType()),  # float64 feature row, model_version's feature order
        StructField("detail", StringType()),
        StructField("payload", StringType()),
        StructField("readings_in", LongType()),
        StructField("duplicates", LongType()),
        StructField("state_ms", DoubleType()),  # time spent in this asset's call (stats rows)
    ]
)
STEP_COLUMNS = [f.name for f in STEP.fields]

# The scoring step's rows: what the sinks read.
OUTPUT = StructType(
    [
        StructField("kind", StringType()),
        StructField("asset_id", StringType()),
        StructField("site", StringType()),
        StructField("seq", LongType()),
        StructField("event_ts_ms", LongType()),
        StructField("risk", DoubleType()),
        StructField("rul_cycles", DoubleType()),
        StructField("horizon_cycles", DoubleType()),
        StructField("model_name", StringType()),
        StructField("model_version", StringType()),
        StructField("model_alias", StringType()),
        StructField("failure_mode", StringType()),
        StructField("top_features", StringType()),
        StructField("detail", StringType()),
        StructField("payload", StringType()),
        StructField("readings_in", LongType()),
        StructField("duplicates", LongType()),
        StructField("state_ms", DoubleType()),
        StructField("score_ms", DoubleType()),  # time to score this partition batch (on its first row)
        # ``not_canonical`` rows (Kafka records that are not telemetry, unioned in by the job):
        # the finished ``telemetry.dlq`` record
        StructField("dlq_key", StringType()),
        StructField("dlq_value", StringType()),
    ]
)
OUTPUT_COLUMNS = [f.name for f in OUTPUT.fields]

# Binary and text only: pyspark 4.2's Python worker cannot read an array field of a state schema
# back (``KeyError: 'elementType'`` in ``StructType.fromJson``).
STATE = StructType(
    [
        StructField("seq", BinaryType()),  # int64, oldest first
        StructField("columns", StringType()),  # JSON array of the setting and sensor names
        StructField("values", BinaryType()),  # float64, rows x columns, row-major
    ]
)


@dataclass(frozen=True)
class Window:
    """One asset's last readings: seqs (rising), setting/sensor names, values (rows x names)."""

    seq: np.ndarray
    columns: tuple[str, ...]
    values: np.ndarray

    @classmethod
    def empty(cls) -> Window:
        return cls(np.empty(0, dtype=np.int64), (), np.empty((0, 0), dtype=np.float64))

    @classmethod
    def decode(cls, state: Sequence[Any]) -> Window:
        seq, columns, values = state
        seq_array = np.frombuffer(bytes(seq), dtype=np.int64)
        names = tuple(orjson.loads(columns))
        matrix = np.frombuffer(bytes(values), dtype=np.float64).reshape(len(seq_array), len(names))
        return cls(seq_array, names, matrix)

    def encode(self) -> tuple[bytes, str, bytes]:
        return (
            np.ascontiguousarray(self.seq, dtype=np.int64).tobytes(),
            orjson.dumps(list(self.columns)).decode(),
            np.ascontiguousarray(self.values, dtype=np.float64).tobytes(),
        )

    def widened(self, columns: tuple[str, ...]) -> np.ndarray:
        """The values with ``columns`` (a superset, this window's first) filled with NaN where new."""
        if columns == self.columns:
            return self.values
        out = np.full((len(self.seq), len(columns)), np.nan)
        out[:, : len(self.columns)] = self.values
        return out


def reading_parts(settings: str | None, sensors: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """One reading's settings and sensors JSON objects, parsed (kept apart: InfluxDB points need them so).

    Raises:
        ValueError: a settings or sensors value that is not a JSON object (``orjson.JSONDecodeError``
            is a ``ValueError`` too).
    """
    settings_obj = orjson.loads(settings or "{}")
    sensors_obj = orjson.loads(sensors)
    if not isinstance(settings_obj, dict) or not isinstance(sensors_obj, dict):
        raise ValueError("settings and sensors must be JSON objects")
    return settings_obj, sensors_obj


def reading_object(settings: str | None, sensors: str) -> dict[str, Any]:
    """One reading's settings and sensors JSON objects as one mapping (sensors win a name clash).

    Raises:
        ValueError: a settings or sensors value that is not a JSON object (``orjson.JSONDecodeError``
            is a ``ValueError`` too).
    """
    settings_obj, sensors_obj = reading_parts(settings, sensors)
    return {**settings_obj, **sensors_obj}


def parse_values(
    settings: Sequence[str | None], sensors: Sequence[str], known: tuple[str, ...]
) -> tuple[tuple[str, ...], np.ndarray]:
    """Readings' settings and sensors JSON objects → (names, values) (see :func:`values_of`).

    Raises:
        ValueError: a settings or sensors value that is not a JSON object.
    """
    rows = [reading_object(st, se) for st, se in zip(settings, sensors, strict=True)]
    return values_of(rows, known)


def values_of(rows: Sequence[dict[str, Any]], known: tuple[str, ...]) -> tuple[tuple[str, ...], np.ndarray]:
    """Readings as mappings → (names, values): ``known`` names first, then new ones sorted; NaN
    where a reading lacks a name or holds something that is not a number."""
    new = sorted({name for row in rows for name in row} - set(known))
    columns = (*known, *new)
    table = [[row.get(c) for c in columns] for row in rows]
    try:
        values = np.array(table, dtype=np.float64).reshape(len(rows), len(columns))
    except (TypeError, ValueError):
        values = np.array([[_number(v) for v in row] for row in table], dtype=np.float64)
        values = values.reshape(len(rows), len(columns))
    return columns, values


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return float("nan")  # the feature check then reports it as not finite: unscorable
    return float(value)


def canonical_json(asset_id: str, site: str, ts_ms: int, seq: int, settings: str | None, sensors: str) -> str:
    """A reading back in the canonical telemetry encoding (``forewarn.contracts.telemetry``): the
    payload of its dead letter, which ``forewarn dlq replay`` revives to ``telemetry``.

    ``settings`` and ``sensors`` are the JSON texts the job received; text that is not JSON is kept
    as a string, so the letter shows what was wrong.
    """

    def value(text: str | None, default: Any) -> Any:
        try:
            return orjson.loads(text) if text else default
        except orjson.JSONDecodeError:
            return text

    reading = Reading(asset_id, site, int(ts_ms), int(seq), value(settings, {}), value(sensors, None))
    return encode_run([reading]).decode()


class _Rows:
    """Output rows of one call, column by column (one DataFrame at the end)."""

    def __init__(self, columns: list[str]) -> None:
        self.columns: dict[str, list[Any]] = {c: [] for c in columns}

    def add(self, n: int, **values: Any) -> None:
        for column, out in self.columns.items():
            given = values.get(column)
            if isinstance(given, list | np.ndarray):
                out.extend(given)
            else:
                out.extend([given] * n)

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.columns)


@dataclass(frozen=True)
class _Incoming:
    """One asset's readings of a micro-batch as arrays (slicing arrays costs microseconds, slicing
    a DataFrame a fraction of a millisecond, and this runs once per asset and micro-batch)."""

    site: np.ndarray
    ts: np.ndarray
    seq: np.ndarray
    settings: np.ndarray
    sensors: np.ndarray

    @classmethod
    def of(cls, frame: pd.DataFrame) -> _Incoming:
        return cls(
            frame["site"].to_numpy(dtype=object),
            frame["ts"].to_numpy(dtype=np.int64),
            frame["seq"].to_numpy(dtype=np.int64),
            frame["settings"].to_numpy(dtype=object),
            frame["sensors"].to_numpy(dtype=object),
        )

    def take(self, positions: np.ndarray) -> _Incoming:
        return _Incoming(
            self.site[positions],
            self.ts[positions],
            self.seq[positions],
            self.settings[positions],
            self.sensors[positions],
        )


def _dead(out: _Rows, kind: str, asset_id: str, readings: _Incoming, detail: str) -> None:
    payloads = [
        canonical_json(asset_id, site, ts, seq, settings, sensors)
        for site, ts, seq, settings, sensors in zip(
            readings.site, readings.ts.tolist(), readings.seq.tolist(), readings.settings, readings.sensors,
            strict=True,
        )
    ]  # fmt: skip
    out.add(
        len(readings.seq),
        kind=kind,
        asset_id=asset_id,
        site=readings.site.tolist(),
        seq=readings.seq.tolist(),
        event_ts_ms=readings.ts.tolist(),
        detail=detail,
        payload=payloads,
    )


def window_frame(seq: np.ndarray, columns: Sequence[str], values: np.ndarray) -> pd.DataFrame:
    """What :func:`models.features.asset_features` reads of one asset's readings: ``cycle`` (= seq:
    readings since the asset's life began, as C-MAPSS counts cycles) and every setting and sensor.

    One float64 block (``cycle`` as float64 is exact below 2**53): built and column-selected
    several times faster than a frame of mixed dtypes, and this runs per asset and micro-batch.
    """
    block = np.empty((len(seq), len(columns) + 1), dtype=np.float64)
    block[:, 0] = seq
    block[:, 1:] = values
    return pd.DataFrame(block, columns=["cycle", *columns], copy=False)


def _feature_matrix(features: pd.DataFrame, names: list[str]) -> np.ndarray:
    """The feature rows in ``names`` order (asset_features already gives that order: no reindex)."""
    chosen = features if list(features.columns) == names else features.loc[:, names]
    return np.asarray(chosen.to_numpy(dtype=np.float64))


_Parsed = tuple[dict[str, Any], dict[str, Any]] | ValueError


def _parts(readings: _Incoming) -> list[_Parsed]:
    """Each reading's settings and sensors objects (:func:`reading_parts`), or why they are not JSON
    objects: the one parse per reading, which the points read apart and the features merged."""
    out: list[_Parsed] = []
    for settings, sensors in zip(readings.settings, readings.sensors, strict=True):
        try:
            out.append(reading_parts(settings, sensors))
        except ValueError as exc:
            out.append(exc)
    return out


def _objects(parts: Sequence[_Parsed]) -> list[dict[str, Any] | ValueError]:
    """Each reading's settings and sensors as one mapping (as :func:`reading_object`), or why not."""
    return [p if isinstance(p, ValueError) else {**p[0], **p[1]} for p in parts]


def _telemetry(
    out: _Rows, points: TelemetryPoints, asset_id: str, readings: _Incoming, parts: Sequence[_Parsed]
) -> None:
    """One ``telemetry`` row: the InfluxDB points of the readings that parsed, in arrival order."""
    lines = [
        points.line(asset_id, site, ts, seq, *part)
        for site, ts, seq, part in zip(readings.site, readings.ts.tolist(), readings.seq.tolist(), parts,
                                       strict=True)
        if not isinstance(part, ValueError)
    ]  # fmt: skip
    body = "\n".join(text for text in lines if text)
    if body:
        out.add(1, kind="telemetry", asset_id=asset_id, payload=body)


def make_update(
    ref: ModelRef, history_readings: int, points: TelemetryPoints | None = None
) -> Callable[[tuple[Any, ...], Iterator[pd.DataFrame], Any], Iterator[pd.DataFrame]]:
    """The function for ``groupBy("asset_id").applyInPandasWithState``; pickled to the workers.

    ``points`` says which readings become InfluxDB ``telemetry`` points (none by default): every
    reading that is not a duplicate, late ones included (late for the window, not for a chart).
    """
    points = points or TelemetryPoints()

    def update(key: tuple[Any, ...], frames: Iterator[pd.DataFrame], state: Any) -> Iterator[pd.DataFrame]:
        started = time.perf_counter()
        asset_id = str(key[0])
        parts = list(frames)
        incoming = _Incoming.of(parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True))
        window = Window.decode(state.get) if state.exists else Window.empty()
        model = champion(ref)
        history = history_readings or required_history(model.model)
        step = merge(window.seq, incoming.seq, history)
        out = _Rows(STEP_COLUMNS)
        # every reading that is not a duplicate is parsed once, here: features and points read it
        arrived = np.sort(np.concatenate([step.fresh, step.late]))
        readings = incoming.take(arrived)
        parts = _parts(readings)
        objects = _objects(parts)
        if points.enabled:
            _telemetry(out, points, asset_id, readings, parts)
        if len(step.late):
            detail = f"older than the {history} readings kept for this asset"
            _dead(out, "late", asset_id, incoming.take(step.late), detail)
        keep = window
        if len(step.fresh):
            fresh = incoming.take(step.fresh)
            fresh_objects = [objects[i] for i in np.searchsorted(arrived, step.fresh).tolist()]
            try:
                error = next((o for o in fresh_objects if isinstance(o, ValueError)), None)
                if error is not None:
                    raise error
                columns, fresh_values = values_of(fresh_objects, window.columns)
                seq = np.concatenate([window.seq, fresh.seq])[step.order]
                values = np.vstack([window.widened(columns), fresh_values])[step.order]
                is_fresh = step.order >= len(window.seq)  # positions of the fresh readings, seq order
                first = int(np.argmax(is_fresh))  # rows before the first fresh one: history only
                # the very function training uses per asset (the window is already in seq order)
                features = asset_features(
                    window_frame(seq, columns, values), model.model.spec, model.model.normaliser, first
                )
                matrix = _feature_matrix(features, feature_names(model.model))[is_fresh[first:]]
            except (ValueError, KeyError) as exc:  # FeatureInputError and JSONDecodeError are ValueErrors
                # Readings the champion cannot score (a sensor missing, a NaN): dead letters, and the
                # window stays as it was so they do not poison later scores.
                _dead(out, "unscorable", asset_id, fresh, f"{type(exc).__name__}: {exc}")
            else:
                scored = fresh.take(step.order[is_fresh] - len(window.seq))
                out.add(
                    len(scored.seq),
                    kind="features",
                    asset_id=asset_id,
                    site=scored.site.tolist(),
                    seq=scored.seq.tolist(),
                    event_ts_ms=scored.ts.tolist(),
                    model_version=model.version,
                    features=[row.tobytes() for row in matrix],
                )
                keep = Window(seq[-history:], columns, values[-history:])
        state.update(keep.encode())
        out.add(
            1,
            kind="stats",
            asset_id=asset_id,
            readings_in=len(incoming.seq),
            duplicates=step.duplicates,
            state_ms=(time.perf_counter() - started) * 1000,
        )
        yield out.frame()

    return update


def make_scorer(ref: ModelRef, top_k: int) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.DataFrame]]:
    """The function for ``mapInPandas`` after the stateful step: ``features`` rows → ``risk`` rows."""

    def score(batches: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            yield score_batch(ref, batch, top_k)

    return score


def score_batch(ref: ModelRef, batch: pd.DataFrame, top_k: int) -> pd.DataFrame:
    """One Arrow batch of ``STEP`` rows → ``OUTPUT`` rows: ``features`` rows scored (one predict
    per model version), every other row passed through."""
    started = time.perf_counter()
    out = batch.reindex(columns=OUTPUT_COLUMNS)
    out = out.astype(
        {"risk": "float64", "rul_cycles": "float64", "horizon_cycles": "float64", "score_ms": "float64"}
    )
    out["model_name"] = out["model_name"].astype(object)
    out["model_alias"] = out["model_alias"].astype(object)
    out["failure_mode"] = out["failure_mode"].astype(object)
    out["top_features"] = out["top_features"].astype(object)
    kinds = batch["kind"].to_numpy()
    for version in pd.unique(batch.loc[kinds == "features", "model_version"]):
        rows = np.flatnonzero((kinds == "features") & (batch["model_version"].to_numpy() == version))
        model = model_version(ref, str(version))
        names = feature_names(model)
        matrix = np.frombuffer(b"".join(batch["features"].iloc[rows]), dtype=np.float64).reshape(
            len(rows), len(names)
        )
        scores = score_features(model, pd.DataFrame(matrix, columns=names), top_k)
        out.loc[out.index[rows], "kind"] = "risk"
        out.loc[out.index[rows], "rul_cycles"] = scores.rul_cycles
        out.loc[out.index[rows], "risk"] = scores.risk
        out.loc[out.index[rows], "horizon_cycles"] = float(model.horizon_cycles)
        out.loc[out.index[rows], "model_name"] = ref.name
        out.loc[out.index[rows], "model_alias"] = ref.alias
        out.loc[out.index[rows], "failure_mode"] = scores.failure_mode
        out.loc[out.index[rows], "top_features"] = scores.top_features
    if len(out):
        out.loc[out.index[0], "score_ms"] = (time.perf_counter() - started) * 1000
    # absent strings as None (pyspark 4.2 cannot convert an all-NaN float column to a string
    # column: it hands Arrow a ChunkedArray where it needs an Array)
    for field in OUTPUT.fields:
        if isinstance(field.dataType, StringType):
            column = out[field.name].astype(object)
            out[field.name] = column.where(column.notna(), None)
    return out
