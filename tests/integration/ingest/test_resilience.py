"""Nothing is lost: Kafka unreachable (store-and-forward), a full spool (back-pressure), SIGKILL,
and two gateways sharing the load without duplicates."""

from __future__ import annotations

import time
from collections import Counter

import orjson
import pytest

from infra.stack.kafka import grant_roles
from tests.integration.ingest.conftest import (
    IngestEnv,
    Publisher,
    free_port,
    read_readings,
    read_topic,
    reading,
    telemetry_readings,
)

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# A Kafka address where nothing listens, and timeouts short enough for a test.
UNREACHABLE = {
    "kafka_bootstrap_servers": f"127.0.0.1:{free_port()}",
    "gateway_max_block_s": "1",
    "gateway_request_timeout_s": "2",
    "gateway_delivery_timeout_s": "3",
    "gateway_retry_interval_s": "1",
}


def wait_until(condition: object, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


def per_asset(readings: list[dict[str, object]]) -> dict[str, list[object]]:
    out: dict[str, list[object]] = {}
    for item in readings:
        out.setdefault(str(item["asset_id"]), []).append(item["seq"])
    return out


def test_kafka_unreachable_spools_then_forwards_in_order(ingest_env: IngestEnv, publisher: Publisher) -> None:
    offline = ingest_env.gateway(**UNREACHABLE)
    sent: dict[str, list[int]] = {a: [] for a in ingest_env.assets}
    for seq in range(15):
        for asset in ingest_env.assets:
            publisher.publish(asset, [reading(asset, 2 * seq), reading(asset, 2 * seq + 1)])
            sent[asset] += [2 * seq, 2 * seq + 1]
    publisher.publish(ingest_env.assets[0], b"garbage")  # its dead letter waits in the spool too
    wait_until(lambda: ingest_env.spooled() == (90, 1))
    assert offline.terminate() == 0
    assert ingest_env.spooled() == (90, 1)  # acknowledged on MQTT because it is on disk
    assert read_topic(ingest_env.stack, ingest_env.telemetry, expected=1, timeout_s=2) == []

    online = ingest_env.gateway()  # same gateway id and spool, real Kafka
    sent_after = {a: [100, 101] for a in ingest_env.assets}
    for asset in ingest_env.assets:
        publisher.publish(asset, [reading(asset, 100), reading(asset, 101)])
    records = read_readings(ingest_env.stack, ingest_env.telemetry, expected=96)
    dead = read_topic(ingest_env.stack, ingest_env.dlq, expected=1)
    assert online.terminate() == 0
    assert ingest_env.spool_depth() == 0
    assert per_asset(telemetry_readings(records)) == {a: sent[a] + sent_after[a] for a in ingest_env.assets}
    assert [orjson.loads(r.value)["reason"] for r in dead] == ["malformed_json"]
    assert "store-and-forward on" in offline.text()
    assert "spool forwarded to Kafka" in online.text()


def test_a_full_spool_stops_acknowledging_and_loses_nothing(
    ingest_env: IngestEnv, publisher: Publisher
) -> None:
    # one message at a time, so the bound counts messages here
    offline = ingest_env.gateway(
        gateway_spool_max_records="5", gateway_coalesce_max_messages="1", **UNREACHABLE
    )
    asset = ingest_env.assets[0]
    for seq in range(12):
        publisher.publish(asset, reading(asset, seq))
    wait_until(lambda: ingest_env.spool_depth() == 5)
    time.sleep(3)  # several retry rounds: the spool must stay at its bound
    assert ingest_env.spool_depth() == 5
    assert offline.terminate() == 0
    assert "7 messages left unacknowledged" in offline.text()

    online = ingest_env.gateway()  # the broker redelivers the 7 unacknowledged messages
    records = read_readings(ingest_env.stack, ingest_env.telemetry, expected=12)
    assert online.terminate() == 0
    assert per_asset(telemetry_readings(records)) == {asset: list(range(12))}


def test_sigkill_mid_stream_loses_nothing(ingest_env: IngestEnv, publisher: Publisher) -> None:
    first = ingest_env.gateway()
    asset = ingest_env.assets[0]
    total = 300
    for seq in range(total):
        publisher.publish(asset, reading(asset, seq))
        if seq == 150:
            first.kill()
    second = ingest_env.gateway()
    records = read_readings(ingest_env.stack, ingest_env.telemetry, expected=total, timeout_s=60)
    assert second.terminate() == 0
    seqs = [item["seq"] for item in telemetry_readings(records)]
    counts = Counter(seqs)
    assert set(counts) == set(range(total))  # nothing lost
    duplicates = sum(c - 1 for c in counts.values())
    assert duplicates <= 150  # at most what was in flight when the gateway died
    print(f"SIGKILL at 150/{total}: {duplicates} duplicates")


def test_two_gateways_share_the_load_without_duplicates(ingest_env: IngestEnv, publisher: Publisher) -> None:
    one = ingest_env.gateway("gw-a")
    two = ingest_env.gateway("gw-b")
    for seq in range(60):
        for asset in ingest_env.assets:
            publisher.publish(asset, reading(asset, seq))
    records = read_readings(ingest_env.stack, ingest_env.telemetry, expected=180)
    assert one.terminate() == 0
    assert two.terminate() == 0
    keys = Counter((item["asset_id"], item["seq"]) for item in telemetry_readings(records))
    assert len(keys) == 180
    assert set(keys.values()) == {1}
    by_gateway = Counter(dict(r.headers)["gateway_id"] for r in records)
    assert len(by_gateway) == 2, by_gateway  # both took a share


def test_kafka_refusing_mid_stream_spools_and_the_same_process_recovers_in_order(
    ingest_env: IngestEnv, publisher: Publisher
) -> None:
    """Kafka stops accepting while the gateway runs (its topic does not exist yet: auto-creation is
    off), then starts accepting again: without a restart the spool drains in order."""
    from kafka import KafkaAdminClient
    from kafka.admin import NewTopic

    missing = f"{ingest_env.telemetry}-late"
    fast = {k: v for k, v in UNREACHABLE.items() if k != "kafka_bootstrap_servers"}
    gateway = ingest_env.gateway(kafka_telemetry_topic=missing, **fast)
    asset = ingest_env.assets[0]
    for seq in range(20):
        publisher.publish(asset, reading(asset, seq))
    wait_until(lambda: ingest_env.spooled()[0] == 20)
    admin = KafkaAdminClient(**ingest_env.stack.kafka.client_config(), client_id="forewarn-tests")
    admin.create_topics([NewTopic(missing, 3, 1)], wait_for_metadata=True)
    stack = ingest_env.stack  # the gateway runs as forewarn-gateway: its ACLs on the late topic too
    late = {"telemetry_topic": missing, "dlq_topic": ingest_env.dlq}
    grant_roles(stack.kafka, stack.kafka.model_copy(update=late))
    try:
        for seq in range(20, 30):
            publisher.publish(asset, reading(asset, seq))
        records = read_readings(ingest_env.stack, missing, expected=30, timeout_s=60)
        assert gateway.terminate() == 0
        assert [item["seq"] for item in telemetry_readings(records)] == list(range(30))
        assert ingest_env.spool_depth() == 0
        assert "spool forwarded to Kafka" in gateway.text()
    finally:
        admin.delete_topics([missing])
        admin.close()
