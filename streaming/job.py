"""Wiring of ``forewarn stream``: Kafka source → transform → sinks, one query, one checkpoint.

Each micro-batch reads and parses its Kafka records once. The readings go through the per-asset
state (which also formats their InfluxDB ``telemetry`` points) and the scoring step; the records
that are not canonical telemetry join the same output as ready dead letters. The sink
(``streaming.sinks.ScoredSink``) writes ``risk`` (Kafka, InfluxDB), ``telemetry`` points,
dead letters (``telemetry.dlq``) and counters (InfluxDB ``pipeline``).

One query rather than one for scoring and one for the time series: every micro-batch costs Spark
a fixed second or more and the Kafka read and JSON parse are the same work, so two queries did
both twice on the same cores. The price: raw telemetry reaches InfluxDB only when the champion
can be loaded (no champion yet, or the registry down at a worker's first batch, holds the points
back with the scores; retried, nothing lost).

A failed micro-batch stops the query; :func:`run` restarts it from its checkpoint after
``restart_delay_s`` (back-pressure, never a skipped record). ``once=True`` processes what the
topic holds now (``availableNow``) and returns: tests and backfills.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention

from forewarn.settings import InfluxSettings, KafkaSettings, MlflowSettings
from streaming.parse import parse_runs, split_runs
from streaming.scoring import ModelRef
from streaming.settings import StreamSettings
from streaming.sinks import ScoredSink, TelemetryPoints, kafka_options
from streaming.state import OUTPUT, STATE, STEP, make_scorer, make_update

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming.query import StreamingQuery

log = logging.getLogger(__name__)

SOURCE_FETCH_WAIT_MS = 10


@dataclass(frozen=True)
class JobConfig:
    """Everything the job needs, built at the CLI edge."""

    stream: StreamSettings
    kafka: KafkaSettings
    influx: InfluxSettings
    mlflow: MlflowSettings
    checkpoint_dir: Path

    def model_ref(self) -> ModelRef:
        return ModelRef(
            tracking_uri=self.mlflow.tracking_uri,
            registry_uri=self.mlflow.registry_uri or self.mlflow.tracking_uri,
            name=self.stream.model_name,
            alias=self.stream.model_alias,
            refresh_s=self.stream.alias_refresh_s,
        )


def transform(
    readings: DataFrame,
    ref: ModelRef,
    history_readings: int,
    top_k: int,
    output_mode: str = "append",
    points: TelemetryPoints | None = None,
) -> DataFrame:
    """Readings (``streaming.parse.READING_COLUMNS``) → scored rows (``streaming.state.OUTPUT``).

    Two Python steps in one stage: the stateful step (per asset: window, rules, feature rows,
    ``telemetry`` points when ``points`` says so) and the scoring step (per partition batch: one
    ``predict`` for all its assets' rows). ``readings`` must be a stream: Spark runs its stateful
    operator for Python in streaming queries only (tests read static rows back as a stream).
    """
    from pyspark.sql.streaming.state import GroupStateTimeout

    stepped = readings.groupBy("asset_id").applyInPandasWithState(
        make_update(ref, history_readings, points),
        outputStructType=STEP,
        stateStructType=STATE,
        outputMode=output_mode,
        timeoutConf=GroupStateTimeout.NoTimeout,
    )
    return stepped.mapInPandas(make_scorer(ref, top_k), schema=OUTPUT)


def not_canonical_rows(dead: DataFrame) -> DataFrame:
    """Dead letters of ``streaming.parse.split_runs`` as ``OUTPUT`` rows of kind ``not_canonical``."""
    given = {"kind": F.lit("not_canonical"), "dlq_key": F.col("key"), "dlq_value": F.col("value")}
    return dead.select(
        *[given.get(f.name, F.lit(None)).cast(f.dataType).alias(f.name) for f in OUTPUT.fields]
    )


def scored_rows(kafka: DataFrame, config: JobConfig) -> DataFrame:
    """Kafka source rows → every output row of the job: scores, points, dead letters, stats."""
    stream = config.stream
    readings, dead = split_runs(parse_runs(kafka))
    scored = transform(
        readings, config.model_ref(), stream.history_readings, stream.top_features,
        points=TelemetryPoints.of(stream),
    )  # fmt: skip
    # One partition for the (rare) dead letters: each partition of the output costs a task in every
    # sink job, and the Kafka source would give this branch one per topic partition.
    return scored.unionByName(not_canonical_rows(dead).coalesce(1))


def _source(spark: SparkSession, config: JobConfig) -> DataFrame:
    reader = spark.readStream.format("kafka")
    for key, value in kafka_options(config.kafka, config.stream).items():
        reader = reader.option(key, value)
    return (
        reader.option("subscribe", config.kafka.telemetry_topic)
        .option("startingOffsets", config.stream.starting_offsets)
        .option("maxOffsetsPerTrigger", str(config.stream.max_offsets_per_trigger))
        .option("failOnDataLoss", "true")
        # A cached consumer keeps the fetch it sent ahead after its last poll; the broker holds that
        # fetch (no data yet) for fetch.max.wait.ms, and the next micro-batch's read of the
        # partition waits for it first: Kafka's 500 ms default cost each task half a second.
        .option("kafka.fetch.max.wait.ms", str(SOURCE_FETCH_WAIT_MS))
        .load()
    )


def start(
    spark: SparkSession, config: JobConfig, once: bool, scored_sink: ScoredSink | None = None
) -> list[StreamingQuery]:
    """Start the query; it runs until stopped (or, with ``once``, until the topic is drained).

    A list (of one query), so callers wait on and stop whatever the job runs. ``scored_sink``
    replaces the query's sink (the benchmark keeps it to read its timings).
    """
    stream = config.stream

    def trigger(writer: Any) -> Any:
        if once:
            return writer.trigger(availableNow=True)
        # "0 seconds": the next micro-batch starts as soon as the previous one committed
        return writer.trigger(processingTime=f"{stream.trigger_interval_s:g} seconds")

    scoring = trigger(
        scored_rows(_source(spark, config), config)
        .writeStream.queryName(stream.query_name)
        .outputMode("append")
        .option("checkpointLocation", str(config.checkpoint_dir / "scoring"))
        .foreachBatch(scored_sink or ScoredSink(config.kafka, config.influx, stream))
    ).start()
    return [scoring]


def run(spark: SparkSession, config: JobConfig, once: bool = False) -> None:
    """Run the query; restart it from its checkpoint after a failure (see module docstring)."""
    restarts = 0
    while True:
        queries = start(spark, config, once)
        try:
            if once:
                for query in queries:
                    query.awaitTermination()
                return
            # The query failing (or being stopped) ends the wait; a failure raises here.
            spark.streams.awaitAnyTermination()
            for query in queries:
                if query.isActive:
                    query.stop()
            return
        except Exception as exc:
            for query in queries:
                if query.isActive:
                    query.stop()
            restarts += 1
            if config.stream.max_restarts and restarts > config.stream.max_restarts:
                raise
            log.error(
                "stream failed (%s); restart %d from the checkpoint in %.0fs",
                exc,
                restarts,
                config.stream.restart_delay_s,
            )
            spark.streams.resetTerminated()
            time.sleep(config.stream.restart_delay_s)
