"""InfluxDB down under the scoring job: the micro-batch fails, nothing is committed, and the job
scores everything once InfluxDB answers again (restart from the checkpoint)."""

from __future__ import annotations

import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from infra.stack.service import StackContext
from streaming.job import JobConfig, start
from streaming.settings import StreamSettings
from tests.integration.streaming.conftest import TrainedModel
from tests.integration.streaming.test_job_recovery import records
from tests.integration.streaming.test_scoring_job import (
    consume_all,
    fd001_test_readings,
    influx_count,
    produce,
)

pytestmark = [pytest.mark.integration, pytest.mark.spark, pytest.mark.slow]


def _dead_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_influxdb_outage_fails_the_batch_and_the_restart_loses_nothing(
    stack: StackContext,
    spark: Any,
    champion_model: TrainedModel,
    new_topic: Callable[..., str],
    influx_database: str,
    tmp_path: Path,
) -> None:
    telemetry, risk, dlq = new_topic("telemetry", 2), new_topic("risk", 2), new_topic("dlq", 1)
    sent = [r for r in fd001_test_readings() if r.seq <= 30]
    produce(stack, telemetry, records(sent))
    kafka = stack.kafka.model_copy(
        update={"telemetry_topic": telemetry, "risk_topic": risk, "dlq_topic": dlq}
    )
    stream = StreamSettings(model_name=champion_model.name, sink_retry_s=2.0, top_features=1)
    checkpoints = tmp_path / "checkpoints"

    down = JobConfig(
        stream, kafka, stack.influx.model_copy(update={"url": _dead_url()}), stack.mlflow, checkpoints
    )
    failures = []
    for query in start(spark, down, once=True):
        try:
            query.awaitTermination(timeout=300)
        except Exception as exc:  # the failed micro-batch surfaces here
            failures.append(exc)
    assert failures, "a micro-batch whose InfluxDB write failed must fail the query"
    assert any("InfluxDB write failed" in str(f) for f in failures)

    up = JobConfig(
        stream,
        kafka,
        stack.influx.model_copy(update={"database": influx_database}),
        stack.mlflow,
        checkpoints,
    )
    for query in start(spark, up, once=True):
        query.awaitTermination(timeout=300)
        assert query.exception() is None, query.exception()

    assert influx_count(stack, influx_database, "risk", "risk") == len(sent)
    assert influx_count(stack, influx_database, "telemetry", "seq") == len(sent)
    scored = {(s.key.decode(), s.value) for s in consume_all(stack, risk)}
    import orjson

    keys = {(orjson.loads(v)["asset_id"], orjson.loads(v)["seq"]) for _, v in scored}
    assert keys == {(r.asset_id, r.seq) for r in sent}
