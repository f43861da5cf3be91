"""Kafka: produce, consume in a group with committed offsets, and resume after the commit."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from infra.stack.service import StackContext
from tests.conftest import unique

pytestmark = pytest.mark.integration


def _consumer(stack: StackContext, topic: str, group: str) -> KafkaConsumer:
    return KafkaConsumer(
        topic,
        **stack.kafka.client_config(),
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        consumer_timeout_ms=10_000,
    )


def _take(consumer: KafkaConsumer, n: int) -> list[bytes]:
    values: list[bytes] = []
    for record in consumer:
        values.append(record.value)
        if len(values) == n:
            break
    return values


def test_group_resumes_after_committed_offsets(stack: StackContext, new_topic: Callable[..., str]) -> None:
    topic = new_topic("kafka", partitions=1)
    producer = KafkaProducer(**stack.kafka.client_config(), acks="all", enable_idempotence=True)
    for i in range(10):
        producer.send(topic, key=b"asset-1", value=f"reading-{i}".encode())
    producer.flush(timeout=10)
    producer.close()

    group = unique("group")
    first = _consumer(stack, topic, group)
    assert _take(first, 4) == [f"reading-{i}".encode() for i in range(4)]
    first.commit()
    assert first.committed(TopicPartition(topic, 0)) == 4
    first.close()

    second = _consumer(stack, topic, group)
    assert _take(second, 6) == [f"reading-{i}".encode() for i in range(4, 10)]
    second.close()


def test_project_topics_exist_with_configured_partitions(stack: StackContext) -> None:
    consumer = KafkaConsumer(**stack.kafka.client_config())
    try:
        for topic, partitions in stack.kafka.topic_partitions().items():
            assert len(consumer.partitions_for_topic(topic) or ()) >= partitions, topic
    finally:
        consumer.close()
