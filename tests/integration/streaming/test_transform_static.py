"""The job's DataFrame → DataFrame step (``streaming.job.scored_rows``) on static rows.

Kafka-shaped rows built here are written to Parquet and read back as a stream (Spark's stateful
operator for Python runs in streaming queries only), so Spark runs the very plan of the job
(bucketing by asset, the Python step with its state, scoring, dead letters, InfluxDB lines) with no
broker and no sink: only the champion from the real MLflow registry.
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

from forewarn.contracts import dead_letter
from forewarn.contracts.dead_letter import ScoringReason
from forewarn.contracts.risk import RiskRecord, decode_risk
from forewarn.contracts.telemetry import Reading, decode_run, encode_run
from infra.stack.service import StackContext
from streaming.job import JobConfig, scored_rows
from streaming.settings import StreamSettings
from tests.integration.streaming.conftest import TrainedModel
from tests.integration.streaming.test_scoring_job import fd001_test_readings

pytestmark = [pytest.mark.integration, pytest.mark.spark]

KAFKA_ROW = "topic string, partition int, offset long, timestamp timestamp, key binary, value binary"


def kafka_rows(spark: Any, records: list[tuple[bytes, bytes]], folder: Path) -> Any:
    """A streaming DataFrame of Kafka source rows holding ``records`` (from Parquet files)."""
    received = datetime(2026, 11, 23, 4, 30, tzinfo=UTC)
    rows = [("telemetry", i % 3, 100 + i, received, key, value) for i, (key, value) in enumerate(records)]
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


def lines(rows: pd.DataFrame, measurement: str) -> list[str]:
    bodies = rows.loc[rows["kind"] == "points", "lines"]
    return [line for body in bodies for line in body.split("\n") if line.startswith(f"{measurement},")]


def test_static_rows_give_scores_points_and_dead_letters(
    stack: StackContext, spark: Any, champion_model: TrainedModel, tmp_path: Path
) -> None:
    sent = [r for r in fd001_test_readings() if r.asset_id.endswith(("-001", "-002"))]
    runs = [
        (asset.encode(), encode_run(mine[i : i + 4]))
        for asset in sorted({r.asset_id for r in sent})
        for mine in [[r for r in sent if r.asset_id == asset]]
        for i in range(0, len(mine), 4)
    ]
    # a reading without the model's sensors: unscorable (and still a telemetry point)
    missing = Reading("pump-9", "site-2", 1_767_225_600_000, 1, {}, {"vib_mm_s": 2.0})
    # canonical in shape, but values no number: the contract refuses the record
    odd = orjson.dumps(
        [{"schema": 1, "asset_id": "pump-8", "site": "site-2", "ts": 1_767_225_600_000, "seq": 1,
          "settings": {}, "sensors": {"a": None, "b": [1], "c": {"d": 1}, "e": 2.5}}]
    )  # fmt: skip
    records = [*runs, runs[2], (b"pump-9", encode_run([missing])), (b"pump-8", odd), (b"x", b"not telemetry")]

    job = config(stack, champion_model, tmp_path)
    rows = collect(
        spark, scored_rows(kafka_rows(spark, records, tmp_path / "in"), job), tmp_path / "checkpoint"
    )

    risk = [decode_risk(bytes(v)) for v in rows.loc[rows["kind"] == "risk", "value"]]
    scores = [r for r in risk if isinstance(r, RiskRecord)]
    assert len(scores) == len(risk)
    # every reading scored once, the record delivered twice counted as duplicates
    assert sorted((r.asset_id, r.seq) for r in scores) == sorted((r.asset_id, r.seq) for r in sent)
    stats = rows[rows["kind"] == "stats"]
    assert int(stats["duplicates"].sum()) == len(orjson.loads(runs[2][1]))
    assert int(stats["readings_in"].sum()) == len(sent) + len(orjson.loads(runs[2][1])) + 1
    assert int(stats["records"].sum()) == len(records)
    assert {r.model_version for r in scores} == {champion_model.version}

    # the same scores as the registered model offline on the same readings
    import mlflow

    mlflow.set_tracking_uri(stack.mlflow.tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/{champion_model.name}/{champion_model.version}")
    frame = pd.DataFrame([{"asset_id": r.asset_id, "cycle": r.seq, **r.settings, **r.sensors} for r in sent])
    offline = model.predict(frame, params={"top_k": 0}).set_index(["asset_id", "cycle"])
    got = pd.DataFrame(
        [{"asset_id": r.asset_id, "seq": r.seq, "rul": r.rul_cycles, "risk": r.risk} for r in scores]
    )
    got = got.set_index(["asset_id", "seq"]).sort_index()
    assert np.allclose(got["rul"], offline.loc[got.index, "rul"], atol=1e-6)
    assert np.allclose(got["risk"], offline.loc[got.index, "risk"], atol=1e-9)

    # a telemetry point per reading that is not a duplicate (pump-9's too: unscorable, not unchartable)
    telemetry = lines(rows, "telemetry")
    assert len(telemetry) == len(sent) + 1
    sensor = next(iter(sent[0].sensors))
    assert all(f",sensor.{sensor}=" in p or f" sensor.{sensor}=" in p for p in telemetry if "pump-" not in p)
    assert [p for p in telemetry if "pump-9" in p] == [
        "telemetry,asset_id=pump-9,site=site-2 sensor.vib_mm_s=2.0,seq=1i 1767225600000"
    ]
    assert len(lines(rows, "risk")) == len(sent)

    dead = rows[rows["kind"] == "dead"]
    letters = {x.source: x for x in (dead_letter.decode(bytes(v)) for v in dead["value"])}
    unscorable = letters[dead_letter.reading_source("telemetry", "pump-9", 1)]
    assert unscorable.reason == ScoringReason.UNSCORABLE
    assert decode_run(unscorable.payload) == [missing]
    refused = {x.payload: x for x in letters.values() if x.reason == ScoringReason.NOT_CANONICAL}
    assert set(refused) == {odd, b"not telemetry"}
    last = len(records) - 1
    assert refused[b"not telemetry"].source == dead_letter.kafka_source("telemetry", last % 3, 100 + last)
    assert len(letters) == len(dead) == 3


def test_points_follow_the_telemetry_setting(
    stack: StackContext, spark: Any, champion_model: TrainedModel, tmp_path: Path
) -> None:
    sent = [r for r in fd001_test_readings() if r.asset_id.endswith("-003")][:30]
    records = [(sent[0].asset_id.encode(), encode_run(sent[i : i + 5])) for i in range(0, len(sent), 5)]

    def points(**stream: Any) -> list[str]:
        run = tmp_path / uuid.uuid4().hex
        job = config(stack, champion_model, run, **stream)
        rows = scored_rows(kafka_rows(spark, records, run / "in"), job)
        return lines(collect(spark, rows.where("kind = 'points'"), run / "checkpoint"), "telemetry")

    assert points(telemetry_to_influx="off") == []
    raw = points(telemetry_to_influx="raw")
    assert sorted(int(p.rsplit(" ", 1)[1]) for p in raw) == [r.ts_ms for r in sent]
    bucket_ms = 3_600_000
    hourly = points(telemetry_to_influx="downsampled", downsample_s=bucket_ms // 1000)
    assert sorted(int(p.rsplit(" ", 1)[1]) for p in hourly) == [r.ts_ms - r.ts_ms % bucket_ms for r in sent]
