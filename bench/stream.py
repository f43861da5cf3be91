"""Scoring-job benchmark (``make bench-stream``): the job's capacity (readings/s), reading → risk
latency, and the same model's offline rows/s on the same readings, in one run.

Readings of C-MAPSS test_FD001 engines (cycled over ``--assets`` assets, in runs of a few readings
per record as the gateway writes them) go to a fresh Kafka topic, in two phases after a warm-up:

* **live** (latency): ``--rate`` readings/s for ``--seconds`` while the job runs; latency is the
  ``risk`` record's Kafka timestamp minus the reading's event time (its send time);
* **capacity** (sustained readings/s): ``--backlog-readings`` wait in the topic while the job is
  stopped; the restarted job drains them in micro-batches of at most ``--max-offsets`` records,
  timed from the restart to the commit of the last micro-batch (every sink done).

The offline figure scores the capacity phase's readings with the same model in one process
(``RulRiskModel`` features + predict + contributions, as the job does per asset); the ratio is
capacity over offline. CPU seconds of the JVM and its Python workers come from ``/proc``. Finally
it tries Spark's Real-time Mode trigger on the scoring query and records what Spark answers.

Usage: ``python -m bench.stream [--assets N] [--rate R] [--seconds S] [--backlog-readings N]
[--out FILE]``. Bounded and loopback-only; topics, database and the model it trains are removed
at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from forewarn.contracts.telemetry import Reading, encode_run
from forewarn.paths import project_root
from forewarn.settings import (
    InfluxSettings,
    KafkaSettings,
    MlflowSettings,
    SparkSettings,
    StackSettings,
    load,
)
from infra.stack.process import CLOCK_TICKS, stat_fields
from ingest.cmapss import SENSOR_COLUMNS, SETTING_COLUMNS, read_run
from streaming.job import JobConfig, start
from streaming.scoring import ModelRef, feature_names, score_features
from streaming.session import spark_session
from streaming.settings import StreamSettings
from streaming.sinks import ScoredSink


def _train(name: str, data_dir: Path, tracking_uri: str) -> str:
    env = {**os.environ, "FOREWARN_MLFLOW_TRACKING_URI": tracking_uri}
    out = subprocess.run(
        [sys.executable, "-m", "chain", "train", "--data-dir", str(data_dir), "--subset", "FD001",
         "--max-units", "40", "--families", "extra_trees", "--cv-folds", "2", "--name", name],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    version = str(json.loads(out.stdout.strip().splitlines()[-1])["version"])
    from mlflow import MlflowClient

    MlflowClient(tracking_uri=tracking_uri).set_registered_model_alias(name, "champion", version)
    return version


def _engines(data_dir: Path) -> list[pd.DataFrame]:
    frame = read_run(data_dir / "test_FD001.txt.gz")
    return [group.reset_index(drop=True) for _, group in frame.groupby("unit", sort=True)]


def _reading(asset: str, row: pd.Series, seq: int, ts_ms: int) -> Reading:
    return Reading(
        asset, "bench", ts_ms, seq,
        {c: float(row[c]) for c in SETTING_COLUMNS}, {c: float(row[c]) for c in SENSOR_COLUMNS},
    )  # fmt: skip


def _produce(kafka: KafkaSettings, topic: str, engines: list[pd.DataFrame], assets: int, rate: float,
             seconds: float, per_record: int, sent: list[Reading], limit: int | None = None,
             prefix: str = "live") -> None:  # fmt: skip
    """Produce at ``rate`` readings/s for ``seconds`` (or until ``limit`` readings): each tick, one
    run of ``per_record`` readings for the next asset (``<prefix>-NNNNN``) in turn."""
    producer = KafkaProducer(**kafka.client_config(), acks="all", linger_ms=5)
    cursor = [0] * assets
    started = time.monotonic()
    asset = 0
    total = limit if limit is not None else int(rate * seconds)
    while (elapsed := time.monotonic() - started) < seconds and len(sent) < total:
        due = min(int(elapsed * rate) + 1, total)
        while len(sent) < due:
            engine = engines[asset % len(engines)]
            now_ms = int(time.time() * 1000)
            run = []
            for _ in range(per_record):
                i = cursor[asset]
                run.append(_reading(f"{prefix}-{asset:05d}", engine.iloc[i % len(engine)], i + 1, now_ms))
                cursor[asset] += 1
            producer.send(topic, key=run[0].asset_id.encode(), value=encode_run(run))
            sent.extend(run)
            asset = (asset + 1) % assets
        time.sleep(0.005)
    producer.flush(timeout=60)
    producer.close()


def _offline(ref: ModelRef, version: str, sent: list[Reading], top_k: int, runs: int = 2) -> dict[str, Any]:
    """The same model, as registered (its own thread settings), on the same readings in one process:
    features for every asset (``model.features``), then one vectorised scoring call. The fastest
    of ``runs`` runs: the figure the job is held against should not be a slow one."""
    import mlflow

    mlflow.set_tracking_uri(ref.tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/{ref.name}/{version}").unwrap_python_model().model
    frame = pd.DataFrame([{"asset_id": r.asset_id, "cycle": r.seq, **r.settings, **r.sensors} for r in sent])
    best: dict[str, Any] = {}
    for _ in range(max(1, runs)):
        started, cpu_started = time.perf_counter(), time.process_time()
        features = model.features(frame)
        featured = time.perf_counter()
        scores = score_features(model, features.loc[:, feature_names(model)], top_k)
        done = time.perf_counter()
        rows, seconds, cpu_s = len(scores.risk), done - started, time.process_time() - cpu_started
        if not best or seconds < best["seconds"]:
            best = {"rows": rows, "seconds": round(seconds, 3), "rows_per_s": round(rows / seconds, 1),
                    "cpu_s": round(cpu_s, 3), "cpu_ms_per_row": round(cpu_s * 1000 / rows, 4),
                    "features_s": round(featured - started, 3),
                    "score_s": round(done - featured, 3)}  # fmt: skip
    return {**best, "runs": runs}


class _Progress:
    """Every progress report of every query of the session, from Spark's listener bus (a query's
    ``recentProgress`` keeps only its last 100 and is read late)."""

    def __init__(self) -> None:
        self.reports: list[Any] = []
        self.since_s = float("inf")

    def listener(self) -> Any:
        from pyspark.sql.streaming.listener import StreamingQueryListener

        outer = self

        class Listener(StreamingQueryListener):
            def onQueryStarted(self, event: Any) -> None:  # noqa: N802 - Spark's names
                pass

            def onQueryProgress(self, event: Any) -> None:  # noqa: N802
                progress = event.progress
                if _start_s(progress) >= outer.since_s:
                    outer.reports.append(progress)

            def onQueryIdle(self, event: Any) -> None:  # noqa: N802
                pass

            def onQueryTerminated(self, event: Any) -> None:  # noqa: N802
                pass

        return Listener()

    def batches(self, query_name: str) -> list[dict[str, Any]]:
        """Per micro-batch with input: records read and Spark's stage durations (ms)."""
        return [
            {"records": p.numInputRows, **{k: int(v) for k, v in (p.durationMs or {}).items()}}
            for p in self.reports
            if p.name == query_name and p.numInputRows
        ]

    def totals(self, query_name: str) -> dict[str, Any]:
        """Spark's own per-stage durations summed over the query's micro-batches that read something."""
        batches = self.batches(query_name)
        durations: dict[str, float] = {}
        for batch in batches:
            for stage, ms in batch.items():
                if stage != "records":
                    durations[stage] = durations.get(stage, 0.0) + ms
        records = [b["records"] for b in batches]
        # Spark's input rows: each Kafka record twice (the job's two branches read the source)
        return {"batches_with_input": len(batches), "source_rows": sum(records),
                "largest_batch_source_rows": max(records, default=0),
                "duration_ms_total": {k: round(v) for k, v in sorted(durations.items())}}  # fmt: skip


def _tree_cpu_s(root: int) -> dict[str, float]:
    """CPU seconds (user + system) of process ``root`` (``jvm``) and of its descendants so far
    (``python``: the Python daemons and workers, reaped ones included), from Linux ``/proc``."""
    parents: dict[int, int] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        fields = stat_fields(entry) if entry.name.isdigit() else None
        if fields is None:  # not a process, or gone meanwhile
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        # utime, stime, cutime, cstime: a live process's own time plus its reaped children's
        cpu[pid] = sum(int(v) for v in fields[11:15]) / CLOCK_TICKS
    python, todo = 0.0, [child for child, parent in parents.items() if parent == root]
    while todo:
        pid = todo.pop()
        python += cpu.get(pid, 0.0)
        todo.extend(child for child, parent in parents.items() if parent == pid)
    own = stat_fields(Path(f"/proc/{root}")) or []
    return {"jvm": sum(int(v) for v in own[11:13]) / CLOCK_TICKS, "python": python}


def _jvm_threads_cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds of the JVM's live threads by kind (name without digits: ``Executor task launch
    worker for task #``, ``C# CompilerThread#``, ``GC Thread#``…), from Linux ``/proc``."""
    out: dict[str, float] = {}
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            name = re.sub(r"[0-9]+", "#", (task / "comm").read_text().strip())
        except OSError:
            continue
        fields = stat_fields(task)
        if fields is not None:
            out[name] = out.get(name, 0.0) + (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return out


def _settle(queries: list[Any], timeout_s: float = 120) -> None:
    """Wait until no query is inside a micro-batch (the last one's sinks and commit done)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and any(q.isActive and q.status["isTriggerActive"] for q in queries):
        time.sleep(0.2)


def _compilations(spark: Any) -> int:
    """Classes Spark's code generator has compiled in this JVM so far (a plan whose code changes
    from one micro-batch to the next is compiled again, and then JIT-compiled again, every batch)."""
    metrics = spark.sparkContext._jvm.org.apache.spark.metrics.source.CodegenMetrics
    return int(metrics.METRIC_COMPILATION_TIME().getCount())


def _spark_pid(spark: Any) -> int:
    return int(spark.sparkContext._jvm.java.lang.ProcessHandle.current().pid())


def _warm_up(kafka: KafkaSettings, topic: str, consumer: KafkaConsumer, engine: pd.DataFrame,
             per_record: int, rounds: int, assets: int = 40, timeout_s: float = 600) -> float:  # fmt: skip
    """Score ``rounds`` runs of each of ``assets`` other assets first, a round at a time, so every
    Python worker has loaded the model and the JVM has compiled the hot paths of several
    micro-batches (a running job has): returns the seconds that took."""
    producer = KafkaProducer(**kafka.client_config(), acks="all")
    started = time.monotonic()
    for r in range(max(1, rounds)):
        now_ms = int(time.time() * 1000)
        for a in range(assets):
            first = r * per_record
            run = [_reading(f"warm-{a:03d}", engine.iloc[i % len(engine)], i + 1, now_ms)
                   for i in range(first, first + per_record)]  # fmt: skip
            producer.send(topic, key=run[0].asset_id.encode(), value=encode_run(run))
        producer.flush(timeout=60)
        seen = 0
        while seen < assets * per_record and time.monotonic() - started < timeout_s:
            seen += sum(1 for rec in consumer if orjson.loads(rec.value)["asset_id"].startswith("warm-"))
    producer.close()
    return time.monotonic() - started


def _try_real_time(spark: Any, config: JobConfig) -> str:
    """Start the scoring query with Spark's Real-time Mode trigger; report what Spark says."""
    from streaming.job import _source, transform
    from streaming.parse import parse_telemetry

    readings, _ = parse_telemetry(_source(spark, config))
    scored = transform(readings, config.model_ref(), 0, config.stream.top_features, output_mode="update")
    try:
        query = (
            # Real-time mode refuses Append (Spark 4.2); Update is what it asks for.
            scored.writeStream.format("console").outputMode("update")
            .option("checkpointLocation", str(config.checkpoint_dir / "realtime"))
            .trigger(realTime="5 seconds").start()  # type: ignore[call-overload]
        )  # fmt: skip
        time.sleep(10)
        error = query.exception()  # Spark checks the plan once the query runs, not at start()
        query.stop()
        if error is not None:
            return f"refused at run time: {str(error).splitlines()[0][:400]}"
        return "ran"
    except Exception as exc:  # what Spark refuses is the finding
        return f"refused: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"


@dataclass
class _Run:
    """What the bench shares between its phases."""

    args: argparse.Namespace
    spark: Any
    config: JobConfig
    kafka: KafkaSettings
    topic: str
    sink: ScoredSink
    progress: _Progress
    consumer: KafkaConsumer
    engines: list[pd.DataFrame]
    jvm: int
    queries: list[Any]
    last_ms: int = 0  # Kafka timestamp of the newest risk record read by ``scored``

    def scored(
        self, prefix: str, expected: int, timeout_s: float, keep_going: Callable[[], bool]
    ) -> list[int]:
        """Read ``risk`` until ``expected`` records of ``prefix-`` assets arrived (or the time is
        up): each one's Kafka timestamp minus its reading's event time (ms)."""
        latencies_ms: list[int] = []
        self.last_ms = 0
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and (keep_going() or len(latencies_ms) < expected):
            for record in self.consumer:
                score = orjson.loads(record.value)
                if not score["asset_id"].startswith(f"{prefix}-"):
                    continue
                event_ms = int(datetime.fromisoformat(score["event_ts"]).timestamp() * 1000)
                latencies_ms.append(record.timestamp - event_ms)
                self.last_ms = max(self.last_ms, record.timestamp)
        return latencies_ms

    def measured(
        self, scored: int, elapsed_s: float, cpu0: dict[str, float], threads0: dict[str, float]
    ) -> dict[str, Any]:
        """Rate and CPU of a phase (read after it settled, while the workers live)."""
        _settle(self.queries)
        cpu1 = _tree_cpu_s(self.jvm)
        job_cpu = {k: cpu1[k] - cpu0[k] for k in cpu1}
        threads1 = _jvm_threads_cpu_s(self.jvm)  # threads that ended meanwhile are missing here
        jvm_threads = {
            k: v - threads0.get(k, 0.0) for k, v in threads1.items() if v - threads0.get(k, 0.0) >= 0.05
        }
        job_cpu_s = sum(job_cpu.values())
        return {"readings_scored": scored, "elapsed_s": round(elapsed_s, 2),
                "readings_per_s": round(scored / elapsed_s, 1) if elapsed_s > 0 else 0.0,
                "cpu_s": round(job_cpu_s, 2),
                "cpu_s_by_process": {k: round(v, 2) for k, v in job_cpu.items()},
                "jvm_cpu_s_by_thread": {k: round(v, 2) for k, v in
                                        sorted(jvm_threads.items(), key=lambda kv: -kv[1])},
                "cpu_ms_per_reading": round(job_cpu_s * 1000 / max(1, scored), 4)}  # fmt: skip

    def stages(self) -> dict[str, Any]:
        """Spark's and the sink's per-stage totals since the last call (then reset)."""
        # the listener bus is asynchronous: wait (a little) for the last micro-batch's report
        name, since = self.config.stream.query_name, self.progress.since_s
        done = sum(
            1 for q in self.queries for p in q.recentProgress if p.numInputRows and _start_s(p) >= since
        )
        deadline = time.monotonic() + 10
        while len(self.progress.batches(name)) < done and time.monotonic() < deadline:
            time.sleep(0.1)
        sink_ms = {k: round(v) for k, v in sorted(self.sink.timings_ms.items())}
        stages = {
            "spark_progress": self.progress.totals(self.config.stream.query_name),
            "sink_ms_total": sink_ms,
        }
        self.sink.timings_ms.clear()
        self.progress.reports.clear()
        return stages


def _start_s(progress: Any) -> float:
    """When a micro-batch started (epoch seconds)."""
    return datetime.fromisoformat(progress.timestamp.replace("Z", "+00:00")).timestamp()


def _end_s(progress: Any) -> float:
    """When a micro-batch had committed (epoch seconds): its start plus its trigger's duration."""
    return _start_s(progress) + float((progress.durationMs or {}).get("triggerExecution", 0)) / 1000


def _live(run: _Run, sent: list[Reading]) -> dict[str, Any]:
    """Latency: ``--rate`` readings/s offered for ``--seconds`` while the job runs."""
    args = run.args
    producer = threading.Thread(
        target=_produce,
        args=(run.kafka, run.topic, run.engines, args.assets, args.rate, args.seconds, args.per_record, sent),
        kwargs={"prefix": "live"},
    )
    t0 = run.progress.since_s = time.time()
    cpu0, threads0 = _tree_cpu_s(run.jvm), _jvm_threads_cpu_s(run.jvm)
    compiled0 = _compilations(run.spark)
    producer.start()
    offered = int(args.rate * args.seconds)  # what _produce sends, unless it runs out of time
    latencies = run.scored(
        "live", offered, args.seconds + 300, lambda: producer.is_alive() or len(sent) < offered
    )
    producer.join()
    lat = np.array(latencies, dtype=float)
    out = run.measured(len(latencies), run.last_ms / 1000 - t0, cpu0, threads0)
    out["classes_compiled"] = _compilations(run.spark) - compiled0
    out["readings_offered"] = len(sent)
    out["latency_ms_p50"] = float(np.percentile(lat, 50)) if len(lat) else None
    out["latency_ms_p99"] = float(np.percentile(lat, 99)) if len(lat) else None
    out["stages"] = run.stages()
    return out


def _backlog(run: _Run, sent: list[Reading]) -> dict[str, Any]:
    """Capacity: ``--backlog-readings`` wait in the topic while the job is stopped; the restarted
    job drains them in micro-batches of at most ``--max-offsets`` records. The time runs from the
    restart to the commit of the last micro-batch (every sink done), start-up included."""
    args = run.args
    for query in run.queries:
        query.stop()
    _produce(run.kafka, run.topic, run.engines, args.assets, 1e9, 3600, args.per_record, sent,
             args.backlog_readings, prefix="backlog")  # fmt: skip
    t0 = run.progress.since_s = time.time()
    cpu0, threads0 = _tree_cpu_s(run.jvm), _jvm_threads_cpu_s(run.jvm)
    compiled0 = _compilations(run.spark)
    run.queries = start(run.spark, run.config, once=False, scored_sink=run.sink)
    latencies = run.scored("backlog", len(sent), 1800, lambda: False)
    _settle(run.queries)
    end_s = max((_end_s(p) for q in run.queries for p in q.recentProgress if p.numInputRows), default=0.0)
    out = run.measured(len(latencies), end_s - t0, cpu0, threads0)
    out["classes_compiled"] = _compilations(run.spark) - compiled0
    out["readings_offered"] = len(sent)
    out["to_last_risk_record_s"] = round(run.last_ms / 1000 - t0, 2)
    out["stages"] = run.stages()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=200)
    parser.add_argument("--rate", type=float, default=1000.0, help="live phase: readings/s offered")
    parser.add_argument("--seconds", type=float, default=30.0, help="live phase: how long (0: no live phase)")
    parser.add_argument("--backlog-readings", type=int, default=100_000,
                        help="capacity phase: readings drained from the topic (0: none)")  # fmt: skip
    parser.add_argument("--per-record", type=int, default=5, help="readings per Kafka record")
    parser.add_argument("--trigger-s", type=float, default=0.5, help="micro-batch trigger interval")
    parser.add_argument("--max-offsets", type=int, default=10_000, help="maxOffsetsPerTrigger (records)")
    parser.add_argument("--partitions", type=int, default=2, help="spark.sql.shuffle.partitions")
    parser.add_argument("--data-dir", type=Path, default=project_root().parent / "shared" / "data" / "cmapss")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--warm-rounds", type=int, default=8, help="warm-up micro-batches before measuring")
    parser.add_argument("--no-real-time", action="store_true", help="skip the Real-time Mode probe")
    args = parser.parse_args()
    if args.seconds <= 0 and args.backlog_readings <= 0:
        parser.error("nothing to measure: --seconds and --backlog-readings are both 0")
    load_at_start = os.getloadavg()[0]  # the machine is shared: say how busy it was

    stack = load(StackSettings)
    kafka, influx = load(KafkaSettings, stack.state_dir), load(InfluxSettings, stack.state_dir)
    mlflow_settings = load(MlflowSettings, stack.state_dir)
    tag = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    name = f"bench-stream-{tag}"
    topics = {"telemetry_topic": f"bench-telemetry-{tag}", "risk_topic": f"bench-risk-{tag}",
              "dlq_topic": f"bench-dlq-{tag}"}  # fmt: skip
    database = f"bench_{tag}"
    admin = KafkaAdminClient(**kafka.client_config())
    admin.create_topics(
        [NewTopic(t, 6 if "telemetry" in t else 3, 1) for t in topics.values()], wait_for_metadata=True
    )
    httpx.post(
        f"{influx.url}/query", params={"q": f'CREATE DATABASE "{database}"'}, timeout=10
    ).raise_for_status()
    version = _train(name, args.data_dir, mlflow_settings.tracking_uri)
    stream = StreamSettings(
        model_name=name, trigger_interval_s=args.trigger_s, max_offsets_per_trigger=args.max_offsets
    )
    config = JobConfig(
        stream=stream, kafka=kafka.model_copy(update=topics),
        influx=influx.model_copy(update={"database": database}), mlflow=mlflow_settings,
        checkpoint_dir=Path(tempfile.mkdtemp(prefix="bench-stream-")),
    )  # fmt: skip
    spark_settings = load(SparkSettings, stack.state_dir).model_copy(
        update={"master": "local[2]", "shuffle_partitions": args.partitions}
    )
    spark = spark_session(spark_settings, stack.state_dir, "forewarn-bench-stream")
    progress = _Progress()
    spark.streams.addListener(progress.listener())
    result: dict[str, Any] = {}
    try:
        sink = ScoredSink(config.kafka, config.influx, stream)
        consumer = KafkaConsumer(
            topics["risk_topic"],
            **kafka.client_config(),
            auto_offset_reset="earliest",
            consumer_timeout_ms=1000,
        )
        queries = start(spark, config, once=False, scored_sink=sink)
        run = _Run(args, spark, config, kafka, topics["telemetry_topic"], sink, progress, consumer,
                   _engines(args.data_dir), _spark_pid(spark), queries)  # fmt: skip
        progress.since_s = time.time()
        warm_s = _warm_up(kafka, topics["telemetry_topic"], consumer, run.engines[0], args.per_record,
                          args.warm_rounds)  # fmt: skip
        warm_batches = progress.batches(stream.query_name)
        run.stages()  # steady state only: model loading is in the warm-up
        live_sent: list[Reading] = []
        backlog_sent: list[Reading] = []
        live = _live(run, live_sent) if args.seconds > 0 else None
        capacity = _backlog(run, backlog_sent) if args.backlog_readings > 0 else None
        consumer.close()
        for query in run.queries:
            query.stop()
        measured, sent = (capacity, backlog_sent) if capacity else (live, live_sent)
        assert measured is not None
        offline = _offline(config.model_ref(), version, sent, stream.top_features)
        result = {
            "benchmark": "stream",
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                        "load_avg_1m": [round(load_at_start, 2), round(os.getloadavg()[0], 2)]},
            "model": {"name": name, "version": version, "family": "extra_trees"},
            "offered": {"assets": args.assets, "readings_per_record": args.per_record,
                        "live": {"readings_per_s": args.rate, "seconds": args.seconds},
                        "backlog_readings": args.backlog_readings},
            "settings": {"trigger_interval_s": args.trigger_s, "max_offsets_per_trigger": args.max_offsets,
                         "shuffle_partitions": args.partitions, "master": "local[2]",
                         "top_features": stream.top_features},
            "warm_up": {"seconds": round(warm_s, 1), "rounds": args.warm_rounds, "batches": warm_batches},
            "live": live,
            "capacity": capacity,
            # the headline figures: capacity (or, without that phase, the live rate) and live latency
            "readings_per_s": measured["readings_per_s"],
            "latency_ms_p50": live["latency_ms_p50"] if live else None,
            "latency_ms_p99": live["latency_ms_p99"] if live else None,
            "offline": offline,
            "ratio_stream_to_offline": round(measured["readings_per_s"] / offline["rows_per_s"], 3),
            # the same, by CPU spent per reading (JVM and Python workers vs the offline process):
            # what the job would reach on idle cores, whatever else this shared machine runs
            "ratio_stream_to_offline_cpu": round(
                offline["cpu_ms_per_row"] / max(1e-9, measured["cpu_ms_per_reading"]), 3
            ),
            "real_time_mode": "not tried" if args.no_real_time else _try_real_time(spark, config),
        }  # fmt: skip
    finally:
        spark.stop()
        admin.delete_topics(list(topics.values()))
        admin.close()
        httpx.post(f"{influx.url}/query", params={"q": f'DROP DATABASE "{database}"'}, timeout=10)
        from mlflow import MlflowClient

        MlflowClient(tracking_uri=mlflow_settings.tracking_uri).delete_registered_model(name)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
