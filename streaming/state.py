"""The per-asset stateful step: Spark's ``applyInPandasWithState`` calls :func:`make_update`'s function.

State per asset is its last W readings (JSON text). Each call merges the micro-batch's readings
(:mod:`streaming.window` rules), scores the fresh ones with the champion, and emits rows of four
kinds: ``risk`` (one per scored reading), ``late`` and ``unscorable`` (dead letters, with the
reading's canonical JSON) and one ``stats`` row (readings in, duplicates) for the pipeline metrics.
Spark checkpoints the state with the Kafka offsets, so after a crash every reading is merged once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import orjson
import pandas as pd
from pyspark.sql.types import DoubleType, LongType, StringType, StructField, StructType

from streaming.scoring import ModelRef, champion, required_history, score_rows
from streaming.window import merge

WINDOW_COLUMNS = ["site", "ts", "seq", "settings", "sensors"]

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
        StructField("top_features", StringType()),
        StructField("detail", StringType()),
        StructField("payload", StringType()),
        StructField("readings_in", LongType()),
        StructField("duplicates", LongType()),
    ]
)
OUTPUT_COLUMNS = [f.name for f in OUTPUT.fields]
STATE = StructType([StructField("window", StringType())])


def encode_window(window: pd.DataFrame) -> str:
    """State text: the window's rows as JSON arrays in ``WINDOW_COLUMNS`` order."""
    return orjson.dumps(window.loc[:, WINDOW_COLUMNS].to_numpy().tolist()).decode()


def decode_window(text: str) -> pd.DataFrame:
    frame = pd.DataFrame(orjson.loads(text), columns=WINDOW_COLUMNS)
    return frame.astype({"ts": "int64", "seq": "int64"})


def model_frame(asset_id: str, readings: pd.DataFrame) -> pd.DataFrame:
    """What the model reads: ``asset_id``, ``cycle`` (= seq: readings since the asset's life began,
    as C-MAPSS counts cycles), then every setting and sensor as a column."""
    values = [
        {**orjson.loads(settings or "{}"), **orjson.loads(sensors)}
        for settings, sensors in zip(readings["settings"], readings["sensors"], strict=True)
    ]
    frame = pd.DataFrame.from_records(values, index=readings.index)
    frame.insert(0, "cycle", readings["seq"].to_numpy(dtype=np.int64))
    frame.insert(0, "asset_id", asset_id)
    return frame


def canonical_json(asset_id: str, row: pd.Series) -> str:
    """A reading back in the canonical form of ``ingest/records.py`` (dead-letter payload)."""
    return orjson.dumps(
        [
            {
                "schema": 1,
                "asset_id": asset_id,
                "site": row["site"],
                "ts": int(row["ts"]),
                "seq": int(row["seq"]),
                "settings": orjson.loads(row["settings"] or "{}"),
                "sensors": orjson.loads(row["sensors"]),
            }
        ]
    ).decode()


def _dead(kind: str, asset_id: str, readings: pd.DataFrame, detail: str) -> list[dict[str, Any]]:
    return [
        {
            "kind": kind,
            "asset_id": asset_id,
            "site": row["site"],
            "seq": int(row["seq"]),
            "event_ts_ms": int(row["ts"]),
            "detail": detail,
            "payload": canonical_json(asset_id, row),
        }
        for _, row in readings.iterrows()
    ]


_STRING_COLUMNS = [f.name for f in OUTPUT.fields if isinstance(f.dataType, StringType)]


def output_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Rows in ``OUTPUT`` order; absent strings as None (pyspark 4.2 cannot convert an all-NaN
    float column to a string column: it hands Arrow a ChunkedArray where it needs an Array)."""
    frame = pd.DataFrame(rows, columns=OUTPUT_COLUMNS)
    for column in _STRING_COLUMNS:
        frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return frame


def make_update(
    ref: ModelRef, history_readings: int, top_k: int
) -> Callable[[tuple[Any, ...], Iterator[pd.DataFrame], Any], Iterator[pd.DataFrame]]:
    """The function for ``groupBy("asset_id").applyInPandasWithState``; pickled to the workers."""

    def update(key: tuple[Any, ...], frames: Iterator[pd.DataFrame], state: Any) -> Iterator[pd.DataFrame]:
        asset_id = str(key[0])
        incoming = pd.concat(list(frames), ignore_index=True).loc[:, WINDOW_COLUMNS]
        window = decode_window(state.get[0]) if state.exists else pd.DataFrame(columns=WINDOW_COLUMNS)
        model = champion(ref)
        history = history_readings or required_history(model.model)
        step = merge(window, incoming, history)
        rows: list[dict[str, Any]] = _dead(
            "late", asset_id, step.late, f"older than the {history} readings kept for this asset"
        )
        keep = step.window
        if step.fresh_seqs:
            scoring = step.scoring_input
            fresh = scoring["seq"].isin(step.fresh_seqs).to_numpy()
            try:
                scores = score_rows(model.model, model_frame(asset_id, scoring), fresh, top_k)
            except (ValueError, KeyError) as exc:  # FeatureInputError is a ValueError
                # Readings the champion cannot score (a sensor missing, a NaN): dead letters, and the
                # window stays as it was so they do not poison later scores.
                rows += _dead("unscorable", asset_id, scoring[fresh], f"{type(exc).__name__}: {exc}")
                keep = window
            else:
                for (_, reading), (_, score) in zip(
                    scoring[fresh].iterrows(), scores.iterrows(), strict=True
                ):
                    rows.append(
                        {
                            "kind": "risk",
                            "asset_id": asset_id,
                            "site": reading["site"],
                            "seq": int(reading["seq"]),
                            "event_ts_ms": int(reading["ts"]),
                            "risk": float(score["risk"]),
                            "rul_cycles": float(score["rul_cycles"]),
                            "horizon_cycles": model.horizon_cycles,
                            "model_name": model.name,
                            "model_version": model.version,
                            "model_alias": model.alias,
                            "top_features": orjson.dumps(score["top_features"]).decode(),
                        }
                    )
        rows.append(
            {
                "kind": "stats",
                "asset_id": asset_id,
                "readings_in": len(incoming),
                "duplicates": step.duplicates,
            }
        )
        state.update((encode_window(keep),))
        yield output_frame(rows)

    return update
