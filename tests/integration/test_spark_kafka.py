"""Spark reads a Kafka topic through spark-sql-kafka-0-10 resolved by `make setup`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaProducer

from forewarn.settings import KafkaRole
from infra.stack.kafka import grant_roles, revoke_roles
from infra.stack.service import StackContext
from streaming.settings import StreamSettings
from streaming.sinks import kafka_options

pytestmark = [pytest.mark.integration, pytest.mark.spark]


def test_structured_streaming_reads_a_topic_to_the_end(
    stack: StackContext, spark: Any, new_topic: Callable[..., str], tmp_path: Path
) -> None:
    topic = new_topic("spark", partitions=2)
    producer = KafkaProducer(**stack.kafka.client_config(), acks="all")
    sent = {f"asset-{i % 3}:{i}" for i in range(30)}
    for value in sorted(sent):
        producer.send(topic, key=value.split(":")[0].encode(), value=value.encode())
    producer.flush(timeout=10)
    producer.close()

    # Read as the scoring job does: its own user (SASL/SCRAM on the secured stack), its ACLs on the topic.
    scoring = stack.kafka.model_copy(update={"telemetry_topic": topic})
    grant_roles(stack.kafka, scoring)
    stream = (
        spark.readStream.format("kafka")
        .options(**kafka_options(scoring.for_role(KafkaRole.SCORING), StreamSettings()))
        .option("subscribe", topic)
        .option("startingOffsets", "earliest")
        .load()
        .selectExpr("CAST(key AS STRING) AS key", "CAST(value AS STRING) AS value", "partition", "offset")
    )
    table = topic.replace("-", "_")
    query = (
        stream.writeStream.format("memory")
        .queryName(table)
        .option("checkpointLocation", str(tmp_path / "checkpoint"))
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination(timeout=180)
    revoke_roles(stack.kafka, scoring)
    rows = spark.sql(f"SELECT key, value, partition FROM {table}").collect()  # noqa: S608 - test-made name
    assert {r["value"] for r in rows} == sent
    # Keyed records of one asset stay in one partition (the ordering guarantee forewarn relies on).
    partitions_by_key: dict[str, set[int]] = {}
    for r in rows:
        partitions_by_key.setdefault(r["key"], set()).add(r["partition"])
    assert all(len(p) == 1 for p in partitions_by_key.values())
