"""Where each micro-batch goes: Kafka ``risk`` and ``telemetry.dlq``, InfluxDB ``risk``, ``telemetry``
and ``pipeline``.

Each sink either finishes or raises: a raised sink fails the micro-batch, Spark does not commit
its offsets or state, and the query restarts from the checkpoint (``streaming/job.py``), so an
outage of the next hop delays data but never loses it. Rewrites after a restart are harmless:
InfluxDB overwrites a point with the same series and time, and ``risk`` consumers deduplicate by
(asset_id, seq).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Any

import orjson
from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention
from pyspark.sql.types import ArrayType, DoubleType, StringType, StructField, StructType

from forewarn.contracts.dead_letter import ScoringReason
from forewarn.contracts.influx_schema import PIPELINE, RISK, telemetry_point
from forewarn.contracts.risk import RISK_FIELDS, RISK_SCHEMA_VERSION, UNSPECIFIED_FAILURE_MODE
from forewarn.influx import InfluxWriter
from forewarn.logs import RateLimitedLog, counts_text
from forewarn.settings import InfluxSettings, KafkaSettings
from streaming.parse import LATE_FOR_STATE, NOT_CANONICAL, UNSCORABLE, dead_letters, reading_source
from streaming.settings import StreamSettings

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, Row

log = logging.getLogger(__name__)

TOP_FEATURES = ArrayType(
    StructType([StructField("name", StringType()), StructField("contribution", DoubleType())])
)
RFC3339_MS = "yyyy-MM-dd'T'HH:mm:ss.SSSXXX"


def kafka_options(kafka: KafkaSettings, stream: StreamSettings) -> dict[str, str]:
    """Options for Spark's Kafka source and sink (``kafka.``-prefixed client settings)."""
    options = {
        "kafka.bootstrap.servers": kafka.bootstrap_servers,
        "kafka.security.protocol": kafka.security_protocol,
    }
    if kafka.sasl_mechanism:
        password = kafka.sasl_password.get_secret_value() if kafka.sasl_password else ""
        module = "org.apache.kafka.common.security.plain.PlainLoginModule"
        if kafka.sasl_mechanism.startswith("SCRAM"):
            module = "org.apache.kafka.common.security.scram.ScramLoginModule"
        options["kafka.sasl.mechanism"] = kafka.sasl_mechanism
        options["kafka.sasl.jaas.config"] = (
            f'{module} required username="{kafka.sasl_username}" password="{password}";'
        )
    return options


def producer_options(kafka: KafkaSettings, stream: StreamSettings) -> dict[str, str]:
    """The sink's producer: every record acknowledged by all replicas, bounded by the retry budget.

    Kafka requires ``delivery.timeout.ms >= linger.ms + request.timeout.ms``; a short budget
    shortens the request timeout rather than breaking that rule.
    """
    budget_ms = int(stream.sink_retry_s * 1000)
    linger_ms = 20
    request_ms = max(1000, min(30_000, budget_ms // 2))
    delivery_ms = max(budget_ms, linger_ms + request_ms)
    return {
        **kafka_options(kafka, stream),
        "kafka.acks": "all",
        "kafka.enable.idempotence": "true",
        "kafka.compression.type": "lz4",
        "kafka.linger.ms": str(linger_ms),
        "kafka.delivery.timeout.ms": str(delivery_ms),
        "kafka.max.block.ms": str(budget_ms),
        "kafka.request.timeout.ms": str(request_ms),
    }


RISK_EXPRESSIONS: Mapping[str, Callable[[], Column]] = {
    "schema": lambda: F.lit(RISK_SCHEMA_VERSION),
    "event_ts": lambda: F.date_format(F.timestamp_millis("event_ts_ms"), RFC3339_MS),
    "failure_mode": lambda: F.coalesce(F.col("failure_mode"), F.lit(UNSPECIFIED_FAILURE_MODE)),
    "top_features": lambda: F.from_json("top_features", TOP_FEATURES),
}
"""The risk contract's fields that are not a plain column of the scored rows, and how each is built.

Every other field of :data:`forewarn.contracts.risk.RISK_FIELDS` is the scored column of its name: a
field added to the contract and not produced fails the micro-batch (an unresolved column) rather than
going missing from ``risk``.
"""


def risk_records(scored: DataFrame) -> DataFrame:
    """``risk`` rows → Kafka ``key``/``value`` in the risk contract (:mod:`forewarn.contracts.risk`).

    The JSON object's fields are the contract's, in its order; null fields are left out (the
    contract's defaults stand for them).
    """
    fields = [RISK_EXPRESSIONS.get(name, partial(F.col, name))().alias(name) for name in RISK_FIELDS]
    return scored.select(F.col("asset_id").alias("key"), F.to_json(F.struct(*fields)).alias("value"))


def state_dead_letters(scored: DataFrame, telemetry_topic: str) -> DataFrame:
    """``late`` and ``unscorable`` rows → ``telemetry.dlq`` records (the reading as the payload)."""
    frame = scored.select(
        F.encode("payload", "UTF-8").alias("value"),
        F.when(F.col("kind") == "late", F.lit(LATE_FOR_STATE)).otherwise(F.lit(UNSCORABLE)).alias("reason"),
        "detail",
        "asset_id",
        "seq",
    )
    # the Kafka offset of one reading inside a run is not kept: the source names its asset and seq
    source = reading_source(telemetry_topic, F.col("asset_id"), F.col("seq"))
    return dead_letters(frame, reason=F.col("reason"), detail=F.col("detail"), source=source)


def all_dead_letters(batch: DataFrame, telemetry_topic: str) -> DataFrame:
    """The micro-batch's ``telemetry.dlq`` records: ``late`` and ``unscorable`` readings, and the
    ``not_canonical`` Kafka records whose dead letter the job built from the source row."""
    state = state_dead_letters(batch.where(F.col("kind").isin("late", "unscorable")), telemetry_topic)
    records = batch.where(F.col("kind") == "not_canonical").select(
        F.col("dlq_key").alias("key"), F.col("dlq_value").alias("value"), F.lit(NOT_CANONICAL).alias("reason")
    )
    return state.unionByName(records)


def write_kafka(frame: DataFrame, topic: str, options: dict[str, str]) -> None:
    """Write ``key``/``value`` (and ``reason`` as a header when present) to ``topic``; raises on failure."""
    columns = [F.col("key").cast("string"), F.col("value").cast("string")]
    if "reason" in frame.columns:
        header = F.struct(F.lit("reason").alias("key"), F.encode("reason", "UTF-8").alias("value"))
        columns.append(F.array(header).alias("headers"))
    writer = frame.select(*columns).write.format("kafka").option("topic", topic)
    for key, value in options.items():
        writer = writer.option(key, value)
    writer.save()


def risk_lines(rows: Iterable[Row]) -> Iterator[str | None]:
    """InfluxDB ``risk`` points (tags bounded: site, asset, model, failure mode, whose values come
    from the model's own list; the time is the reading's)."""
    for r in rows:
        yield RISK.point(
            {
                "site": r["site"],
                "asset_id": r["asset_id"],
                "model_name": r["model_name"],
                "model_version": r["model_version"],
                "model_alias": r["model_alias"] or "",
                "failure_mode": r["failure_mode"] or UNSPECIFIED_FAILURE_MODE,
            },
            {
                "risk": r["risk"],
                "rul_cycles": r["rul_cycles"],
                "horizon_cycles": r["horizon_cycles"],
                "seq": r["seq"],
            },
            r["event_ts_ms"],
        )


@dataclass(frozen=True)
class TelemetryPoints:
    """Which readings become InfluxDB ``telemetry`` points, and stamped when.

    Downsampled, a point is stamped with its bucket's start, so later readings of the same bucket
    overwrite it and the stored value is the bucket's last reading whatever the micro-batch split.
    """

    enabled: bool = False
    bucket_ms: int | None = None

    @classmethod
    def of(cls, stream: StreamSettings) -> TelemetryPoints:
        mode = stream.telemetry_to_influx
        return cls(mode != "off", stream.downsample_s * 1000 if mode == "downsampled" else None)

    def line(
        self,
        asset_id: str,
        site: str,
        ts_ms: int,
        seq: int,
        settings: Mapping[str, Any],
        sensors: Mapping[str, Any],
    ) -> str | None:
        """One reading's point (:func:`telemetry_point`: settings and sensors kept apart by prefix)."""
        if self.bucket_ms:
            ts_ms -= ts_ms % self.bucket_ms
        return telemetry_point(site, asset_id, ts_ms, int(seq), settings, sensors)


def telemetry_lines(rows: Iterable[Row], downsample_s: int | None) -> Iterator[str | None]:
    """InfluxDB ``telemetry`` points of readings (``READING_COLUMNS`` rows): every reading, or
    (downsampled) the last of each bucket (see :class:`TelemetryPoints`)."""
    points = TelemetryPoints(True, downsample_s * 1000 if downsample_s else None)
    for r in rows:
        settings, sensors = orjson.loads(r["settings"] or "{}"), orjson.loads(r["sensors"])
        yield points.line(r["asset_id"], r["site"], int(r["ts"]), int(r["seq"]), settings, sensors)


_WRITERS: dict[tuple[str, int, float], InfluxWriter] = {}


def _identity(settings: InfluxSettings) -> str:
    """Every setting, secrets included (``model_dump_json`` masks them), as one string."""

    def reveal(value: Any) -> str:
        return str(value.get_secret_value()) if hasattr(value, "get_secret_value") else str(value)

    return orjson.dumps(settings.model_dump(), default=reveal, option=orjson.OPT_SORT_KEYS).decode()


def _writer(settings: InfluxSettings, batch_lines: int, retry_budget_s: float) -> InfluxWriter:
    """One InfluxDB writer (and HTTP connection pool) per Python worker and settings, reused across
    partitions and micro-batches: a new ``httpx.Client`` builds an SSL context, which cost more
    than formatting the points of a small partition (measured with py-spy: 19% of the sink's time)."""
    key = (_identity(settings), batch_lines, retry_budget_s)
    writer = _WRITERS.get(key)
    if writer is None:
        writer = InfluxWriter(settings, batch_lines=batch_lines, retry_budget_s=retry_budget_s)
        _WRITERS[key] = writer
    return writer


def _influx_partition(settings: InfluxSettings, stream: StreamSettings) -> Callable[[Iterator[Row]], None]:
    """The ``foreachPartition`` function writing one partition's ``risk`` rows and ``telemetry``
    rows (points already in line protocol) to InfluxDB, on the executor."""

    def lines(rows: Iterator[Row]) -> Iterator[str | None]:
        for r in rows:
            if r["kind"] == "telemetry":
                yield from r["payload"].split("\n")
            else:
                yield from risk_lines([r])

    def write(rows: Iterator[Row]) -> None:
        _writer(settings, stream.influx_batch_lines, stream.sink_retry_s).write(lines(rows))

    return write


DEAD_LETTER_COUNTERS: dict[str, ScoringReason] = {
    "late": ScoringReason.LATE_FOR_STATE,
    "unscorable": ScoringReason.UNSCORABLE,
    "not_canonical": ScoringReason.NOT_CANONICAL,
}
"""The counters of :class:`ScoredSink` that count dead letters, and the reason each is written under."""


@dataclass
class PipelineCounters:
    """Running totals of this job process, written as InfluxDB ``pipeline`` points (cumulative).

    Shaped as the gateway writes them, so the pipeline board shows both hops: one point with the
    counters and ``dead_letters`` (their sum), one point per dead-letter reason (``reason`` tag).
    """

    component: str
    totals: dict[str, int] = field(default_factory=dict)

    def add(self, **counts: int) -> None:
        for name, n in counts.items():
            self.totals[name] = self.totals.get(name, 0) + int(n)

    def lines(self, now_ms: int) -> list[str | None]:
        tags = {"component": self.component}
        counters = {k: n for k, n in self.totals.items() if k not in DEAD_LETTER_COUNTERS}
        dead = {DEAD_LETTER_COUNTERS[k]: n for k, n in self.totals.items() if k in DEAD_LETTER_COUNTERS}
        out = [PIPELINE.point(tags, {**counters, "dead_letters": sum(dead.values())}, now_ms)]
        out += [
            PIPELINE.point({**tags, "reason": reason.value}, {"dead_letters": n}, now_ms)
            for reason, n in sorted(dead.items())
        ]
        return out


DEAD_LETTER_SAMPLES = 3
"""Dead letters of a micro-batch logged by reason and source (the rest are counted): the job sees
them as a DataFrame on the executors, and collecting every one to the driver to log it would cost
what the dead-letter topic already holds."""


def batch_line(batch_id: int, counts: Mapping[str, int], seconds: float) -> str:
    """One micro-batch in words: ``batch 12: readings 300 (duplicates 2) → scored 298, dead letters 2
    (late_for_state 2) in 1.2 s``."""
    dead = {DEAD_LETTER_COUNTERS[k].value: n for k, n in counts.items() if k in DEAD_LETTER_COUNTERS}
    text = f"batch {batch_id}: readings {counts.get('readings_in', 0):,}"
    if counts.get("duplicates"):
        text += f" (duplicates {counts['duplicates']:,})"
    text += f" → scored {counts.get('readings_out', 0):,}"
    if sum(dead.values()):
        text += f", dead letters {sum(dead.values()):,} ({counts_text(dead)})"
    return f"{text} in {seconds:.1f} s"


@dataclass
class ScoredSink:
    """``foreachBatch`` of the scoring query.

    ``timings_ms`` accumulates where the time goes, per stage, over the job's life (the benchmark
    reads it): ``compute`` is the first action, which runs the Kafka read, the stateful step and
    the scoring step (and caches the result); ``state_cpu``/``score_cpu`` are the Python workers'
    own time in those two steps (summed over parallel tasks, model loading included).
    """

    kafka: KafkaSettings
    influx: InfluxSettings
    stream: StreamSettings
    counters: PipelineCounters = field(default_factory=lambda: PipelineCounters("streaming"))
    timings_ms: dict[str, float] = field(default_factory=dict)
    letters_log: RateLimitedLog = field(default_factory=lambda: RateLimitedLog(log, noun="dead letters"))

    def _timed(self, stage: str, started: float) -> float:
        now = time.monotonic()
        self.timings_ms[stage] = self.timings_ms.get(stage, 0.0) + (now - started) * 1000
        return now

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        started = mark = time.monotonic()
        samples: list[Row] = []
        batch.persist()
        try:
            # The counts come first: they compute (and cache) the batch, and say which writes are needed
            # (an empty Kafka write still costs a Spark job per micro-batch).
            totals = (
                batch.groupBy("kind")
                .agg(
                    F.count("*").alias("rows"),
                    F.sum("readings_in").alias("readings_in"),
                    F.sum("duplicates").alias("dups"),
                    F.sum("state_ms").alias("state_ms"),
                    F.sum("score_ms").alias("score_ms"),
                )
                .collect()
            )
            mark = self._timed("compute", mark)
            by_kind = {r["kind"]: r for r in totals}
            options = producer_options(self.kafka, self.stream)
            if "risk" in by_kind:
                risk = risk_records(batch.where(F.col("kind") == "risk"))
                write_kafka(risk, self.kafka.risk_topic, options)
                mark = self._timed("kafka_risk", mark)
            if by_kind.keys() & {"late", "unscorable", "not_canonical"}:
                dead = all_dead_letters(batch, self.kafka.telemetry_topic)
                write_kafka(dead, self.kafka.dlq_topic, options)
                samples = dead.select("reason", "key").limit(DEAD_LETTER_SAMPLES).collect()
                mark = self._timed("kafka_dlq", mark)
            if by_kind.keys() & {"risk", "telemetry"}:  # one Spark job for both measurements
                points = batch.where(F.col("kind").isin("risk", "telemetry"))
                points.foreachPartition(_influx_partition(self.influx, self.stream))
                mark = self._timed("influx", mark)
        finally:
            batch.unpersist()
        stats = by_kind.get("stats")
        counts = {
            "readings_in": int(stats["readings_in"] or 0) if stats else 0,
            "duplicates": int(stats["dups"] or 0) if stats else 0,
            "readings_out": by_kind["risk"]["rows"] if "risk" in by_kind else 0,
            "late": by_kind["late"]["rows"] if "late" in by_kind else 0,
            "unscorable": by_kind["unscorable"]["rows"] if "unscorable" in by_kind else 0,
            "not_canonical": by_kind["not_canonical"]["rows"] if "not_canonical" in by_kind else 0,
        }
        self.counters.add(**counts)
        for stage, column in (("state_cpu", "state_ms"), ("score_cpu", "score_ms")):
            spent = sum(float(r[column] or 0.0) for r in totals)
            self.timings_ms[stage] = self.timings_ms.get(stage, 0.0) + spent
        with InfluxWriter(self.influx, retry_budget_s=self.stream.sink_retry_s) as w:
            w.write(self.counters.lines(int(time.time() * 1000)))
        self._timed("influx_pipeline", mark)
        if any(counts.values()):
            log.info("%s", batch_line(batch_id, counts, time.monotonic() - started))
        for letter in samples:
            self.letters_log.log(letter["reason"], "dead letter %s from %s", letter["reason"], letter["key"])
        self.letters_log.flush()
