"""The job's DataFrame → DataFrame step (``streaming.job.scored_rows``) on static rows.

Kafka-shaped rows built here are written to Parquet and read back as a stream (Spark's stateful
operator for Python runs in streaming queries only), so Spark runs the very plan of the job
(parse, per-asset state, scoring, dead letters, telemetry points) with no broker and no sink:
only the champion from the real MLflow registry.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from forewarn.contracts.dead_letter import decode as decode_dead_letter
from forewarn.contracts.telemetry import Reading, encode_run
from infra.stack.service import StackContext
from streaming.job import JobConfig, scored_rows
from streaming.settings import StreamSettings
from tests.integration.streaming.conftest import TrainedModel
from tests.integration.streaming.test_scoring_job import fd001_test_readings

pytestmark = [pytest.mark.integration, pytest.mark.spark]

KAFKA_ROW = "topic string, partition int, offset long, timestamp timestamp, key binary, value binary"


def kafka_rows(spark: Any, values: list[bytes], folder: Path) -> Any:
    """A streaming DataFrame of Kafka source rows holding ``values`` (from Parquet files)."""
    received = datetime(2026, 11, 23, 4, 30, tzinfo=UTC)
    rows = [("telemetry", i % 3, 100 + i, received, b"key", value) for i, value in enumerate(values)]
    spark.createDataFrame(rows, KAFKA_ROW).write.mode("overwrite").parquet(str(folder))
    return spark.readStream.schema(KAFKA_ROW).parquet(str(folder))


def collect(spark: Any, rows: Any, checkpoint: Path) -> pd.DataFrame:
    """Run ``rows`` once over everything it reads; its output as pandas."""
    name = f"static_{uuid.uuid4().hex}"
    query = (
        rows.writeStream.format("memory").queryName(name).outputMode("append")
        .option("checkpointLocation", str(checkpoint)).trigger(availableNow=True).start()
    )  # fmt: skip
    query.awaitTermination(timeout=600)
    assert query.exception() is None, query.exception()
    try:
        return spark.table(name).toPandas()
    finally:
        spark.catalog.dropTempView(name)


def config(stack: StackContext, model: TrainedModel, tmp_path: Path, **stream: Any) -> JobConfig:
    return JobConfig(
        stream=StreamSettings(model_name=model.name, alias_refresh_s=3600, top_features=2, **stream),
        kafka=stack.kafka,
        influx=stack.influx,
        mlflow=stack.mlflow,
        checkpoint_dir=tmp_path,
    )


def test_static_rows_give_scores_points_and_dead_letters(
    stack: StackContext, spark: Any, champion_model: TrainedModel, tmp_path: Path
) -> None:
    sent = [r for r in fd001_test_readings() if r.asset_id.endswith(("-001", "-002"))]
    runs = [
        encode_run(mine[i : i + 4])
        for asset in sorted({r.asset_id for r in sent})
        for mine in [[r for r in sent if r.asset_id == asset]]
        for i in range(0, len(mine), 4)
    ]
    # a reading without the model's sensors: unscorable
    missing = Reading("pump-9", "site-2", 1_767_225_600_000, 1, {}, {"vib_mm_s": 2.0})
    # canonical in shape, but values no number: unscorable, and its point keeps what it can hold
    odd = orjson.dumps(
        [{"schema": 1, "asset_id": "pump-8", "site": "site-2", "ts": 1_767_225_600_000, "seq": 1,
          "settings": {}, "sensors": {"a": None, "b": [1], "c": {"d": 1}, "e": 2.5}}]
    )  # fmt: skip
    values = [*runs, runs[2], encode_run([missing]), odd, b"not telemetry"]

    job = config(stack, champion_model, tmp_path)
    source = kafka_rows(spark, values, tmp_path / "in")
    rows = collect(spark, scored_rows(source, job), tmp_path / "checkpoint")

    risk = rows[rows["kind"] == "risk"]
    # every reading scored once, the record delivered twice counted as duplicates
    scored = sorted(zip(risk["asset_id"], risk["seq"], strict=True))
    assert scored == sorted((r.asset_id, r.seq) for r in sent)
    stats = rows[rows["kind"] == "stats"]
    assert int(stats["duplicates"].sum()) == len(orjson.loads(runs[2]))
    assert set(risk["model_version"]) == {champion_model.version}

    # the same scores as the registered model offline on the same readings
    import mlflow

    mlflow.set_tracking_uri(stack.mlflow.tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/{champion_model.name}/{champion_model.version}")
    frame = pd.DataFrame([{"asset_id": r.asset_id, "cycle": r.seq, **r.settings, **r.sensors} for r in sent])
    offline = model.predict(frame, params={"top_k": 0}).set_index(["asset_id", "cycle"])
    got = risk.set_index(["asset_id", "seq"]).sort_index()
    assert np.allclose(got["rul_cycles"], offline.loc[got.index, "rul"], atol=1e-6)

    # one telemetry row per asset with a point per reading (pump-9's reading too: unscorable, not unchartable)
    points = [line for body in rows.loc[rows["kind"] == "telemetry", "payload"] for line in body.split("\n")]
    assert len(points) == len(sent) + 2
    assert all(p.startswith("telemetry,asset_id=") for p in points)
    sensor = next(iter(sent[0].sensors))
    assert all(f" sensor.{sensor}=" in p or f",sensor.{sensor}=" in p for p in points if "pump-" not in p)
    assert [p for p in points if "pump-8" in p] == [
        "telemetry,asset_id=pump-8,site=site-2 sensor.e=2.5,seq=1i 1767225600000"
    ]

    unscorable = rows[rows["kind"] == "unscorable"].sort_values("asset_id")
    assert list(unscorable["asset_id"]) == ["pump-8", "pump-9"]
    assert [orjson.loads(p)[0]["seq"] for p in unscorable["payload"]] == [1, 1]

    dead = rows[rows["kind"] == "not_canonical"]
    assert len(dead) == 1
    letter = decode_dead_letter(dead["dlq_value"].iloc[0].encode())
    assert letter.payload == b"not telemetry"
    assert dead["dlq_key"].iloc[0] == f"kafka:telemetry/{(len(values) - 1) % 3}/{100 + len(values) - 1}"


def test_points_follow_the_telemetry_setting(
    stack: StackContext, spark: Any, champion_model: TrainedModel, tmp_path: Path
) -> None:
    sent = [r for r in fd001_test_readings() if r.asset_id.endswith("-003")][:30]
    values = [encode_run(sent[i : i + 5]) for i in range(0, len(sent), 5)]

    def points(**stream: Any) -> list[str]:
        run = tmp_path / uuid.uuid4().hex
        job = config(stack, champion_model, run, **stream)
        rows = scored_rows(kafka_rows(spark, values, run / "in"), job)
        bodies = collect(spark, rows.where("kind = 'telemetry'"), run / "checkpoint")["payload"]
        return [line for body in bodies for line in body.split("\n")]

    assert points(telemetry_to_influx="off") == []
    raw = points(telemetry_to_influx="raw")
    assert sorted(int(p.rsplit(" ", 1)[1]) for p in raw) == [r.ts_ms for r in sent]
    bucket_ms = 3_600_000
    hourly = points(telemetry_to_influx="downsampled", downsample_s=bucket_ms // 1000)
    assert sorted(int(p.rsplit(" ", 1)[1]) for p in hourly) == [r.ts_ms - r.ts_ms % bucket_ms for r in sent]
