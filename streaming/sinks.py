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
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

import orjson
import pandas as pd
from pyspark.sql import Observation
from pyspark.sql import functions as F  # noqa: N812 - Spark's own convention

from forewarn.contracts import dead_letter
from forewarn.contracts.dead_letter import DeadLetter, ScoringReason, Stage
from forewarn.contracts.influx_schema import PIPELINE, telemetry_lines_bulk, telemetry_point
from forewarn.influx import InfluxWriter
from forewarn.logs import RateLimitedLog, counts_text
from forewarn.settings import InfluxSettings, KafkaSettings
from streaming.session import kafka_writes_v2
from streaming.settings import StreamSettings

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, Row

log = logging.getLogger(__name__)


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
            f'{module} required username="{_jaas_quoted(kafka.sasl_username or "")}" '
            f'password="{_jaas_quoted(password)}";'
        )
    if kafka.ssl_cafile:  # SASL_SSL/SSL: trust the cluster's CA (a PEM file, as for kafka-python)
        options["kafka.ssl.truststore.type"] = "PEM"
        options["kafka.ssl.truststore.location"] = str(kafka.ssl_cafile)
    return options


def _jaas_quoted(value: str) -> str:
    """A value inside a JAAS config's double quotes (its parser reads backslash escapes)."""
    return value.replace("\\", "\\\\").replace('"', '\\"')


BATCH_BYTES = 256 * 1024
"""The Kafka sink's producer batch size (``batch.size``)."""


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
        # a micro-batch hands the producer its records all at once: batches of 256 KB instead of
        # Kafka's 16 KB (45 risk records) mean fewer batches to compress, send and acknowledge
        "kafka.batch.size": str(BATCH_BYTES),
        "kafka.linger.ms": str(linger_ms),
        "kafka.delivery.timeout.ms": str(delivery_ms),
        "kafka.max.block.ms": str(budget_ms),
        "kafka.request.timeout.ms": str(request_ms),
    }


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

    def lines(
        self,
        asset_id: Sequence[str],
        site: Sequence[str],
        ts_ms: Sequence[int],
        seq: Sequence[int],
        settings: Sequence[Mapping[str, float]],
        sensors: Sequence[Mapping[str, float]],
    ) -> list[str]:
        """The points of many canonical readings (every value a finite float, as the telemetry
        contract guarantees), in their order within each set of setting and sensor names: the same
        as :meth:`line` of each (:func:`telemetry_lines_bulk`), a third of the cost."""
        if self.bucket_ms:
            bucket = self.bucket_ms
            ts_ms = [t - t % bucket for t in ts_ms]
        by_names: dict[tuple[str | None, ...], list[int]] = {}
        for i, (s, x) in enumerate(zip(settings, sensors, strict=True)):
            by_names.setdefault((*s, None, *x), []).append(i)
        out: list[str] = []
        for names, rows in by_names.items():
            cut = names.index(None)
            try:
                out += telemetry_lines_bulk(
                    [site[i] for i in rows], [asset_id[i] for i in rows], [ts_ms[i] for i in rows],
                    [int(seq[i]) for i in rows], cast("tuple[str, ...]", names[:cut]),
                    cast("tuple[str, ...]", names[cut + 1 :]),
                    [[*settings[i].values(), *sensors[i].values()] for i in rows],
                )  # fmt: skip
            except ValueError:  # a value the bulk writer cannot take: each point as the general one
                for i in rows:
                    point = self.line(asset_id[i], site[i], ts_ms[i], seq[i], settings[i], sensors[i])
                    if point:
                        out.append(point)
        return out


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


COUNTER_BATCH_LINES = 5000  # the driver's few counter lines a micro-batch: one request


def _writer(settings: InfluxSettings, batch_lines: int, retry_budget_s: float) -> InfluxWriter:
    """One InfluxDB writer (and HTTP connection pool) per Python process (a worker, or the driver
    for the counters) and settings, reused across partitions and micro-batches: a new
    ``httpx.Client`` builds an SSL context, which cost more than formatting the points of a small
    partition (measured with py-spy: 19% of the sink's time)."""
    key = (_identity(settings), batch_lines, retry_budget_s)
    writer = _WRITERS.get(key)
    if writer is None:
        writer = InfluxWriter(settings, batch_lines=batch_lines, retry_budget_s=retry_budget_s)
        _WRITERS[key] = writer
    return writer


DEAD_LETTER_COUNTERS: dict[str, ScoringReason] = {
    "late": ScoringReason.LATE_FOR_STATE,
    "unscorable": ScoringReason.UNSCORABLE,
    "not_canonical": ScoringReason.NOT_CANONICAL,
    "sink_refused": ScoringReason.SINK_REFUSED,
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


COUNTERS = (
    "records",
    "readings_in",
    "duplicates",
    "scored",
    "explained",
    "late",
    "unscorable",
    "not_canonical",
    "sink_refused",
    "assets",
)
"""The step's counters, one ``stats`` row per bucket and micro-batch (``streaming.step``)."""

DEAD_LETTER_SAMPLES = 3
"""Dead letters of a micro-batch logged by reason and source (the rest are counted): each step call
names its first few in its ``stats`` row (JSON in ``lines``), and the driver logs the first of them
all; collecting every letter to the driver to log it would cost what the dead-letter topic holds."""

MAX_LETTER_PAYLOAD = 700_000
"""Bytes of payload a dead letter carries at most: base64 makes it 4/3 larger, and a Kafka record
over the broker's ``max.message.bytes`` (1 MiB by default) would fail the whole write."""


@dataclass(frozen=True)
class PointsSink:
    """Where a Python worker writes a step call's InfluxDB points: pickled to the workers with the
    step's config, so the points are written by the task that made them (``make_update``)."""

    influx: InfluxSettings
    batch_lines: int
    retry_s: float
    dlq_topic: str

    def write(self, out: pd.DataFrame, now: datetime) -> pd.DataFrame:
        """Write ``out``'s ``points`` rows (each one request, :meth:`InfluxWriter.write_checked_chunks`)
        and return the other rows, with one ``sink_refused`` dead letter per point InfluxDB refused
        (counted and sampled in the ``stats`` row). An outage raises after ``retry_s``: the task, so
        the micro-batch, fails and is redone from the checkpoint.

        Until Dec 2026 the points went back to the JVM as rows, were cached with the whole batch and
        handed to a second Python stage (``mapInPandas``) to be written: every line crossed Arrow
        twice and was copied into Spark's cache, and the batch took two Spark jobs.
        """
        points = (out["kind"] == "points").to_numpy()
        if not points.any():
            return out
        writer = _writer(self.influx, self.batch_lines, self.retry_s)
        outcome = writer.write_checked_chunks(out["lines"].to_numpy()[points].tolist())
        rest = out[~points]
        if not outcome.refused:
            return rest.reset_index(drop=True)
        letters = refused_letters(({"line": r.line, "error": r.error} for r in outcome.refused), now)
        stats = (rest["kind"] == "stats").to_numpy()
        rest = rest.copy()
        rest.loc[stats, "sink_refused"] = len(letters)
        refused = [[reason, key] for key, _, reason in letters[:DEAD_LETTER_SAMPLES]]
        rest.loc[stats, "lines"] = [
            orjson.dumps((orjson.loads(given) if isinstance(given, str) else []) + refused).decode()
            for given in rest.loc[stats, "lines"]
        ]
        dead = pd.DataFrame(
            {
                "kind": "dead",
                "topic": self.dlq_topic,
                "key": [k for k, _, _ in letters],
                "value": [v for _, v, _ in letters],
                "reason": [r for _, _, r in letters],
            },
            columns=out.columns,
        )
        for name in (*COUNTERS, "call_ms", "score_ms"):
            dead[name] = 0
        return pd.concat([rest, dead], ignore_index=True)


def refused_letters(refused: Iterable[Any], now: datetime) -> list[tuple[str, bytes, str]]:
    """Points InfluxDB refused → ``telemetry.dlq`` records (key, value, reason): stage ``scoring``,
    reason ``sink_refused``; the payload is the refused line, its source the measurement."""
    out = []
    for r in refused:
        line = str(r["line"])
        measurement = line.split(",", 1)[0].split(" ", 1)[0]
        source = f"influxdb:{measurement}"
        payload = line.encode()[:MAX_LETTER_PAYLOAD]
        detail = f"InfluxDB refused the point: {r['error']}"[:1000]
        letter = DeadLetter(Stage.SCORING, ScoringReason.SINK_REFUSED, detail, source, payload, now)
        out.append((source, dead_letter.encode(letter), ScoringReason.SINK_REFUSED.value))
    return out


def write_kafka(frame: DataFrame, options: dict[str, str]) -> None:
    """Write rows with ``topic``, ``key``, ``value`` (and ``reason``, as a header where set); raises
    on failure."""
    header = F.struct(F.lit("reason").alias("key"), F.encode("reason", "UTF-8").alias("value"))
    writer = (
        frame.select(
            "topic",
            F.col("key").cast("string"),
            F.col("value"),
            F.when(F.col("reason").isNotNull(), F.array(header)).alias("headers"),
        )
        .write.format("kafka")
        .mode("append")
    )  # the V2 write (streaming.session.kafka_writes_v2)
    for key, value in options.items():
        writer = writer.option(key, value)
    writer.save()


OBSERVED_WAIT_S = 60.0
"""How long the sink waits for a written micro-batch's observed counters (they come with the write's
completion, normally at once)."""


def observed_metrics(observation: Any, timeout_s: float) -> dict[str, Any] | None:
    """The metrics ``observation`` collected on its write, or None after ``timeout_s``.

    pyspark's ``Observation.get`` waits without a bound, and Spark never completes an observation
    whose plan it did not execute itself (a V1 source's write, see
    :func:`streaming.session.kafka_writes_v2`): a bounded wait keeps such a case from stopping the
    job, at the cost of one batch's counters.
    """
    future = observation._jo.future()  # the JVM Observation: pyspark has no public wait with a bound
    deadline = time.monotonic() + timeout_s
    while not future.isCompleted():
        if time.monotonic() > deadline:
            return None
        time.sleep(0.005)
    return cast("dict[str, Any]", observation.get)


@dataclass
class ScoredSink:
    """``foreachBatch`` of the scoring query: the step's rows are finished records, so the sink only
    moves them, in one Spark job per micro-batch: the step's tasks have written their InfluxDB
    points (:class:`PointsSink`; a refused point is already a dead letter row), the job writes Kafka
    (``risk`` and ``telemetry.dlq`` in one write, each row naming its topic), and the ``stats`` rows
    come back as the write's observed metrics: counters and a few dead letters to log.

    Until Dec 2026 a micro-batch took two Spark jobs on a cached batch (the first wrote InfluxDB
    from a ``mapInPandas`` stage and collected the stats, the second wrote Kafka) and a third for
    refused points. ``timings_ms`` accumulates where the time goes, per stage, over the job's life
    (the benchmark reads it): ``batch`` is the job (Kafka read, the step with its InfluxDB writes,
    the Kafka write), ``step_ms``/``score_ms`` the Python step's own time (summed over tasks).
    """

    kafka: KafkaSettings
    influx: InfluxSettings
    stream: StreamSettings
    counters: PipelineCounters = field(default_factory=lambda: PipelineCounters("streaming"))
    timings_ms: dict[str, float] = field(default_factory=dict)
    letters_log: RateLimitedLog = field(default_factory=lambda: RateLimitedLog(log, noun="dead letters"))
    _metric_columns: list[Column] = field(default_factory=list, init=False, repr=False)

    def _timed(self, stage: str, started: float) -> float:
        now = time.monotonic()
        self.timings_ms[stage] = self.timings_ms.get(stage, 0.0) + (now - started) * 1000
        return now

    def _metrics(self) -> list[Column]:
        """The observed metrics' columns, built once: each batch building them anew was about 9 ms of
        py4j calls on the driver, on the batch's critical path (py-spy of the bench process)."""
        if not self._metric_columns:
            is_stats = F.col("kind") == "stats"
            self._metric_columns = [
                *[F.sum(F.when(is_stats, F.col(name)).otherwise(0)).alias(name) for name in COUNTERS],
                *[F.sum(F.when(is_stats, F.col(c)).otherwise(0.0)).alias(c) for c in ("call_ms", "score_ms")],
                F.collect_list(F.when(is_stats, F.col("lines"))).alias("samples"),
            ]
        return self._metric_columns

    def __call__(self, batch: DataFrame, batch_id: int) -> None:
        started = time.monotonic()
        kafka_writes_v2(batch.sparkSession)  # or the observed metrics never come: whoever built the session
        # One Spark job: the step's tasks write InfluxDB themselves (PointsSink), the Kafka write
        # takes the risk records and dead letters, and the stats rows reach the driver as observed
        # metrics of that same job (no cached batch read twice).
        observation = Observation(f"scored-{batch_id}-{uuid.uuid4().hex}")
        observed = batch.observe(observation, *self._metrics())
        records = observed.where(F.col("kind").isin("risk", "dead"))
        write_kafka(records, producer_options(self.kafka, self.stream))
        metrics = observed_metrics(observation, OBSERVED_WAIT_S)
        if metrics is None:  # the batch is written: its counts are what is missing, not its data
            log.warning(
                "batch %s: its counters did not arrive within %s s; not counted", batch_id, OBSERVED_WAIT_S
            )
            metrics = {}
        mark = self._timed("batch", started)
        totals = {name: int(metrics.get(name) or 0) for name in COUNTERS}
        samples = [s for given in metrics.get("samples") or [] for s in orjson.loads(given)]
        counts = {
            "readings_in": totals["readings_in"],
            "duplicates": totals["duplicates"],
            "readings_out": totals["scored"],
            "explained": totals["explained"],
            "late": totals["late"],
            "unscorable": totals["unscorable"],
            "not_canonical": totals["not_canonical"],
            "sink_refused": totals["sink_refused"],
        }
        self.counters.add(**counts)
        for stage, column in (("step_ms", "call_ms"), ("score_ms", "score_ms")):
            self.timings_ms[stage] = self.timings_ms.get(stage, 0.0) + float(metrics.get(column) or 0.0)
        # the driver's writer is kept across micro-batches, as the workers' are: a new one built an
        # SSL context per batch, 26 ms of the driver's CPU on every batch's critical path
        _writer(self.influx, COUNTER_BATCH_LINES, self.stream.sink_retry_s).write(
            self.counters.lines(int(time.time() * 1000))
        )
        self._timed("influx_pipeline", mark)
        if any(counts.values()):
            log.info("%s", batch_line(batch_id, counts, time.monotonic() - started))
        for reason, source in samples[:DEAD_LETTER_SAMPLES]:
            self.letters_log.log(reason, "dead letter %s from %s", reason, source)
        self.letters_log.flush()
