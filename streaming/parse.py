"""Kafka ``telemetry`` records → readings, and records that are not canonical → dead letters.

A ``telemetry`` value is a JSON array holding a run of canonical readings of one asset
(``forewarn.contracts.telemetry``: the Spark schema here is derived from its field table). The
gateway has already validated every reading, so a record that does not parse here is a producer
bug: the whole record goes to ``telemetry.dlq`` with its Kafka coordinates and its bytes, as a dead
letter of stage ``scoring`` (``forewarn.contracts.dead_letter``: :func:`dead_letters` builds its
fields in Spark, in the contract's order).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention

from forewarn.contracts import dead_letter
from forewarn.contracts.dead_letter import DLQ_FORMAT_VERSION, RECEIVED_AT_SPARK_FORMAT, ScoringReason, Stage
from forewarn.contracts.telemetry import FIELDS, SCHEMA_VERSION, spark_schema

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

NOT_CANONICAL = ScoringReason.NOT_CANONICAL.value
LATE_FOR_STATE = ScoringReason.LATE_FOR_STATE.value
UNSCORABLE = ScoringReason.UNSCORABLE.value

READING, RUN = spark_schema()
# every field but the schema version (checked by _is_canonical, then dropped)
READING_COLUMNS = [f.name for f in FIELDS if f.name != "schema"]


def _is_canonical(reading: Column) -> Column:
    check = reading["schema"] == SCHEMA_VERSION
    for spec in FIELDS:
        if spec.required:
            check = check & reading[spec.name].isNotNull()
    return check


def parse_telemetry(kafka: DataFrame) -> tuple[DataFrame, DataFrame]:
    """Split Kafka source rows into exploded readings and dead-letter rows.

    Args:
        kafka: rows of Spark's Kafka source (``key``, ``value``, ``topic``, ``partition``, ``offset``…).

    Returns:
        readings: one row per reading (``READING_COLUMNS``), in record order;
        dead: one row per non-canonical record with ``key`` and ``value`` ready for ``telemetry.dlq``.
    """
    return split_runs(parse_runs(kafka))


def parse_runs(kafka: DataFrame) -> DataFrame:
    """Kafka source rows → ``topic``, ``partition``, ``offset``, ``timestamp``, ``value``, ``run`` (the parsed
    readings) and ``ok`` (the record is a non-empty run of canonical readings): parse once, then
    :func:`split_runs` (a ``foreachBatch`` sink caches this frame between its writes)."""
    parsed = kafka.select(
        "topic",
        "partition",
        "offset",
        "timestamp",
        "value",
        F.from_json(F.col("value").cast("string"), RUN).alias("run"),
    )
    ok = F.coalesce(
        F.col("run").isNotNull() & (F.size("run") > 0) & F.forall("run", _is_canonical), F.lit(False)
    )
    return parsed.withColumn("ok", ok)


def split_runs(parsed: DataFrame) -> tuple[DataFrame, DataFrame]:
    """:func:`parse_runs` rows → (readings, dead letters), as :func:`parse_telemetry` returns them."""
    readings = (
        parsed.where("ok").select(F.explode("run").alias("r")).select(*[f"r.{c}" for c in READING_COLUMNS])
    )
    dead = dead_letters(
        parsed.where(~F.col("ok")),
        reason=F.lit(NOT_CANONICAL),
        detail=F.lit("telemetry value is not a JSON array of canonical schema-1 readings"),
        # the record's Kafka timestamp, not the clock: a replayed micro-batch writes the same dead
        # letter, and the plan's code stays the same across micro-batches (current_timestamp() is
        # a new literal in each, so Spark compiled new classes and the JIT new code every batch)
        received_at=F.col("timestamp"),
    )
    return readings, dead


def kafka_source(frame: DataFrame) -> Column:
    """Where a whole record came from: the contract's ``kafka:<topic>/<partition>/<offset>``."""
    return F.format_string(dead_letter.KAFKA_SOURCE, frame["topic"], frame["partition"], frame["offset"])


def reading_source(topic: str, asset_id: Column, seq: Column) -> Column:
    """Where one reading of a run came from: the contract's ``kafka:<topic>/asset/<asset_id>/seq/<seq>``."""
    return F.format_string(dead_letter.READING_SOURCE, F.lit(topic), asset_id, seq)


def dead_letters(
    frame: DataFrame,
    reason: Column,
    detail: Column,
    received_at: Column | None = None,
    source: Column | None = None,
) -> DataFrame:
    """Rows with ``topic``/``partition``/``offset``/``value`` → ``telemetry.dlq`` key and value.

    The value is the dead-letter contract's JSON, its fields in :data:`dead_letter.FIELD_NAMES`
    order (a test decodes it with the contract's decoder). ``received_at`` (a timestamp) defaults to
    when the micro-batch runs; ``source`` defaults to the row's Kafka coordinate.
    """
    source = kafka_source(frame) if source is None else source
    received = F.current_timestamp() if received_at is None else received_at
    fields = {
        "format": F.lit(DLQ_FORMAT_VERSION),
        "stage": F.lit(Stage.SCORING.value),
        "reason": reason,
        "detail": detail,
        "source": source,
        "received_at": F.date_format(received, RECEIVED_AT_SPARK_FORMAT),
        "index": F.lit(None).cast("int"),
        # Spark may wrap base64 at 76 characters (MIME); the dead-letter format wants one line.
        "payload_b64": F.regexp_replace(F.base64(frame["value"]), r"\s", ""),
    }
    value = F.to_json(
        F.struct(*[fields[name].alias(name) for name in dead_letter.FIELD_NAMES]),
        {"ignoreNullFields": "false"},
    )
    return frame.select(source.alias("key"), value.alias("value"), reason.alias("reason"))
