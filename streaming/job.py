"""Wiring of ``forewarn stream``: Kafka source → the Python step → sinks, one query, one checkpoint.

The JVM moves bytes: each Kafka ``telemetry`` record (a run of one asset's readings) goes, as it
is, to the Python step of its asset's bucket (``pmod(xxhash64(key), buckets)``, see
``StreamSettings.buckets``; keyed by labels that spread the buckets evenly over the tasks,
``streaming.buckets``), which parses, merges into the state, scores and formats everything
(``streaming.step``). The sink (``streaming.sinks.ScoredSink``) writes the finished rows: ``risk``
and ``telemetry.dlq`` (Kafka), ``telemetry`` and ``risk`` points and counters (InfluxDB ``pipeline``).

Until Dec 2026 the JVM parsed the JSON, exploded each run into rows and shuffled readings by asset,
and Python ran once per asset and micro-batch (a few ms each, whatever its rows): 2,555 readings/s
on two cores. A bucket holds many assets, so one call featurises and scores all of them in one
vectorised pass.

A failed micro-batch stops the query; :func:`run` restarts it from its checkpoint after
``restart_delay_s`` (back-pressure, never a skipped record). ``once=True`` processes what the
topic holds now (``availableNow``) and returns: tests and backfills.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention

from forewarn.paths import default_state_dir
from forewarn.settings import InfluxSettings, KafkaSettings, MlflowSettings
from streaming.buckets import balanced_labels, bucket_column, layout_labels
from streaming.packed import unpack
from streaming.scoring import ModelRef
from streaming.settings import StreamSettings
from streaming.sinks import PointsSink, ScoredSink, TelemetryPoints, kafka_options
from streaming.step import OUTPUT_COLUMNS, PACKED, STATE, StepConfig, make_update

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
    # where workers cache the C library that walks the champion's trees (models.occlusion); None: not used
    compiled_dir: Path | None = field(default_factory=lambda: default_state_dir() / "cache" / "compiled")
    # where workers keep each champion version ready to unpickle (streaming.model_cache); None: not used
    model_cache_dir: Path | None = field(default_factory=lambda: default_state_dir() / "cache" / "models")

    def model_ref(self) -> ModelRef:
        return ModelRef(
            tracking_uri=self.mlflow.tracking_uri,
            registry_uri=self.mlflow.registry_uri or self.mlflow.tracking_uri,
            name=self.stream.model_name,
            alias=self.stream.model_alias,
            refresh_s=self.stream.alias_refresh_s,
            client_env=tuple(sorted(self.mlflow.client_env().items())),
            compiled_dir=self.compiled_dir,
            model_cache_dir=self.model_cache_dir,
        )

    def step_config(self, write_points: bool = False) -> StepConfig:
        """The step's config; ``write_points``: the job's, where each call writes its InfluxDB points
        from the worker (:class:`streaming.sinks.PointsSink`) instead of returning them as rows."""
        stream = self.stream
        sink = PointsSink(self.influx, stream.influx_batch_lines, stream.sink_retry_s, self.kafka.dlq_topic)
        return StepConfig(
            ref=self.model_ref(),
            risk_topic=self.kafka.risk_topic,
            dlq_topic=self.kafka.dlq_topic,
            history_readings=stream.history_readings,
            top_k=stream.top_features,
            explain_at=stream.explain_at,
            points=TelemetryPoints.of(stream),
            lines_per_row=stream.influx_batch_lines,  # a `points` row is one InfluxDB request
            points_sink=sink if write_points else None,
        )


def transform(
    records: DataFrame, config: StepConfig, labels: Sequence[int], output_mode: str = "append"
) -> DataFrame:
    """Kafka source rows → the step's output rows (``streaming.step.OUTPUT``), keyed by bucket
    ``labels`` (``streaming.buckets``).

    ``records`` must be a stream: Spark runs its stateful operator for Python in streaming queries
    only (tests read static rows back as a stream).
    """
    from pyspark.sql.streaming.state import GroupStateTimeout

    keyed = records.select(
        F.col("key"),
        F.col("value"),
        F.col("topic"),
        F.col("partition"),
        F.col("offset"),
        F.unix_millis(F.col("timestamp")).alias("kafka_ms"),
        bucket_column(F.col("key"), labels).alias("bucket"),
    )
    stepped = keyed.groupBy("bucket").applyInPandasWithState(
        make_update(config),
        outputStructType=PACKED,
        stateStructType=STATE,
        outputMode=output_mode,
        timeoutConf=GroupStateTimeout.NoTimeout,
    )
    return unpack(stepped, OUTPUT_COLUMNS)


def scored_rows(
    kafka: DataFrame, config: JobConfig, labels: Sequence[int] | None = None, write_points: bool = False
) -> DataFrame:
    """Kafka source rows → every output row of the job: risk records, dead letters, stats, and
    InfluxDB points as rows (``write_points``: written by the step's tasks instead, as the job does).
    Without ``labels`` (a checkpoint's, :func:`streaming.buckets.layout_labels`), balanced ones
    for the session's state partitions."""
    spark = kafka.sparkSession
    if labels is None:
        labels = balanced_labels(spark, state_buckets(spark, config), shuffle_partitions(spark))
    return transform(kafka, config.step_config(write_points), labels)


def shuffle_partitions(spark: SparkSession) -> int:
    return int(spark.conf.get("spark.sql.shuffle.partitions") or "2")


def state_buckets(spark: SparkSession, config: JobConfig) -> int:
    """The job's state buckets: the setting, or twice the session's state partitions."""
    return config.stream.buckets(shuffle_partitions(spark))


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
    labels = layout_labels(
        config.checkpoint_dir, spark, state_buckets(spark, config), shuffle_partitions(spark)
    )

    def trigger(writer: Any) -> Any:
        if once:
            return writer.trigger(availableNow=True)
        # "0 seconds": the next micro-batch starts as soon as the previous one committed
        return writer.trigger(processingTime=f"{stream.trigger_interval_s:g} seconds")

    scoring = trigger(
        scored_rows(_source(spark, config), config, labels, write_points=True)
        .writeStream.queryName(stream.query_name)
        .outputMode("append")
        .option("checkpointLocation", str(config.checkpoint_dir / "scoring"))
        .foreachBatch(scored_sink or ScoredSink(config.kafka, config.influx, stream))
    ).start()
    return [scoring]


class _QuietAfterStop(logging.Filter):
    """After a stop signal, py4j's and pyspark's tracebacks of calls into the stopping JVM (the
    micro-batch the stop interrupted, the wait that ends) are expected, not errors: the batch is not
    committed and the next start redoes it."""

    def __init__(self, stopping: threading.Event) -> None:
        super().__init__()
        self.stopping = stopping

    def filter(self, record: logging.LogRecord) -> bool:
        if not self.stopping.is_set():
            return True
        # py4j logs some of them on the root logger: tell them by where they come from
        return not (record.name.startswith(("py4j", "pyspark")) or _SPARK_CODE.search(record.pathname))


_SPARK_CODE = re.compile(r"[/\\](py4j|pyspark)[/\\]")


def _stop_on_signals(spark: SparkSession) -> tuple[threading.Event, dict[int, Any]]:
    """On SIGTERM/SIGINT, stop the queries from another thread, so the main thread's wait returns.

    Not from the handler itself: the main thread is inside a py4j call (the wait), and a second
    call on its connection would queue behind it. The micro-batch in hand is not committed; the
    next start redoes it from the checkpoint (consumers deduplicate by ``(asset_id, seq)``).
    Returns the stop flag and the handlers to restore (none outside the main thread).
    """
    stopping = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        return stopping, {}

    def stop_queries() -> None:
        with contextlib.suppress(Exception):  # the JVM got the signal too (process group) and may be gone
            for query in spark.streams.active:
                query.stop()

    def handler(signum: int, frame: FrameType | None) -> None:
        if stopping.is_set():
            return
        stopping.set()
        log.info("signal %s: stopping the query (an uncommitted micro-batch is redone at the next start)",
                 signal.Signals(signum).name)  # fmt: skip
        threading.Thread(target=stop_queries, name="stop-queries", daemon=True).start()

    quiet = _QuietAfterStop(stopping)
    for root_handler in logging.getLogger().handlers:
        root_handler.addFilter(quiet)
    # pyspark's accumulator server prints a traceback (not a log line) when the JVM closes its socket
    server = getattr(spark.sparkContext, "_accumulatorServer", None)
    if server is not None:
        original = type(server).handle_error
        server.handle_error = lambda *args: None if stopping.is_set() else original(server, *args)
    return stopping, {sig: signal.signal(sig, handler) for sig in (signal.SIGTERM, signal.SIGINT)}


def run(spark: SparkSession, config: JobConfig, once: bool = False) -> None:
    """Run the query; restart it from its checkpoint after a failure (see module docstring).

    On SIGTERM/SIGINT it stops the query, stops Spark, logs that it stopped and ends the process
    (``os._exit(0)``): when a supervisor signals the whole process group, Spark's JVM stops itself
    at the same moment, and any py4j call after that (the caller's ``spark.stop()`` included) fails
    with a traceback; which call still gets through is a race, so after a signal none is left to
    the caller. Before this handler the signal's default action ended the process without a word.
    """
    stopping, previous = _stop_on_signals(spark)
    try:
        _run(spark, config, once, stopping)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not stopping.is_set():
        log.info("scoring job stopped")
        return
    from streaming.progress import unmark_job

    with contextlib.suppress(Exception):  # the JVM may be gone already (it got the signal too)
        spark.stop()
    unmark_job(config.checkpoint_dir, os.getpid())
    log.info("scoring job stopped on a signal")
    logging.shutdown()
    os._exit(0)


def _run(spark: SparkSession, config: JobConfig, once: bool, stopping: threading.Event) -> None:
    stream = config.stream
    log.info(
        "scoring job running: Kafka %r → %s@%s → Kafka %r, InfluxDB %r; dead letters → %r; checkpoint %s%s",
        config.kafka.telemetry_topic, stream.model_name, stream.model_alias, config.kafka.risk_topic,
        config.influx.database, config.kafka.dlq_topic, config.checkpoint_dir, " (once)" if once else "",
    )  # fmt: skip
    restarts = 0
    while not stopping.is_set():
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
            if stopping.is_set():  # the JVM went first (it got the signal too): nothing to restart
                return
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
