"""The step's Kafka records cross from Python to the JVM packed, a few thousand to a row.

The step returns one row per Kafka record it wants written (``risk`` records, dead letters) beside
a few ``stats`` and ``points`` rows. Handed to Spark as they are, each record is a row of the
step's whole output schema, and pyspark's ``applyInPandasWithState`` serializer pads the bucket's
state column to as many rows as the output has (``construct_record_batch``: a frame of empty
state rows, a count column as long, each converted to Arrow): py-spy over three C-MAPSS drains put
10.6 % of the Python workers' samples there (5 Dec 2026), for 25,000 records a call.

:func:`pack` turns each run of consecutive records of one kind and topic into rows of up to
:data:`RECORDS_PER_ROW` records (``keys``, ``values``, ``reasons`` arrays), keeping their order;
other rows pass unchanged. :func:`unpack` is the JVM's side: ``posexplode_outer`` gives back one
row per record in the step's schema, in the same stage, so what the sinks and every test of the
job read is unchanged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention
from pyspark.sql.types import ArrayType, StructField, StructType

if TYPE_CHECKING:
    from pyspark.sql import DataFrame

RECORDS_PER_ROW = 2048
"""Records per packed row: large enough that rows stay few, small enough that no row is huge."""

RECORD_KINDS = ("risk", "dead")
PACKED_AS = {"key": "keys", "value": "values", "reason": "reasons"}
"""Each record column of the step's schema, and the array column that carries it packed."""


def packed_schema(output: StructType) -> StructType:
    """``output`` (the step's schema) with ``key``, ``value`` and ``reason`` as arrays."""
    fields = [
        StructField(PACKED_AS[f.name], ArrayType(f.dataType)) if f.name in PACKED_AS else f
        for f in output.fields
    ]
    return StructType(fields)


def pack(out: pd.DataFrame, per_row: int = RECORDS_PER_ROW) -> pd.DataFrame:
    """The step's rows with its records packed (module docstring); order kept within each run."""
    columns = [PACKED_AS.get(c, c) for c in out.columns]
    kind = out["kind"].to_numpy()
    is_record = np.isin(kind, RECORD_KINDS)
    rest = out.loc[~is_record].rename(columns=PACKED_AS).assign(**dict.fromkeys(PACKED_AS.values()))
    if not is_record.any():
        return rest[columns]
    rows = np.flatnonzero(is_record)
    topic = out["topic"].to_numpy()[rows]
    kinds = kind[rows]
    # a run ends where the kind or the topic changes, and every per_row records
    change = np.flatnonzero((kinds[1:] != kinds[:-1]) | (topic[1:] != topic[:-1])) + 1
    starts = np.union1d(np.concatenate([[0], change]), np.arange(0, len(rows), per_row))
    ends = np.append(starts[1:], len(rows))
    keys = out["key"].to_numpy()[rows].tolist()
    values = out["value"].to_numpy()[rows].tolist()
    reasons = out["reason"].to_numpy()[rows].tolist()
    packed: dict[str, list[object]] = {"kind": [], "topic": [], "keys": [], "values": [], "reasons": []}
    for a, b in zip(starts.tolist(), ends.tolist(), strict=True):
        packed["kind"].append(kinds[a])
        packed["topic"].append(topic[a])
        packed["keys"].append(keys[a:b])
        packed["values"].append(values[a:b])
        part = reasons[a:b]
        packed["reasons"].append(part if any(r is not None for r in part) else None)
    frame = pd.DataFrame(packed)
    for name in out.columns:
        if name not in PACKED_AS and name not in packed:
            dtype = out[name].dtype
            frame[name] = np.zeros(len(frame), dtype=dtype) if dtype.kind in "iuf" else None
    return pd.concat([frame[columns], rest[columns]], ignore_index=True)


def unpack(packed: DataFrame, output_columns: list[str]) -> DataFrame:
    """One row per record again, in the step's columns (``output_columns``): the JVM's side."""
    exploded = packed.select("*", F.posexplode_outer("keys").alias("_at", "_key"))
    unpacked = {
        "key": F.col("_key"),
        "value": F.get("values", F.col("_at")),
        "reason": F.get("reasons", F.col("_at")),
    }
    return exploded.select(*[unpacked[c].alias(c) if c in unpacked else F.col(c) for c in output_columns])
