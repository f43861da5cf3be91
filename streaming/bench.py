"""Scoring-job benchmark (``make bench-stream``): sustained readings/s through the Spark job,
reading → risk latency, and the same model's offline rows/s on the same readings, in one run.

Readings of C-MAPSS test_FD001 engines (cycled over ``--assets`` assets, event time = send time)
are produced to a fresh Kafka topic at ``--rate`` readings/s for ``--seconds``, in runs of a few
readings per record as the gateway writes them, while the job (``streaming.job.start``, local Spark)
scores them. Latency is the ``risk`` record's Kafka timestamp minus the reading's event time.
The offline figure scores the very same readings with the same model in one process
(``RulRiskModel`` features + predict + contributions, as the job does per asset). Finally it tries
Spark's Real-time Mode trigger on the scoring query and records what Spark answers.

Usage: ``python -m streaming.bench [--assets N] [--rate R] [--seconds S] [--out FILE]``.
Bounded and loopback-only; topics, database and the model it trains are removed at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic

from forewarn.paths import project_root
from forewarn.settings import (
    InfluxSettings,
    KafkaSettings,
    MlflowSettings,
    SparkSettings,
    StackSettings,
    load,
)
from ingest.cmapss import SENSOR_COLUMNS, SETTING_COLUMNS, read_run
from ingest.contract import Reading
from ingest.records import encode_run
from streaming.job import JobConfig, start
from streaming.scoring import ModelRef, champion, score_rows
from streaming.session import spark_session
from streaming.settings import StreamSettings
from streaming.state import model_frame


def _train(name: str, data_dir: Path, tracking_uri: str) -> str:
    env = {**os.environ, "FOREWARN_MLFLOW_TRACKING_URI": tracking_uri}
    out = subprocess.run(
        [sys.executable, "-m", "forewarn", "train", "--data-dir", str(data_dir), "--subset", "FD001",
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
             seconds: float, per_record: int, sent: list[Reading]) -> None:  # fmt: skip
    """Produce at ``rate`` readings/s for ``seconds``: each tick, one run of ``per_record`` readings
    for the next asset in turn."""
    producer = KafkaProducer(**kafka.client_config(), acks="all", linger_ms=5)
    cursor = [0] * assets
    started = time.monotonic()
    asset = 0
    while (elapsed := time.monotonic() - started) < seconds:
        due = int(elapsed * rate)
        while len(sent) < due:
            engine = engines[asset % len(engines)]
            now_ms = int(time.time() * 1000)
            run = []
            for _ in range(per_record):
                i = cursor[asset]
                run.append(_reading(f"bench-{asset:05d}", engine.iloc[i % len(engine)], i + 1, now_ms))
                cursor[asset] += 1
            producer.send(topic, key=run[0].asset_id.encode(), value=encode_run(run))
            sent.extend(run)
            asset = (asset + 1) % assets
        time.sleep(0.005)
    producer.flush(timeout=60)
    producer.close()


def _offline(ref: ModelRef, sent: list[Reading], top_k: int, history: int) -> dict[str, float]:
    """The same model on the same readings in one process: per asset, as the job scores them."""
    model = champion(ref).model
    by_asset: dict[str, list[Reading]] = {}
    for r in sent:
        by_asset.setdefault(r.asset_id, []).append(r)
    frames = []
    for asset, readings in by_asset.items():
        raw = pd.DataFrame(
            {"site": "bench", "ts": [r.ts_ms for r in readings], "seq": [r.seq for r in readings],
             "settings": [orjson.dumps(dict(r.settings)).decode() for r in readings],
             "sensors": [orjson.dumps(dict(r.sensors)).decode() for r in readings]}
        )  # fmt: skip
        frames.append(model_frame(asset, raw))
    started = time.perf_counter()
    rows = 0
    for frame in frames:
        mask = np.ones(len(frame), dtype=bool)
        rows += len(score_rows(model, frame, mask, top_k))
    elapsed = time.perf_counter() - started
    return {"rows": rows, "seconds": round(elapsed, 3), "rows_per_s": round(rows / elapsed, 1)}


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=int, default=200)
    parser.add_argument("--rate", type=float, default=1000.0, help="readings/s offered")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--per-record", type=int, default=5, help="readings per Kafka record")
    parser.add_argument("--data-dir", type=Path, default=project_root().parent / "shared" / "data" / "cmapss")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

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
    stream = StreamSettings(model_name=name, trigger_interval_s=0.5, max_offsets_per_trigger=50_000)
    config = JobConfig(
        stream=stream, kafka=kafka.model_copy(update=topics),
        influx=influx.model_copy(update={"database": database}), mlflow=mlflow_settings,
        checkpoint_dir=Path(tempfile.mkdtemp(prefix="bench-stream-")),
    )  # fmt: skip
    spark = spark_session(load(SparkSettings, stack.state_dir).model_copy(update={"master": "local[2]"}),
                          stack.state_dir, "forewarn-bench-stream")  # fmt: skip
    sent: list[Reading] = []
    result: dict[str, Any] = {}
    try:
        queries = start(spark, config, once=False)
        time.sleep(5)  # let both queries plan their first (empty) batch
        producer = threading.Thread(
            target=_produce,
            args=(kafka, topics["telemetry_topic"], _engines(args.data_dir), args.assets, args.rate,
                  args.seconds, args.per_record, sent),
        )  # fmt: skip
        t0 = time.time()
        producer.start()
        consumer = KafkaConsumer(
            topics["risk_topic"],
            **kafka.client_config(),
            auto_offset_reset="earliest",
            consumer_timeout_ms=1000,
        )
        latencies_ms: list[int] = []
        last_ms = 0
        deadline = time.monotonic() + args.seconds + 300
        while time.monotonic() < deadline and (producer.is_alive() or len(latencies_ms) < len(sent)):
            for record in consumer:
                score = orjson.loads(record.value)
                event_ms = int(datetime.fromisoformat(score["event_ts"]).timestamp() * 1000)
                latencies_ms.append(record.timestamp - event_ms)
                last_ms = max(last_ms, record.timestamp)
        consumer.close()
        for query in queries:
            query.stop()
        elapsed_s = last_ms / 1000 - t0
        lat = np.array(latencies_ms, dtype=float)
        ref = config.model_ref()
        offline = _offline(ref, sent, stream.top_features, 0)
        stream_rate = len(latencies_ms) / elapsed_s if elapsed_s > 0 else 0.0
        result = {
            "benchmark": "stream",
            "when": datetime.now(UTC).isoformat(timespec="seconds"),
            "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
            "model": {"name": name, "version": version, "family": "extra_trees"},
            "offered": {"assets": args.assets, "readings_per_s": args.rate, "seconds": args.seconds,
                        "readings_per_record": args.per_record, "readings": len(sent)},
            "stream": {"readings_scored": len(latencies_ms), "elapsed_s": round(elapsed_s, 2),
                       "readings_per_s": round(stream_rate, 1),
                       "latency_ms_p50": float(np.percentile(lat, 50)) if len(lat) else None,
                       "latency_ms_p99": float(np.percentile(lat, 99)) if len(lat) else None},
            "offline": offline,
            "ratio_stream_to_offline": round(stream_rate / offline["rows_per_s"], 3),
            "real_time_mode": _try_real_time(spark, config),
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
