"""The scoring job, unchanged, on a Spark standalone cluster: the same scores as in local mode.

A master and two one-core workers start on loopback from pyspark's own launcher
(``infra.spark_cluster``); ``forewarn stream run --once --master spark://…`` scores a C-MAPSS replay
there, and ``--master local[2]`` scores the same topic into another risk topic with its own
checkpoint. Both must score every reading once, with the same risk and RUL: the per-asset state
and the model give the same answer whichever executor holds an asset.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from forewarn.contracts.telemetry import Reading, encode_run
from infra.spark_cluster import ClusterSpec, SparkCluster, master_state, running
from infra.stack.kafka import grant_roles
from infra.stack.service import StackContext
from ingest.cmapss import read_run
from ingest.replay import ReplayConfig, readings
from tests.integration.streaming.conftest import TrainedModel, cmapss_dir
from tests.integration.streaming.test_scoring_job import consume_all, produce

pytestmark = [pytest.mark.integration, pytest.mark.spark, pytest.mark.slow]

ENGINES = 10  # of test_FD001: 1,088 readings
WORKERS = 2

Scores = dict[tuple[str, int], tuple[float, float]]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SparkCluster]:
    """A master and two workers (1 core, 1g each) for this module; stopped afterwards."""
    with running(ClusterSpec(workers=WORKERS), tmp_path_factory.mktemp("spark-cluster")) as started:
        yield started


def replay() -> list[Reading]:
    frame = read_run(cmapss_dir() / "test_FD001.txt.gz")
    config = ReplayConfig(subset="FD001", split="test", site="cmapss", start=datetime(2026, 1, 1, tzinfo=UTC))
    return [
        Reading(r["asset_id"], site, r["ts"], r["seq"], r["settings"], r["sensors"])
        for site, r in readings(frame[frame["unit"] <= ENGINES], config)
    ]


def runs_of(sent: list[Reading], size: int = 7) -> list[tuple[bytes, bytes]]:
    """Kafka records as the gateway writes them: key = asset_id, value = a run of that asset's readings."""
    by_asset: dict[str, list[Reading]] = defaultdict(list)
    for reading in sent:
        by_asset[reading.asset_id].append(reading)
    return [
        (asset.encode(), encode_run(run[i : i + size]))
        for asset, run in by_asset.items()
        for i in range(0, len(run), size)
    ]


def score_once(master: str, env: dict[str, str], risk: str, dlq: str, checkpoint: Path, log: Path) -> None:
    """`forewarn stream run --once --master MASTER` as its own process, into its own topics and checkpoint."""
    job_env = {
        **env,
        "FOREWARN_KAFKA_RISK_TOPIC": risk,
        "FOREWARN_KAFKA_DLQ_TOPIC": dlq,
        "FOREWARN_STREAM_CHECKPOINT_DIR": str(checkpoint),
    }
    command = [sys.executable, "-m", "chain", "stream", "run", "--once", "--master", master]
    with log.open("w") as out:
        done = subprocess.run(command, env=job_env, stdout=out, stderr=subprocess.STDOUT, timeout=600)
    assert done.returncode == 0, f"{master}: exit {done.returncode}\n{log.read_text()[-4000:]}"


def scores(stack: StackContext, topic: str) -> tuple[Scores, int]:
    """(asset_id, seq) → (risk, rul_cycles) of the topic's records, and how many records it holds."""
    records = [orjson.loads(r.value) for r in consume_all(stack, topic)]
    return {(s["asset_id"], s["seq"]): (s["risk"], s["rul_cycles"]) for s in records}, len(records)


@pytest.mark.timeout(1500)
def test_cluster_scores_equal_local_scores(
    stack: StackContext,
    cluster: SparkCluster,
    champion_model: TrainedModel,
    new_topic: Callable[..., str],
    influx_database: str,
    tmp_path: Path,
) -> None:
    telemetry = new_topic("telemetry", 4)
    sent = replay()
    produce(stack, telemetry, runs_of(sent))
    env = {
        **os.environ,
        "FOREWARN_KAFKA_TELEMETRY_TOPIC": telemetry,
        "FOREWARN_INFLUX_DATABASE": influx_database,
        "FOREWARN_MLFLOW_TRACKING_URI": stack.mlflow.tracking_uri,
        "FOREWARN_STREAM_MODEL_NAME": champion_model.name,
        "FOREWARN_STREAM_ALIAS_REFRESH_S": "3600",
        "FOREWARN_SPARK_SHUFFLE_PARTITIONS": "2",
    }
    runs = {"cluster": cluster.master_url, "local": "local[2]"}
    topics = {name: (new_topic(f"risk-{name}", 2), new_topic(f"dlq-{name}", 1)) for name in runs}
    for name, master in runs.items():
        risk, dlq = topics[name]
        # the job runs as forewarn-scoring: its ACLs on this test's topics, as on the stack's
        own = {"telemetry_topic": telemetry, "risk_topic": risk, "dlq_topic": dlq}
        grant_roles(stack.kafka, stack.kafka.model_copy(update=own))
        score_once(master, env, risk, dlq, tmp_path / name / "checkpoints", tmp_path / f"{name}.log")

    # It ran on the cluster: the master lists the finished application, and both workers ran an executor.
    apps = master_state(cluster.ui_url)["completedapps"]
    assert [(a["name"], a["state"]) for a in apps] == [("forewarn-stream", "FINISHED")], apps
    executor_logs = [sorted(w.work_dir.glob("app-*/*/stderr")) for w in cluster.workers if w.work_dir]
    assert len(executor_logs) == WORKERS, cluster.workers
    assert all(executor_logs), "each worker ran an executor of the job"

    on_cluster, cluster_records = scores(stack, topics["cluster"][0])
    on_local, local_records = scores(stack, topics["local"][0])
    every_reading = {(r.asset_id, r.seq) for r in sent}
    assert set(on_cluster) == every_reading, "the cluster scored every reading, none invented"
    assert set(on_local) == every_reading, "local mode scored every reading, none invented"
    assert cluster_records == local_records == len(sent), "each reading scored once"
    differ = {
        key: (on_cluster[key], on_local[key])
        for key in every_reading
        if any(abs(a - b) > 1e-9 for a, b in zip(on_cluster[key], on_local[key], strict=True))
    }
    assert differ == {}, (
        f"{len(differ)} scores differ between cluster and local, e.g. {list(differ.items())[:3]}"
    )
    assert consume_all(stack, topics["cluster"][1]) == consume_all(stack, topics["local"][1]) == []
