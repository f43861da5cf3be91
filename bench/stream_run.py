"""The scoring bench's phases on one running Spark session: warm-up, fixed cost, live, capacity, offline.

:class:`Run` holds what the phases share: the session, the job's configuration (its telemetry
topic and checkpoint change per knob row), the sink, the progress reports, a consumer of the
``risk`` topic and the memory sampler. Every phase gives its own asset prefix so that its risk
records are told from the others' on the shared ``risk`` topic.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import orjson
import pandas as pd
from kafka import KafkaConsumer, KafkaProducer

from bench import procfs
from bench.procfs import MemorySampler
from bench.spark_progress import Progress, compilations, end_s, fixed_cost, settle, start_s
from bench.workload import Shape
from forewarn.contracts.telemetry import Reading, encode_run
from forewarn.settings import KafkaSettings
from infra.stack import process
from streaming.job import JobConfig, start
from streaming.progress import committed_offsets, lag_from, topic_offsets
from streaming.sinks import ScoredSink


@dataclass
class Run:
    """What the bench's phases share."""

    spark: Any
    config: JobConfig
    kafka: KafkaSettings
    sink: ScoredSink
    progress: Progress
    consumer: KafkaConsumer
    shape: Shape
    per_record: int
    jvm: int
    memory: MemorySampler
    queries: list[Any]
    last_ms: int = 0  # Kafka timestamp of the newest risk record read by ``scored``
    # every asset sent to the current checkpoint: what its state holds (the job may key its state
    # by something else than the asset, so Spark's row count need not be the asset count)
    assets_in_state: set[str] = field(default_factory=set)

    @property
    def topic(self) -> str:
        return self.config.kafka.telemetry_topic

    @property
    def query_name(self) -> str:
        return self.config.stream.query_name

    def start(self) -> None:
        self.queries = start(self.spark, self.config, once=False, scored_sink=self.sink)

    def stop(self) -> None:
        for query in self.queries:
            query.stop()

    def scored(self, prefix: str, expected: int, timeout_s: float) -> list[int]:
        """Read ``risk`` until ``expected`` records of ``prefix-`` assets arrived (or the time is
        up): each one's Kafka timestamp minus its reading's event time (ms)."""
        latencies_ms: list[int] = []
        self.last_ms = 0
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline and len(latencies_ms) < expected:
            self.raise_if_failed()
            for record in self.consumer:
                score = orjson.loads(record.value)
                if not score["asset_id"].startswith(f"{prefix}-"):
                    continue
                event_ms = int(datetime.fromisoformat(score["event_ts"]).timestamp() * 1000)
                latencies_ms.append(record.timestamp - event_ms)
                self.last_ms = max(self.last_ms, record.timestamp)
                if len(latencies_ms) >= expected:
                    break
        return latencies_ms

    def raise_if_failed(self) -> None:
        """A query that stopped on an error ends the bench (its risk records would never come)."""
        for query in self.queries:
            if not query.isActive and query.exception() is not None:
                raise RuntimeError(
                    f"the scoring query failed: {str(query.exception()).splitlines()[0][:500]}"
                )

    def cpu(self) -> tuple[dict[str, float], dict[str, float]]:
        machine = procfs.machine_cpu_s()
        tree = {self.jvm, *process.descendants(self.jvm)}
        outside = {f"outside:{k}": v for k, v in procfs.services_cpu_s(tree).items()}
        machine_keys = {f"machine:{k}": v for k, v in machine.items()}
        return {**procfs.tree_cpu_s(self.jvm), **machine_keys, **outside}, procfs.jvm_threads_cpu_s(self.jvm)

    def measured(
        self, scored: int, elapsed_s: float, cpu0: dict[str, float], threads0: dict[str, float]
    ) -> dict[str, Any]:
        """Rate, CPU and memory of a phase (read after it settled, while the workers live)."""
        settle(self.queries)
        cpu1, threads1 = self.cpu()  # threads that ended meanwhile are missing from threads1
        job_cpu = {k: cpu1[k] - cpu0[k] for k in ("jvm", "python")}
        # the machine's busy share and the stack beside the job: is a core idle, or serving the stack?
        busy = cpu1["machine:busy"] - cpu0["machine:busy"]
        total = cpu1["machine:total"] - cpu0["machine:total"]
        outside = {
            k.split(":", 1)[1]: v - cpu0.get(k, 0.0)
            for k, v in cpu1.items()
            if k.startswith("outside:") and v - cpu0.get(k, 0.0) >= 0.05
        }
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
                "cpu_ms_per_reading": round(job_cpu_s * 1000 / max(1, scored), 4),
                # from the phase's start to its settling (a little longer than elapsed_s)
                "machine": {"busy_cpu_s": round(busy, 2),
                            "stolen_cpu_s": round(cpu1["machine:steal"] - cpu0["machine:steal"], 2),
                            "cores_busy": round(busy / max(total, 1e-9) * (os.cpu_count() or 1), 2),
                            "outside_job_cpu_s": {k: round(v, 2) for k, v in
                                                  sorted(outside.items(), key=lambda kv: -kv[1])}},
                "memory": self.memory.report()}  # fmt: skip

    @staticmethod
    def counted(measured: dict[str, Any], scored: int) -> dict[str, Any]:
        """A phase's figures (:meth:`measured`) per reading scored, the readings counted after it."""
        elapsed_s = measured["elapsed_s"]
        return measured | {
            "readings_scored": scored,
            "readings_per_s": round(scored / elapsed_s, 1) if elapsed_s > 0 else 0.0,
            "cpu_ms_per_reading": round(measured["cpu_s"] * 1000 / max(1, scored), 4),
        }

    def stages(self) -> dict[str, Any]:
        """Spark's and the sink's per-stage totals since the last call (then reset)."""
        self.progress.collect(self.queries)
        timings = getattr(self.sink, "timings_ms", {})
        stages = {
            "spark_progress": self.progress.totals(self.query_name),
            "sink_ms_total": {k: round(v) for k, v in sorted(timings.items())},
        }
        timings.clear()
        self.progress.restart()
        return stages


def produce(run: Run, prefix: str, assets: int, rate: float, seconds: float, sent: list[Reading],
            limit: int | None = None) -> None:  # fmt: skip
    """Produce at ``rate`` readings/s for ``seconds`` (or until ``limit`` readings): each tick, one
    record of ``run.per_record`` readings for the next asset (``<prefix>-NNNNN``) in turn."""
    producer = KafkaProducer(**run.kafka.client_config(), acks="all", linger_ms=5)
    cursor = [0] * assets
    started = time.monotonic()
    asset = 0
    total = limit if limit is not None else int(rate * seconds)
    while (elapsed := time.monotonic() - started) < seconds and len(sent) < total:
        due = min(int(elapsed * rate) + 1, total)
        while len(sent) < due:
            now_ms = int(time.time() * 1000)
            name = f"{prefix}-{asset:05d}"
            first = cursor[asset]
            records = [
                run.shape.reading(name, asset, i, now_ms) for i in range(first, first + run.per_record)
            ]
            cursor[asset] += run.per_record
            run.assets_in_state.add(name)
            producer.send(run.topic, key=name.encode(), value=encode_run(records))
            sent.extend(records)
            asset = (asset + 1) % assets
        time.sleep(0.005)
    producer.flush(timeout=60)
    producer.close()


def rounds(run: Run, prefix: str, count: int, assets: int, timeout_s: float = 600) -> list[float]:
    """``count`` rounds of one record for each of ``assets`` assets, each round scored before the
    next is sent; the seconds each took. The warm-up (every Python worker has loaded the model,
    the JVM has compiled the hot paths of several micro-batches) and the fixed-cost samples."""
    producer = KafkaProducer(**run.kafka.client_config(), acks="all")
    took = []
    for r in range(max(1, count)):
        started = time.monotonic()
        now_ms = int(time.time() * 1000)
        for a in range(assets):
            name = f"{prefix}-{a:05d}"
            first = r * run.per_record
            records = [run.shape.reading(name, a, i, now_ms) for i in range(first, first + run.per_record)]
            run.assets_in_state.add(name)
            producer.send(run.topic, key=name.encode(), value=encode_run(records))
        producer.flush(timeout=60)
        run.scored(prefix, assets * run.per_record, timeout_s)
        settle(run.queries)
        took.append(round(time.monotonic() - started, 2))
    producer.close()
    return took


def fixed(run: Run, samples: int, records: int) -> dict[str, Any]:
    """The fixed cost of a warm micro-batch: ``samples`` batches of ``records`` Kafka records, one at a
    time; Spark's ``addBatch`` (the query's work and sinks) per batch, median."""
    run.progress.restart()
    took = rounds(run, "fixed", samples, records)
    run.progress.collect(run.queries)
    out = fixed_cost(run.progress.batches(run.query_name))
    out |= {
        "records_per_sample": records,
        "readings_per_sample": records * run.per_record,
        "sample_round_trip_s": took,
        "note": "a batch's records are Spark's numInputRows (a Kafka record counts once per branch "
        "of the plan that reads it); a sample split over two batches gives two",
    }
    run.stages()
    return out


def after_idle(run: Run, samples: int, records: int, idle_s: float) -> dict[str, Any]:
    """The first micro-batch after the fleet was quiet for ``idle_s``: Spark stops Python workers
    that sat idle for a minute (``PythonWorkerFactory``, fixed in Spark 4.2), so that batch starts
    new ones, each importing the step and loading the champion (``streaming.model_cache``) before it
    scores. ``samples`` waits, each followed by one round of ``records`` records (as the fixed-cost
    samples, whose warm figures this is to be read against); per sample its round trip (sent to
    scored), the workers it started and the CPU the job's processes spent."""
    run.progress.restart()
    out: dict[str, Any] = {"idle_s": idle_s, "records_per_sample": records, "samples_taken": []}
    for i in range(samples):
        time.sleep(idle_s)
        before = set(process.descendants(run.jvm))
        cpu0, threads0 = run.cpu()
        took = rounds(run, f"idle{i}", 1, records)[0]
        cpu = run.measured(0, took, cpu0, threads0)
        started = set(process.descendants(run.jvm)) - before
        out["samples_taken"].append({"round_trip_s": took, "python_processes_started": len(started),
                                     "cpu_s_by_process": cpu["cpu_s_by_process"]})  # fmt: skip
    run.progress.collect(run.queries)
    cost = fixed_cost(run.progress.batches(run.query_name))
    out |= {k: cost[k] for k in ("samples", "add_batch_ms_median", "trigger_execution_ms_median")}
    trips = [s["round_trip_s"] for s in out["samples_taken"]]
    out["round_trip_s_median"] = float(np.median(trips)) if trips else None
    run.stages()
    return out


def live(run: Run, prefix: str, assets: int, rate: float, seconds: float) -> dict[str, Any]:
    """Latency: ``rate`` readings/s offered for ``seconds`` while the job runs."""
    sent: list[Reading] = []
    producer = threading.Thread(target=produce, args=(run, prefix, assets, rate, seconds, sent))
    run.progress.restart()
    t0 = run.progress.since_s
    run.memory.reset()
    cpu0, threads0 = run.cpu()
    compiled0 = compilations(run.spark)
    producer.start()
    producer.join()
    # the risk records are read once the job has scored what the producer managed to send (a
    # Python producer may fall short of the rate): their Kafka timestamps are the sink's, whenever
    # they are read. Reading them as they came took 6-7 s of the two cores from the job it measured
    # (the bench process's 13.3 s in a 37 s live phase, 5 Dec 2026, with the producer).
    end = topic_offsets(run.kafka, run.topic)[1]
    drained(run, end, seconds + 300)
    settle(run.queries)
    run.progress.collect(run.queries)
    last = max((end_s(p) for p in run.progress.with_input()), default=t0)
    out = run.measured(0, last - t0, cpu0, threads0)
    latencies = run.scored(prefix, len(sent), 300)
    out = run.counted(out, len(latencies))
    lat = np.array(latencies, dtype=float)
    out["classes_compiled"] = compilations(run.spark) - compiled0
    out["readings_offered"] = len(sent)
    out["offered_readings_per_s"] = rate
    out["latency_ms_p50"] = float(np.percentile(lat, 50)) if len(lat) else None
    out["latency_ms_p99"] = float(np.percentile(lat, 99)) if len(lat) else None
    out["stages"] = run.stages()
    return out


def backlog(run: Run, prefix: str, assets: int, readings: int, sent: list[Reading]) -> dict[str, Any]:
    """Capacity: ``readings`` wait in the topic while the job is stopped; the restarted job drains
    them in micro-batches of at most ``maxOffsetsPerTrigger`` records. The time runs from the
    restart to the commit of the last micro-batch (every sink done), start-up included; the risk
    records are counted after it."""
    run.stop()
    produce(run, prefix, assets, 1e9, 3600, sent, readings)
    end = topic_offsets(run.kafka, run.topic)[1]
    run.progress.restart()
    t0 = run.progress.since_s
    run.memory.reset()
    cpu0, threads0 = run.cpu()
    compiled0 = compilations(run.spark)
    run.start()
    drained(run, end, 1800)
    settle(run.queries)
    run.progress.collect(run.queries)
    last = max((end_s(p) for p in run.progress.with_input()), default=0.0)
    out = run.measured(0, last - t0, cpu0, threads0)
    # counted once the job is done: a consumer reading `risk` during the drain took 5-6 s of the two
    # cores' CPU from the job it measures (`capacity.machine` in the Dec 3 JSON)
    out = run.counted(out, len(run.scored(prefix, len(sent), 300)))
    out["classes_compiled"] = compilations(run.spark) - compiled0
    out["after_first_batch"] = after_first_batch(run)
    out["readings_offered"] = len(sent)
    out["assets"] = assets
    out["to_last_risk_record_s"] = round(run.last_ms / 1000 - t0, 2)
    out["state"] = state_size(run)
    out["stages"] = run.stages()
    return out


def after_first_batch(run: Run) -> dict[str, Any] | None:
    """The drain's rate without its first micro-batch: a restarted query's first batch also plans
    the query, makes its Kafka consumers, loads the state from the checkpoint and runs code the JVM
    has not compiled for batches of that size; the later ones are what a running job does. (The
    Python workers stay: a drain restarts the query, not the session, and the wait is under the
    minute after which Spark stops idle workers; a job started anew also starts them, which the
    after-idle phase measures.)"""
    batches = run.progress.with_input()  # the drain's: taken since the restart
    if len(batches) < 2:
        return None
    span_s = end_s(batches[-1]) - end_s(batches[0])
    readings = sum(int(p.numInputRows) for p in batches[1:]) * run.per_record
    return {"batches": len(batches) - 1, "readings": readings, "seconds": round(span_s, 2),
            "readings_per_s": round(readings / span_s, 1) if span_s > 0 else None,
            "first_batch_s": round(end_s(batches[0]) - start_s(batches[0]), 2)}  # fmt: skip


def drained(run: Run, end: dict[tuple[str, int], int], timeout_s: float) -> None:
    """Until the job's newest committed micro-batch has read up to ``end`` (every sink done), as
    ``forewarn stream lag`` sees it: from the checkpoint's files, with no Kafka client polling."""
    query_checkpoint = run.config.checkpoint_dir / "scoring"
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run.raise_if_failed()
        if not any(lag_from(committed_offsets(query_checkpoint)[1], end).values()):
            return
        time.sleep(0.2)
    raise TimeoutError(f"the job did not drain the backlog in {timeout_s:.0f} s")


def state_size(run: Run) -> dict[str, Any]:
    """The state store after a phase: Spark's figures, the checkpoint's ``state/`` folder, both per
    10,000 assets, scaled from the assets the state holds (every asset sent to this checkpoint)."""
    spark_state = run.progress.state(run.query_name)
    disk = procfs.folder_size(run.config.checkpoint_dir / "scoring" / "state")
    assets = len(run.assets_in_state)
    out: dict[str, Any] = {"spark": spark_state, "checkpoint_state_folder": disk, "assets_in_state": assets}
    if assets:
        per = 10_000 / assets
        memory = (spark_state or {}).get("memory_used_bytes", 0)
        out["per_10000_assets"] = {
            "how": f"scaled from the {assets} assets in the state (bytes / assets x 10,000)",
            "memory_used_mb": round(memory * per / 2**20, 2),
            "checkpoint_state_folder_mb": round(disk["bytes"] * per / 2**20, 2),
            "checkpoint_note": "the folder keeps every version Spark retains "
            "(spark.sql.streaming.minBatchesToRetain), not only the newest",
        }
    return out


def offline(
    config: JobConfig, version: str, sent: list[Reading], per_record: int, runs: int = 2
) -> dict[str, Any]:
    """The job's own code path in one process, without Spark: the same records (runs of
    ``per_record`` readings per asset, in sending order), the same micro-batch size
    (``max_offsets_per_trigger`` records), the same buckets, each through :func:`streaming.step.step`
    with the registered model (one thread, as the job's workers). The fastest of ``runs`` runs: the
    figure the job is held against should not be a slow one."""
    import mlflow

    from streaming.scoring import Champion, one_thread_per_worker, worker_model
    from streaming.step import step
    from streaming.window import BucketWindows

    ref = config.model_ref()
    mlflow.set_tracking_uri(ref.tracking_uri)
    one_thread_per_worker()  # before the load, as in a worker: its probe check predicts with one thread
    model = worker_model(  # as the job's workers load it: one thread, trees walked in C
        mlflow.pyfunc.load_model(f"models:/{ref.name}/{version}").unwrap_python_model().model,
        ref.compiled_dir,
    )
    champion = Champion(ref.name, ref.alias, version, model, time.monotonic())
    step_config = config.step_config()
    buckets = config.stream.buckets(2)  # the bench's sessions run 2 partitions unless swept
    pending: dict[str, list[Reading]] = {}
    records: list[dict[str, Any]] = []
    for reading in sent:  # the runs as the producer cut them: per asset, per_record readings
        run = pending.setdefault(reading.asset_id, [])
        run.append(reading)
        if len(run) == per_record:
            records.append({"key": reading.asset_id.encode(), "value": encode_run(run)})
            pending[reading.asset_id] = []
    records += [{"key": a.encode(), "value": encode_run(run)} for a, run in pending.items() if run]
    frame = pd.DataFrame(records)
    frame["topic"], frame["partition"], frame["kafka_ms"] = "telemetry", 0, int(time.time() * 1000)
    frame["offset"] = np.arange(len(frame))
    frame["bucket"] = [hash(k) % buckets for k in frame["key"]]
    size = config.stream.max_offsets_per_trigger
    best: dict[str, Any] = {}
    for _ in range(max(1, runs)):
        states = {b: BucketWindows() for b in range(buckets)}
        scored = 0
        started, cpu_started = time.perf_counter(), time.process_time()
        for first in range(0, len(frame), size):
            for bucket, part in frame.iloc[first : first + size].groupby("bucket", sort=False):
                out, states[bucket] = step(part.reset_index(drop=True), states[bucket], champion, step_config)
                scored += int(out.loc[out["kind"] == "stats", "scored"].sum())
        seconds, cpu_s = time.perf_counter() - started, time.process_time() - cpu_started
        if not best or seconds < best["seconds"]:
            best = {"rows": scored, "seconds": round(seconds, 3), "rows_per_s": round(scored / seconds, 1),
                    "cpu_s": round(cpu_s, 3), "cpu_ms_per_row": round(cpu_s * 1000 / max(1, scored), 4),
                    "path": "streaming.step.step per bucket and micro-batch, no Spark"}  # fmt: skip
    return {**best, "runs": runs}


def try_real_time(spark: Any, config: JobConfig) -> str:
    """Start the scoring step with Spark's Real-time Mode trigger; report what Spark says."""
    try:
        from streaming.buckets import balanced_labels
        from streaming.job import _source, shuffle_partitions, state_buckets, transform

        # the job's own step on the Kafka source (streaming.job.scored_rows), in Update mode
        labels = balanced_labels(spark, state_buckets(spark, config), shuffle_partitions(spark))
        step = transform(_source(spark, config), config.step_config(), labels, output_mode="update")
        query = (
            # Real-time mode refuses Append (Spark 4.2); Update is what it asks for.
            step.writeStream.format("console").outputMode("update")
            .option("checkpointLocation", str(config.checkpoint_dir / "realtime"))
            .trigger(realTime="5 seconds").start()  # type: ignore[call-overload]
        )  # fmt: skip
        time.sleep(10)
        error = query.exception()  # Spark checks the plan once the query runs, not at start()
        query.stop()
        if error is not None:
            return f"refused at run time: {str(error).splitlines()[0][:400]}"
        return "ran"
    except Exception as exc:  # what Spark refuses (or the probe no longer fitting the job) is the finding
        return f"refused: {type(exc).__name__}: {str(exc).splitlines()[0][:300]}"
