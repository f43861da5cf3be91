"""InfluxDB refusing some of the job's points (a field type conflict) on real Kafka, MLflow and
InfluxDB: each refused point is a ``sink_refused`` dead letter with the line as its payload, every
other point is written, and every reading is still scored (the micro-batch does not fail)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from forewarn.contracts import dead_letter
from forewarn.contracts.dead_letter import ScoringReason
from forewarn.contracts.telemetry import encode_run
from infra.stack.service import StackContext
from streaming.job import JobConfig, start
from streaming.settings import StreamSettings
from tests.integration.streaming.conftest import TrainedModel
from tests.integration.streaming.test_scoring_job import (
    consume_all,
    fd001_test_readings,
    influx_count,
    produce,
)

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def test_points_influxdb_refuses_are_dead_letters_and_the_rest_is_written(
    stack: StackContext,
    spark: Any,
    champion_model: TrainedModel,
    new_topic: Callable[..., str],
    influx_database: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    telemetry, risk, dlq = new_topic("telemetry", 3), new_topic("risk", 2), new_topic("dlq", 1)
    sent = fd001_test_readings()
    odd_asset = sent[0].asset_id
    # one asset's readings carry a sensor the model does not read; InfluxDB already holds that field
    # as a string in this shard, so each of those telemetry points is refused (field type conflict)
    sent = [replace(r, sensors={**r.sensors, "probe": 1.5}) if r.asset_id == odd_asset else r for r in sent]
    odd = [r for r in sent if r.asset_id == odd_asset]
    seeded = httpx.post(
        f"{stack.influx.url}/write",
        params={"db": influx_database, "precision": "ms"},
        content=f'telemetry,asset_id=seed,site=seed sensor.probe="text" {sent[0].ts_ms}'.encode(),
        headers=stack.influx.auth_headers(),
        timeout=10,
    )
    assert seeded.status_code == 204, seeded.text
    by_asset: dict[str, list[Any]] = {}
    for reading in sent:
        by_asset.setdefault(reading.asset_id, []).append(reading)
    records = [
        (a.encode(), encode_run(run[i : i + 9])) for a, run in by_asset.items() for i in range(0, len(run), 9)
    ]
    produce(stack, telemetry, records)

    config = JobConfig(
        # points in small requests, so the refused ones share requests with good ones
        stream=StreamSettings(model_name=champion_model.name, alias_refresh_s=3600, influx_batch_lines=64),
        kafka=stack.kafka.model_copy(
            update={"telemetry_topic": telemetry, "risk_topic": risk, "dlq_topic": dlq}
        ),
        influx=stack.influx.model_copy(update={"database": influx_database}),
        mlflow=stack.mlflow,
        checkpoint_dir=tmp_path / "checkpoints",
    )
    caplog.set_level(logging.INFO, logger="streaming.sinks")
    for query in start(spark, config, once=True):
        query.awaitTermination(timeout=600)
        assert query.exception() is None, query.exception()

    scored = [orjson.loads(r.value) for r in consume_all(stack, risk)]
    assert sorted((s["asset_id"], s["seq"]) for s in scored) == sorted((r.asset_id, r.seq) for r in sent)
    letters = [dead_letter.decode(r.value) for r in consume_all(stack, dlq)]
    assert {x.reason for x in letters} == {ScoringReason.SINK_REFUSED}
    assert {x.source for x in letters} == {"influxdb:telemetry"}
    assert all("field type conflict" in x.detail for x in letters), letters[:1]
    payloads = [x.payload.decode() for x in letters]
    assert len(payloads) == len(odd)
    assert all(p.startswith(f"telemetry,asset_id={odd_asset},") and "sensor.probe=1.5" in p for p in payloads)
    assert sorted(int(p.rsplit(" ", 1)[1]) for p in payloads) == sorted(r.ts_ms for r in odd)
    assert influx_count(stack, influx_database, "telemetry", "seq") == len(sent) - len(odd)
    assert influx_count(stack, influx_database, "risk", "risk") == len(sent)
    # the job's counters (the step's stats rows, observed by the sink's one Spark job) count them
    answer = httpx.get(
        f"{stack.influx.url}/query",
        params={"db": influx_database,
                "q": """SELECT last("dead_letters") FROM "pipeline" WHERE "reason" = 'sink_refused'"""},
        headers=stack.influx.auth_headers(),
        timeout=10,
    ).json()  # fmt: skip
    assert answer["results"][0]["series"][0]["values"][0][1] == len(odd), answer
    assert "dead letter sink_refused from influxdb:telemetry" in caplog.messages
