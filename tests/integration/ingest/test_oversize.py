"""An oversize payload becomes a dead letter that keeps it byte for byte, and nothing stalls behind it.

A dead letter carries the payload base64-encoded, so it is larger than the payload: the dead-letter
topic is created with ``max.message.bytes`` from ``KafkaSettings.topic_configs`` (as the stack
creates it) and the gateway may send requests that large.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator

import orjson
import pytest
from kafka import KafkaAdminClient
from kafka.admin import NewTopic

from infra.stack.service import StackContext
from tests.conftest import unique
from tests.integration.ingest.conftest import IngestEnv, Publisher, read_readings, read_topic, reading

pytestmark = pytest.mark.integration


@pytest.fixture
def big_dlq(ingest_env: IngestEnv, stack: StackContext) -> Iterator[str]:
    """A dead-letter topic with the configs the stack gives `telemetry.dlq`."""
    name = unique("dlq-big")
    configs = stack.kafka.topic_configs()[stack.kafka.dlq_topic]
    admin = KafkaAdminClient(**stack.kafka.client_config())
    admin.create_topics([NewTopic(name, 1, 1, topic_configs=configs)], wait_for_metadata=True)
    ingest_env.dlq = name
    yield name
    admin.delete_topics([name])
    admin.close()


def test_an_oversize_payload_is_dead_lettered_whole_and_later_readings_still_flow(
    ingest_env: IngestEnv, publisher: Publisher, big_dlq: str
) -> None:
    gateway = ingest_env.gateway()
    asset = ingest_env.assets[0]
    # 3 MiB: over the gateway's 1 MiB limit, under Mosquitto's packet limit; base64 makes it 4 MiB
    oversize = orjson.dumps({**reading(asset, 0), "note": base64.b64encode(os.urandom(2_400_000)).decode()})
    assert len(oversize) > 3_000_000
    publisher.publish(asset, oversize)
    publisher.publish(asset, reading(asset, 1))

    dead = read_topic(ingest_env.stack, big_dlq, expected=1, timeout_s=60)
    telemetry = read_readings(ingest_env.stack, ingest_env.telemetry, expected=1, timeout_s=60)
    assert gateway.terminate() == 0

    assert len(dead) == 1
    letter = orjson.loads(dead[0].value)
    assert letter["reason"] == "oversize"
    assert base64.b64decode(letter["payload_b64"]) == oversize
    assert [item["seq"] for record in telemetry for item in orjson.loads(record.value)] == [1]
    assert ingest_env.spool_depth() == 0
