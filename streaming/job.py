"""Wiring of ``forewarn stream``: Kafka source → transform → sinks, two queries, one checkpoint each.

* **scoring**: telemetry → readings → per-asset state → champion scores → ``risk`` (Kafka,
  InfluxDB), late/unscorable readings → ``telemetry.dlq``, counters → InfluxDB ``pipeline``;
* **telemetry**: telemetry → non-canonical records → ``telemetry.dlq``, readings → InfluxDB.

A failed micro-batch stops its query; :func:`run` restarts the queries from their checkpoints
after ``restart_delay_s`` (back-pressure, never a skipped record). ``once=True`` processes what
the topic holds now (``availableNow``) and returns: tests and backfills.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from forewarn.settings import InfluxSettings, KafkaSettings, MlflowSettings
from streaming.parse import parse_telemetry
from streaming.scoring import ModelRef
from streaming.settings import StreamSettings
from streaming.sinks import ScoredSink, TelemetrySink, kafka_options
from streaming.state import OUTPUT, STATE, STEP, make_scorer, make_update

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql.streaming.query import StreamingQuery

log = logging.getLogger(__name__)


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
    readings: DataFrame, ref: ModelRef, history_readings: int, top_k: int, output_mode: str = "append"
) -> DataFrame:
    """Readings (``streaming.parse.READING_COLUMNS``) → scored rows (``streaming.state.OUTPUT``).

    Two Python steps in one stage: the stateful step (per asset: window, rules, feature rows)
    and the scoring step (per partition batch: one ``predict`` for all its assets' rows).
    """
    from pyspark.sql.streaming.state import GroupStateTimeout

    stepped = readings.groupBy("asset_id").applyInPandasWithState(
        make_update(ref, history_readings),
        outputStructType=STEP,
        stateStructType=STATE,
        outputMode=output_mode,
        timeoutConf=GroupStateTimeout.NoTimeout,
    )
    return stepped.mapInPandas(make_scorer(ref, top_k), schema=OUTPUT)


def _source(spark: SparkSession, config: JobConfig) -> DataFrame:
    reader = spark.readStream.format("kafka")
    for key, value in kafka_options(config.kafka, config.stream).items():
        reader = reader.option(key, value)
    return (
        reader.option("subscribe", config.kafka.telemetry_topic)
        .option("startingOffsets", config.stream.starting_offsets)
        .option("maxOffsetsPerTrigger", str(config.stream.max_offsets_per_trigger))
        .option("failOnDataLoss", "true")
        .load()
    )


def start(
    spark: SparkSession, config: JobConfig, once: bool, scored_sink: ScoredSink | None = None
) -> list[StreamingQuery]:
    """Start both queries; they run until stopped (or, with ``once``, until the topic is drained).

    ``scored_sink`` replaces the scoring query's sink (the benchmark keeps it to read its timings).
    """
    stream = config.stream

    def trigger(writer: Any) -> Any:
        if once:
            return writer.trigger(availableNow=True)
        # "0 seconds": the next micro-batch starts as soon as the previous one committed
        return writer.trigger(processingTime=f"{stream.trigger_interval_s:g} seconds")

    readings, _ = parse_telemetry(_source(spark, config))
    scored = transform(readings, config.model_ref(), stream.history_readings, stream.top_features)
    scoring = trigger(
        scored.writeStream.queryName(stream.query_name)
        .outputMode("append")
        .option("checkpointLocation", str(config.checkpoint_dir / "scoring"))
        .foreachBatch(scored_sink or ScoredSink(config.kafka, config.influx, stream))
    ).start()
    telemetry = trigger(
        _source(spark, config)
        .writeStream.queryName(f"{stream.query_name}-telemetry")
        .option("checkpointLocation", str(config.checkpoint_dir / "telemetry"))
        .foreachBatch(TelemetrySink(config.kafka, config.influx, stream))
    ).start()
    return [scoring, telemetry]


def run(spark: SparkSession, config: JobConfig, once: bool = False) -> None:
    """Run the queries; restart them from their checkpoints after a failure (see module docstring)."""
    restarts = 0
    while True:
        queries = start(spark, config, once)
        try:
            if once:
                for query in queries:
                    query.awaitTermination()
                return
            # Either query failing (or being stopped) ends the wait; a failure raises here.
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
