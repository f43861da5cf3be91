"""The no-skew proof over the whole ingest chain: test_FD001 replayed through MQTT → gateway → Kafka →
Spark, scored by a champion trained on train_FD001. The last ``risk`` point per engine in InfluxDB gives
the same RMSE against RUL_FD001 as the benchmark's offline scoring of the same model."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from infra.stack.service import StackContext
from ingest.cmapss import read_rul, read_run, subset_files
from streaming.job import JobConfig, start
from streaming.settings import StreamSettings
from tests.conftest import CMAPSS_DIR, unique
from tests.integration.ingest.conftest import FOREWARN, IngestEnv, ingest_env, read_readings
from tests.integration.streaming.conftest import TrainedModel, make_champion, train

pytestmark = [pytest.mark.integration, pytest.mark.spark, pytest.mark.slow]
__all__ = ["ingest_env"]  # the gateway fixture, shared with the ingest tests


@pytest.fixture
def fd001_champion(stack: StackContext) -> Iterator[TrainedModel]:
    model = train(stack, unique("no-skew"), units=100, family="extra_trees")
    make_champion(stack, model)
    yield model
    from mlflow import MlflowClient

    MlflowClient(tracking_uri=stack.mlflow.tracking_uri).delete_registered_model(model.name)


def test_streamed_rmse_matches_the_offline_benchmark(
    stack: StackContext,
    spark: Any,
    ingest_env: IngestEnv,
    fd001_champion: TrainedModel,
    new_topic: Any,
    influx_database: str,
    tmp_path: Path,
) -> None:
    files = subset_files(CMAPSS_DIR, "FD001")
    assert files.test is not None
    assert files.rul is not None
    frame = read_run(files.test)
    true_rul = read_rul(files.rul)
    prefix = f"s{uuid.uuid4().hex[:6]}-"
    units = sorted(int(u) for u in frame["unit"].unique())
    ingest_env.assets = [f"{prefix}fd001-test-{u:03d}" for u in units]
    ingest_env.site = "cmapss"
    gateway = ingest_env.gateway(gateway_topic_filters=json.dumps(ingest_env.filters()))
    replay = subprocess.run(
        [FOREWARN, "replay", "cmapss", "--data-dir", str(CMAPSS_DIR), "--subset", "FD001", "--split", "test",
         "--speed", "max", "--asset-prefix", prefix],
        capture_output=True, timeout=600, check=False,
    )  # fmt: skip
    assert replay.returncode == 0, replay.stderr.decode()
    read_readings(stack, ingest_env.telemetry, expected=len(frame), timeout_s=300)
    assert gateway.terminate() == 0

    topics = {
        "telemetry_topic": ingest_env.telemetry,
        "risk_topic": new_topic("risk", 2),
        "dlq_topic": ingest_env.dlq,
    }
    config = JobConfig(
        stream=StreamSettings(model_name=fd001_champion.name, top_features=1),
        kafka=stack.kafka.model_copy(update=topics),
        influx=stack.influx.model_copy(update={"database": influx_database}),
        mlflow=stack.mlflow,
        checkpoint_dir=tmp_path / "checkpoints",
    )
    for query in start(spark, config, once=True):
        query.awaitTermination(timeout=900)
        assert query.exception() is None, query.exception()

    answer = httpx.get(
        f"{stack.influx.url}/query",
        params={"db": influx_database, "q": 'SELECT last("rul_cycles") FROM "risk" GROUP BY "asset_id"'},
        headers=stack.influx.auth_headers(),
        timeout=30,
    ).json()
    streamed = {s["tags"]["asset_id"]: s["values"][0][1] for s in answer["results"][0]["series"]}
    assert len(streamed) == len(units)
    streamed_rul = np.array([streamed[f"{prefix}fd001-test-{u:03d}"] for u in units])
    streamed_rmse = float(np.sqrt(np.mean((streamed_rul - true_rul) ** 2)))

    import mlflow

    mlflow.set_tracking_uri(stack.mlflow.tracking_uri)
    model = mlflow.pyfunc.load_model(f"models:/{fd001_champion.name}/{fd001_champion.version}")
    offline = model.predict(
        frame.rename(columns={"unit": "asset_id"}).astype({"asset_id": str}),
        params={"latest_only": True, "top_k": 0},
    )
    offline_rul = offline.set_index("asset_id").loc[[str(u) for u in units], "rul"].to_numpy()
    offline_rmse = float(np.sqrt(np.mean((offline_rul - true_rul) ** 2)))
    print(f"FD001 test RMSE: streamed {streamed_rmse:.3f}, offline {offline_rmse:.3f}")
    assert abs(streamed_rmse - offline_rmse) <= 0.5
    assert offline_rmse < 25, "the champion is a real model, not a constant"
