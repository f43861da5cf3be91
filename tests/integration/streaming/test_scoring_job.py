"""The scoring job on real Kafka, MLflow and InfluxDB: every reading scored once, no train/serve skew."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
import pandas as pd
import pytest
from kafka import KafkaConsumer, KafkaProducer

from forewarn.contracts.risk import RISK_FIELDS, RiskRecord, decode_risk
from forewarn.contracts.telemetry import Reading, encode_run
from infra.stack.service import StackContext
from ingest.cmapss import read_run
from ingest.replay import ReplayConfig, readings
from streaming.job import JobConfig, start
from streaming.progress import lag
from streaming.settings import StreamSettings
from tests.integration.streaming.conftest import TrainedModel, cmapss_dir

pytestmark = [pytest.mark.integration, pytest.mark.spark]

ENGINES = 6


def fd001_test_readings() -> list[Reading]:
    frame = read_run(cmapss_dir() / "test_FD001.txt.gz")
    frame = frame[frame["unit"] <= ENGINES]
    config = ReplayConfig(subset="FD001", split="test", site="cmapss", start=datetime(2026, 1, 1, tzinfo=UTC))
    return [
        Reading(r["asset_id"], site, r["ts"], r["seq"], r["settings"], r["sensors"])
        for site, r in readings(frame, config)
    ]


def produce(stack: StackContext, topic: str, values: list[tuple[bytes, bytes]]) -> None:
    producer = KafkaProducer(**stack.kafka.client_config(), acks="all")
    for key, value in values:
        producer.send(topic, key=key, value=value)
    producer.flush(timeout=30)
    producer.close()


def consume_all(stack: StackContext, topic: str) -> list[Any]:
    consumer = KafkaConsumer(
        topic, **stack.kafka.client_config(), auto_offset_reset="earliest", consumer_timeout_ms=5_000
    )
    try:
        return list(consumer)
    finally:
        consumer.close()


def influx_count(stack: StackContext, database: str, measurement: str, field: str) -> int:
    answer = httpx.get(
        f"{stack.influx.url}/query",
        params={"db": database, "q": f'SELECT count("{field}") FROM "{measurement}"'},  # noqa: S608
        headers=stack.influx.auth_headers(),
        timeout=10,
    ).json()
    series = answer["results"][0].get("series")
    return int(series[0]["values"][0][1]) if series else 0


def tag_values(stack: StackContext, database: str, key: str) -> set[str]:
    answer = httpx.get(
        f"{stack.influx.url}/query",
        params={"db": database, "q": f'SHOW TAG VALUES FROM "risk" WITH KEY = "{key}"'},
        headers=stack.influx.auth_headers(),
        timeout=10,
    ).json()
    series = answer["results"][0].get("series") or [{"values": []}]
    return {value for _, value in series[0]["values"]}


def test_every_reading_scored_once_matching_offline_scores(
    stack: StackContext,
    spark: Any,
    champion_model: TrainedModel,
    new_topic: Callable[..., str],
    influx_database: str,
    tmp_path: Path,
) -> None:
    telemetry, risk, dlq = new_topic("telemetry", 3), new_topic("risk", 2), new_topic("dlq", 1)
    sent = fd001_test_readings()
    by_asset: dict[str, list[Reading]] = defaultdict(list)
    for reading in sent:
        by_asset[reading.asset_id].append(reading)
    records = [
        (asset.encode(), encode_run(run[i : i + 7]))
        for asset, run in by_asset.items()
        for i in range(0, len(run), 7)
    ]
    # At-least-once upstream: a record delivered twice, and one that is not telemetry at all.
    records += [records[3], (b"probe", b"probe-ignore")]
    produce(stack, telemetry, records)

    config = JobConfig(
        stream=StreamSettings(model_name=champion_model.name, alias_refresh_s=3600, top_features=2),
        kafka=stack.kafka.model_copy(
            update={"telemetry_topic": telemetry, "risk_topic": risk, "dlq_topic": dlq}
        ),
        influx=stack.influx.model_copy(update={"database": influx_database}),
        mlflow=stack.mlflow,
        checkpoint_dir=tmp_path / "checkpoints",
    )
    for query in start(spark, config, once=True):
        query.awaitTermination(timeout=600)
        assert query.exception() is None, query.exception()

    risk_records = consume_all(stack, risk)
    scores = [orjson.loads(r.value) for r in risk_records]
    decoded = [decode_risk(r.value) for r in risk_records]
    assert all(isinstance(d, RiskRecord) for d in decoded), [
        d for d in decoded if not isinstance(d, RiskRecord)
    ][:1]
    # every field of the contract, in its order
    assert all(list(s) == list(RISK_FIELDS) for s in scores), scores[:1]
    assert sorted((s["asset_id"], s["seq"]) for s in scores) == sorted((r.asset_id, r.seq) for r in sent)
    assert {s["model_name"] for s in scores} == {champion_model.name}
    assert {s["model_version"] for s in scores} == {champion_model.version}
    assert all(0.0 <= s["risk"] <= 1.0 and len(s["top_features"]) in (0, 2) for s in scores)
    # explained where an operator will look (the risk contract): risk at or above the lowest alert
    # threshold, and each asset's latest reading; not every reading
    assert all(len(s["top_features"]) == 2 for s in scores if s["risk"] >= config.stream.explain_at)
    latest = {a: max(r.seq for r in run) for a, run in by_asset.items()}
    assert all(len(s["top_features"]) == 2 for s in scores if s["seq"] == latest[s["asset_id"]])
    assert sum(1 for s in scores if not s["top_features"]) > len(scores) / 2
    # a model without failure modes: every record (and InfluxDB tag) says so explicitly
    assert {s["failure_mode"] for s in scores} == {"unspecified"}
    assert tag_values(stack, influx_database, "failure_mode") == {"unspecified"}

    # No skew: the job's last score per engine equals the registered model scoring the same readings offline.
    import mlflow

    mlflow.set_tracking_uri(stack.mlflow.tracking_uri)
    offline_model = mlflow.pyfunc.load_model(f"models:/{champion_model.name}/{champion_model.version}")
    frame = pd.DataFrame([{"asset_id": r.asset_id, "cycle": r.seq, **r.settings, **r.sensors} for r in sent])
    offline = offline_model.predict(frame, params={"latest_only": True, "top_k": 0}).set_index("asset_id")
    last = {s["asset_id"]: s for s in scores if s["seq"] == by_asset[s["asset_id"]][-1].seq}
    for asset, row in offline.iterrows():
        assert np.isclose(last[str(asset)]["rul_cycles"], row["rul"], atol=1e-6), asset
        assert np.isclose(last[str(asset)]["risk"], row["risk"], atol=1e-9), asset

    letters = [orjson.loads(r.value) for r in consume_all(stack, dlq)]
    assert [letter["reason"] for letter in letters] == ["not_canonical"]
    assert letters[0]["source"].startswith(f"kafka:{telemetry}/")

    assert influx_count(stack, influx_database, "risk", "risk") == len(sent)
    assert influx_count(stack, influx_database, "telemetry", "seq") == len(sent)
    assert influx_count(stack, influx_database, "pipeline", "readings_in") >= 1

    # Caught up, seen from outside: the checkpoint's committed offsets are the topic's end offsets.
    caught_up = lag(tmp_path / "checkpoints" / "scoring", config.kafka)
    assert caught_up.partitions == {(telemetry, p): 0 for p in range(3)}
    assert caught_up.batch is not None
    produce(stack, telemetry, records[:4])
    behind = lag(tmp_path / "checkpoints" / "scoring", config.kafka)
    assert behind.total == 4, behind
