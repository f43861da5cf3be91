"""Scoring-job benchmark (``make bench-stream``): the job's capacity, latency, fixed cost, memory and
state on the product's workload, against the same code path offline.

Two shapes (``--shape``; both by default, each in its own process, one JSON with a section per
shape): C-MAPSS engines (3 settings, 21 sensors) and the pump fleet (3 settings, 6 sensors),
each scored by the model ``forewarn train`` picks for its source (:mod:`bench.workload`), with
the top features on (``FOREWARN_STREAM_TOP_FEATURES``) and the gateway's readings per Kafka
record. Per shape, after a warm-up:

* **fixed cost**: ``--fixed-samples`` warm micro-batches of ``--fixed-records`` records, one at
  a time: Spark's ``addBatch`` duration, median;
* **after idle**: ``--idle-samples`` batches of the same size, each after ``--idle-s`` without
  readings: Spark stops Python workers idle for a minute, so each such batch starts new workers
  that import the step and load the champion; round trip, workers started, CPU;
* **live** (latency): ``--rate`` readings/s from ``--assets`` assets for ``--seconds``; latency
  is the ``risk`` record's Kafka timestamp minus the reading's event time (its send time), the
  records read once the job has scored the phase (not beside it, on the same cores);
* **capacity**: ``--backlog-readings`` from ``--assets`` assets wait in the topic while the job
  is stopped; the restarted job drains them (micro-batches of at most ``--max-offsets``
  records), timed from the restart to the commit of the last micro-batch (every sink done);
  then the state store's size (Spark's figures and the checkpoint's ``state/`` folder, scaled
  per 10,000 assets);
* **offline**: the same model scores the capacity phase's records in one process through the
  job's own step (``streaming.step.step`` per bucket and micro-batch, without Spark); the ratio is
  capacity over offline (wall clock, and by CPU per reading);
* CPU (JVM + Python workers) and peak memory (JVM VmHWM, workers' sampled RSS/PSS) per phase,
  from ``/proc``; last, a probe of Spark's Real-time Mode on the scoring step.

``--sweep`` adds the latency knobs (:mod:`bench.knobs`): short capacity and live phases per
setting, one factor at a time, as a table in the JSON and as Markdown on stderr.

Usage: ``python -m bench.stream [--shape cmapss|pump|both] [--assets N] [--rate R] [--seconds S]
[--backlog-readings N] [--sweep] [--out FILE]``. Bounded and loopback-only; the topics, database,
checkpoints and models it makes are removed at the end.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer
from kafka.admin import NewTopic

from bench import host, stream_run, workload
from bench.procfs import MemorySampler
from bench.spark_progress import Progress, jvm_pid
from bench.stream_run import Run
from forewarn.contracts.telemetry import Reading
from forewarn.influx_admin import create_database, drop_database
from forewarn.paths import project_root
from forewarn.settings import (
    InfluxSettings,
    KafkaSettings,
    MlflowSettings,
    SparkSettings,
    StackSettings,
    load,
)
from streaming.job import JobConfig
from streaming.session import spark_session
from streaming.settings import StreamSettings
from streaming.sinks import ScoredSink

MASTER = "local[2]"  # the product's cores here: two
HEADLINE = ("readings_per_s", "latency_ms_p50", "latency_ms_p99", "cpu_ms_per_reading",
            "ratio_stream_to_offline", "ratio_stream_to_offline_cpu", "fixed_cost_add_batch_ms_median",
            "state_per_10000_assets")  # fmt: skip


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--shape", choices=[*workload.SHAPES, "both"], default="both")
    p.add_argument("--assets", type=int, default=2000, help="assets of the live and capacity phases")
    p.add_argument("--rate", type=float, default=5000.0, help="live phase: readings/s offered")
    p.add_argument("--seconds", type=float, default=30.0, help="live phase: how long (0: no live phase)")
    p.add_argument("--backlog-readings", type=int, default=200_000,
                   help="capacity phase: readings drained from the topic (0: none)")  # fmt: skip
    p.add_argument("--capacity-rounds", type=int, default=1,
                   help="capacity phase: drains in a row (new assets each); the later ones show a JVM that "
                        "has compiled the drain's code, as a running job's has")  # fmt: skip
    p.add_argument("--per-record", type=int, default=None,
                   help="readings per Kafka record (default: the gateway's for --assets)")  # fmt: skip
    p.add_argument("--model", default=None,
                   help="NAME or cmapss=NAME,pump=NAME: score with a registered model's @champion, "
                        "not a new one (kept)")  # fmt: skip
    p.add_argument("--families", default=None,
                   help="families to compare (default: forewarn train's for the source)")  # fmt: skip
    p.add_argument("--trigger-s", type=float, default=0.5, help="micro-batch trigger interval")
    p.add_argument("--max-offsets", type=int, default=10_000, help="maxOffsetsPerTrigger (records)")
    p.add_argument("--partitions", type=int, default=2, help="spark.sql.shuffle.partitions")
    p.add_argument("--state-store", choices=["hdfs", "rocksdb"], default="hdfs")
    p.add_argument("--buckets", type=int, default=StreamSettings().state_buckets,
                   help="FOREWARN_STREAM_STATE_BUCKETS (0: twice the partitions)")  # fmt: skip
    p.add_argument("--warm-rounds", type=int, default=8, help="warm-up micro-batches before measuring")
    p.add_argument("--fixed-samples", type=int, default=7, help="fixed-cost phase: warm small batches")
    p.add_argument("--fixed-records", type=int, default=80, help="fixed-cost phase: records per batch")
    p.add_argument("--idle-samples", type=int, default=2,
                   help="after-idle phase: batches of --fixed-records records, each after --idle-s quiet "
                        "(Spark stops Python workers idle for a minute: each starts new ones)")  # fmt: skip
    p.add_argument(
        "--idle-s", type=float, default=75.0, help="after-idle phase: quiet seconds before each batch"
    )
    p.add_argument("--sweep", action="store_true", help="also sweep the latency knobs (bench.knobs)")
    p.add_argument("--sweep-seconds", type=float, default=15.0, help="sweep: live seconds per row")
    p.add_argument("--sweep-backlog-readings", type=int, default=50_000, help="sweep: backlog per row")
    p.add_argument("--data-dir", type=Path, default=project_root().parent / "shared" / "data" / "cmapss")
    p.add_argument("--no-real-time", action="store_true", help="skip the Real-time Mode probe")
    p.add_argument("--out", type=Path, default=None)
    return p


def _both(args: argparse.Namespace, argv: list[str]) -> dict[str, Any]:
    """Each shape in its own process (its own JVM: peak memory and CPU are that shape's alone)."""
    shapes: dict[str, Any] = {}
    passed = _without(argv, {"--shape", "--out"})
    with tempfile.TemporaryDirectory(prefix="bench-stream-") as tmp:
        for shape in workload.SHAPES:
            out = Path(tmp) / f"{shape}.json"
            print(f"-- bench.stream --shape {shape}", file=sys.stderr, flush=True)
            done = subprocess.run(
                [sys.executable, "-m", "bench.stream", *passed, "--shape", shape, "--out", str(out)],
                cwd=project_root(), stdout=subprocess.DEVNULL, check=False,
            )  # fmt: skip
            shapes[shape] = (
                json.loads(out.read_text()) if out.exists() else {"error": f"exit {done.returncode}"}
            )
    return {
        "benchmark": "stream",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "shapes": shapes,
        "headline": {shape: {k: r.get(k) for k in HEADLINE} for shape, r in shapes.items()},
    }


def _without(argv: list[str], options: set[str]) -> list[str]:
    """``argv`` less the given options and their values (``--opt v`` or ``--opt=v``)."""
    out, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg in options:
            skip = True
        elif arg.split("=", 1)[0] not in options:
            out.append(arg)
    return out


def run_shape(args: argparse.Namespace) -> dict[str, Any]:
    """Every phase for one shape, in this process."""
    machine = host.host()  # the machine is shared and machines differ: say how busy and how fast
    stack = load(StackSettings)
    kafka, influx = load(KafkaSettings, stack.state_dir), load(InfluxSettings, stack.state_dir)
    mlflow_settings = load(MlflowSettings, stack.state_dir)
    tag = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    given = model_for(args.model, args.shape)
    name = given or f"bench-stream-{args.shape}-{tag}"
    topics = {"telemetry_topic": f"bench-telemetry-{tag}", "risk_topic": f"bench-risk-{tag}",
              "dlq_topic": f"bench-dlq-{tag}"}  # fmt: skip
    database = f"bench_{tag}"
    per_record = workload.readings_per_record(args.assets)
    if args.per_record:
        per_record |= {"readings_per_record": args.per_record, "why": "given (--per-record)"}
    admin = KafkaAdminClient(**kafka.client_config())
    admin.create_topics([new_topic(t) for t in topics.values()], wait_for_metadata=True)
    made_topics = list(topics.values())
    create_database(influx, database)  # as the admin, granting the writer and the reader
    work = Path(tempfile.mkdtemp(prefix="bench-stream-"))
    spark = None
    result: dict[str, Any] = {}
    try:
        started = time.monotonic()
        if given:
            model = workload.registered(name, mlflow_settings.tracking_uri)
        else:
            model = workload.train(args.shape, name, args.data_dir, stack.state_dir,
                                   mlflow_settings.tracking_uri, args.families)  # fmt: skip
            model["train_wall_s"] = round(time.monotonic() - started, 1)
        shape = workload.make_shape(args.shape, args.data_dir, stack.state_dir)
        stream = StreamSettings(
            model_name=name,
            trigger_interval_s=args.trigger_s,
            max_offsets_per_trigger=args.max_offsets,
            state_buckets=args.buckets,
        )
        config = JobConfig(
            stream=stream, kafka=kafka.model_copy(update=topics),
            influx=influx.model_copy(update={"database": database}), mlflow=mlflow_settings,
            checkpoint_dir=work / "checkpoint-main",
        )  # fmt: skip
        spark_settings = load(SparkSettings, stack.state_dir).model_copy(
            update={"master": MASTER, "shuffle_partitions": args.partitions, "state_store": args.state_store}
        )
        spark = spark_session(spark_settings, stack.state_dir, "forewarn-bench-stream")
        progress = Progress()
        Progress.retain(spark)
        consumer = KafkaConsumer(topics["risk_topic"], **kafka.client_config(), auto_offset_reset="earliest",
                                 consumer_timeout_ms=1000)  # fmt: skip
        jvm = jvm_pid(spark)
        sink = ScoredSink(config.kafka, config.influx, stream)
        run = Run(spark, config, kafka, sink, progress, consumer, shape,
                  int(per_record["readings_per_record"]), jvm, MemorySampler(jvm).start(), [])  # fmt: skip
        run.start()
        progress.restart()
        warm_s = stream_run.rounds(run, "warm", args.warm_rounds, 40)
        progress.collect(run.queries)
        warm_batches = progress.batches(run.query_name)
        run.stages()  # steady state only: model loading is in the warm-up
        fixed = stream_run.fixed(run, args.fixed_samples, args.fixed_records) if args.fixed_samples else None
        idle = (
            stream_run.after_idle(run, args.idle_samples, args.fixed_records, args.idle_s)
            if args.idle_samples else None
        )  # fmt: skip
        live = (
            stream_run.live(run, "live", args.assets, args.rate, args.seconds) if args.seconds > 0 else None
        )
        backlog_sent: list[Reading] = []
        capacity = (
            stream_run.backlog(run, "backlog", args.assets, args.backlog_readings, backlog_sent)
            if args.backlog_readings > 0 else None
        )  # fmt: skip
        repeats = [
            repeated(stream_run.backlog(run, f"backlog{i}", args.assets, args.backlog_readings, []))
            for i in range(2, args.capacity_rounds + 1)
            if args.backlog_readings > 0
        ]
        run.stop()
        sweep = None
        if args.sweep:
            from bench import knobs

            sweep = knobs.sweep(run, args, admin, work, made_topics)
        run.memory.stop()
        consumer.close()
        offline = (
            stream_run.offline(config, model["version"], backlog_sent, int(per_record["readings_per_record"]))
            if backlog_sent else None
        )  # fmt: skip
        result = {
            "benchmark": "stream",
            "shape": args.shape,
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {**machine, "load_avg_1m": [machine["load_avg_1m"], round(os.getloadavg()[0], 2)]},
            "command": "python -m bench.stream " + " ".join(sys.argv[1:]),
            "model": model,
            "workload": {"assets": args.assets, **per_record, "top_features": stream.top_features,
                         "live": {"readings_per_s": args.rate, "seconds": args.seconds},
                         "backlog_readings": args.backlog_readings},
            "settings": {"trigger_interval_s": args.trigger_s, "max_offsets_per_trigger": args.max_offsets,
                         "shuffle_partitions": args.partitions, "state_store": args.state_store,
                         "master": MASTER, "java_options": spark_settings.java_options},
            "warm_up": {"round_s": warm_s, "rounds": args.warm_rounds, "batches": warm_batches},
            "fixed_cost": fixed,
            "after_idle": idle,
            "live": live,
            "capacity": capacity,
            "capacity_repeats": repeats,
            "offline": offline,
            "memory_whole_run": run.memory.report(),
            "sweep": sweep,
            # the headline figures
            "readings_per_s": capacity["readings_per_s"] if capacity else None,
            "latency_ms_p50": live["latency_ms_p50"] if live else None,
            "latency_ms_p99": live["latency_ms_p99"] if live else None,
            "cpu_ms_per_reading": capacity["cpu_ms_per_reading"] if capacity else None,
            "fixed_cost_add_batch_ms_median": fixed["add_batch_ms_median"] if fixed else None,
            "after_idle_round_trip_s_median": idle["round_trip_s_median"] if idle else None,
            "state_per_10000_assets": (capacity or {}).get("state", {}).get("per_10000_assets"),
            "ratio_stream_to_offline": (
                round(capacity["readings_per_s"] / offline["rows_per_s"], 3) if capacity and offline else None
            ),
            # offline CPU per row over the job's CPU per reading (JVM and Python workers): what the
            # job would reach on idle cores, whatever else this shared machine runs
            "ratio_stream_to_offline_cpu": (
                round(offline["cpu_ms_per_row"] / max(1e-9, capacity["cpu_ms_per_reading"]), 3)
                if capacity and offline else None
            ),
            "real_time_mode": "not tried" if args.no_real_time else stream_run.try_real_time(
                spark, dataclasses.replace(config, checkpoint_dir=work / "checkpoint-realtime")),
        }  # fmt: skip
    finally:
        if spark is not None:
            spark.stop()
        admin.delete_topics(made_topics)
        admin.close()
        drop_database(influx, database)
        from mlflow.exceptions import MlflowException

        from models.tracking import client

        if not given:
            with contextlib.suppress(MlflowException):  # training failed before registering it
                client(mlflow_settings).delete_registered_model(name)
        shutil.rmtree(work, ignore_errors=True)
    return result


def repeated(capacity: dict[str, Any]) -> dict[str, Any]:
    """A later drain's figures: its rate, CPU and where the JVM's CPU went (compiler or tasks)."""
    keep = ("readings_scored", "elapsed_s", "readings_per_s", "cpu_s", "cpu_ms_per_reading",
            "cpu_s_by_process", "jvm_cpu_s_by_thread", "classes_compiled", "after_first_batch")  # fmt: skip
    return {k: capacity.get(k) for k in keep} | {"machine": capacity.get("machine")}


def model_for(option: str | None, shape: str) -> str | None:
    """The ``--model`` of ``shape``: ``NAME`` (one shape) or ``cmapss=NAME,pump=NAME``."""
    if not option or "=" not in option:
        return option
    return dict(part.split("=", 1) for part in option.split(",")).get(shape)


def new_topic(name: str) -> NewTopic:
    """A bench topic: telemetry with the product's 6 partitions, the others 3."""
    return NewTopic(name, 6 if "telemetry" in name else 3, 1)


def main() -> None:
    args = parser().parse_args()
    phases = (args.seconds, args.backlog_readings, args.fixed_samples, args.idle_samples)
    if all(size <= 0 for size in phases) and not args.sweep:
        parser().error("nothing to measure (--seconds, --backlog-readings, --fixed-samples, --idle-samples)")
    result = _both(args, sys.argv[1:]) if args.shape == "both" else run_shape(args)
    text = json.dumps(result, indent=2)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    for shape, part in [(args.shape, result)] if "shapes" not in result else result["shapes"].items():
        if part.get("sweep"):
            print(f"\nknobs, {shape} shape:\n{part['sweep']['markdown']}", file=sys.stderr)


if __name__ == "__main__":
    main()
