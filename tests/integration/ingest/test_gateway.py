"""The gateway against the real Mosquitto and Kafka: routing, dead letters, ACL, restarts."""

from __future__ import annotations

import base64
import time
from collections import Counter

import httpx
import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from infra.stack.service import StackContext
from tests.integration.ingest.conftest import IngestEnv, Publisher, read_readings, read_topic, reading

pytestmark = pytest.mark.integration


def test_valid_readings_are_keyed_in_order_and_malformed_ones_dead_lettered(
    ingest_env: IngestEnv, publisher: Publisher
) -> None:
    gateway = ingest_env.gateway()
    a, b, c = ingest_env.assets
    sent: dict[str, list[int]] = {a: [], b: [], c: []}
    for seq in range(10):
        for asset in (a, b):
            publisher.publish(asset, reading(asset, seq))
            sent[asset].append(seq)
    batch = [reading(c, seq) for seq in range(5)]
    publisher.publish(c, batch)
    sent[c] += list(range(5))
    # duplicates and out-of-order readings pass through: dedup and ordering are downstream's job
    publisher.publish(c, reading(c, 3))
    publisher.publish(c, reading(c, 1))
    sent[c] += [3, 1]
    malformed = {
        b"{not json": "malformed_json",
        orjson.dumps(reading(b, 99) | {"schema": 7}): "unknown_schema",
        orjson.dumps(reading(a, 100)): "asset_mismatch",  # published on b's topic below
        orjson.dumps({**reading(b, 101), "ts": "2001-01-01T00:00:00Z"}): "too_old",
    }
    for payload in malformed:
        publisher.publish(b, payload)
    mixed = [reading(a, 10), {"schema": 1, "asset_id": a}, reading(a, 11)]
    publisher.publish(a, mixed)
    sent[a] += [10, 11]

    total = sum(len(v) for v in sent.values())
    telemetry = read_readings(ingest_env.stack, ingest_env.telemetry, expected=total)
    dead = read_topic(ingest_env.stack, ingest_env.dlq, expected=5)
    assert gateway.terminate() == 0

    assert 3 <= len(telemetry) <= 24  # one run per asset per group of messages taken together
    by_asset: dict[str, list[int]] = {}
    for record in telemetry:
        items = orjson.loads(record.value)
        assert {item["asset_id"] for item in items} == {record.key.decode()}
        headers = dict(record.headers)
        assert headers["site"] == ingest_env.site.encode()
        assert headers["schema"] == b"1"
        assert headers["gateway_id"] == f"{ingest_env.group}-gw-a".encode()
        assert headers["received_at"].endswith(b"+00:00")
        by_asset.setdefault(record.key.decode(), []).extend(item["seq"] for item in items)
    assert by_asset == sent  # every reading, per asset in publish order, duplicates kept

    letters = [orjson.loads(r.value) for r in dead]
    got = Counter((base64.b64decode(x["payload_b64"]), x["reason"]) for x in letters)
    expected = Counter(malformed.items()) + Counter({(orjson.dumps(mixed), "missing_field"): 1})
    assert got == expected
    assert all(
        x["source"] == f"forewarn/{ingest_env.site}/{b}/telemetry" for x in letters if x["index"] is None
    )
    assert [x["index"] for x in letters if x["source"].endswith(f"/{a}/telemetry")] == [1]
    assert all(dict(r.headers)["reason"].decode() == orjson.loads(r.value)["reason"] for r in dead)

    # the log tells the story in words: each dead letter with its reason and source, the counters,
    # and a clean stop (our own MQTT disconnect is no warning)
    log = gateway.text()
    for reason in malformed.values():
        assert f"WARNING gateway: dead letter {reason} from forewarn/{ingest_env.site}/{b}/telemetry" in log
    assert f"dead letter missing_field from forewarn/{ingest_env.site}/{a}/telemetry[1]" in log
    assert "INFO gateway: in all: messages in " in log
    assert "messages_in=" not in log  # no line protocol
    assert not [line for line in log.splitlines() if "WARNING" in line and "MQTT disconnected" in line]
    assert "INFO gateway: gateway stopped" in log


def test_shared_wildcard_subscription_passes_the_acl_and_foreign_publishes_are_refused(
    stack: StackContext, ingest_env: IngestEnv, publisher: Publisher
) -> None:
    gateway = ingest_env.gateway(gateway_topic_filters='["forewarn/+/+/telemetry"]')
    assert "$share/" in gateway.text()
    asset = ingest_env.assets[0]
    other_site = stack.stack.sites[1]
    refused_asset = ingest_env.assets[1]
    # site-1 may not write under another site's prefix: MQTT 5 PUBACK says "not authorized"
    refused = publisher.try_publish(refused_asset, reading(refused_asset, 0), site=other_site)
    assert refused.is_failure
    assert "authori" in str(refused).lower()
    publisher.publish(asset, reading(asset, 0))
    records = read_topic(stack, ingest_env.telemetry, expected=1, settle_s=2)
    assert gateway.terminate() == 0
    mine = [r for r in records if r.key.decode() in ingest_env.assets]
    assert [r.key.decode() for r in mine] == [asset]


def test_the_gateway_user_may_not_publish(stack: StackContext) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="", protocol=mqtt.MQTTv5)
    client.username_pw_set(stack.mqtt.username, stack.mqtt.password.get_secret_value())
    outcome: list[object] = []
    client.on_publish = lambda c, u, mid, reason, props: outcome.append(reason)
    client.connect(stack.mqtt.host, stack.mqtt.port)
    client.loop_start()
    try:
        client.publish(f"forewarn/{stack.stack.sites[0]}/spoof/telemetry", b"{}", qos=1).wait_for_publish(10)
        deadline = time.monotonic() + 5
        while not outcome and time.monotonic() < deadline:
            time.sleep(0.05)
        assert outcome
        assert getattr(outcome[0], "is_failure", False), outcome
    finally:
        client.disconnect()
        client.loop_stop()


def test_metrics_reach_influxdb_as_pipeline_points(
    stack: StackContext, ingest_env: IngestEnv, publisher: Publisher, influx_database: str
) -> None:
    gateway = ingest_env.gateway(gateway_metrics_to_influx="true", influx_database=influx_database)
    asset = ingest_env.assets[0]
    publisher.publish(asset, [reading(asset, 0), reading(asset, 1)])
    publisher.publish(asset, b"[]")
    read_topic(stack, ingest_env.telemetry, expected=1)
    assert gateway.terminate() == 0  # the final report is written on the way out
    response = httpx.get(
        f"{stack.influx.url}/query",
        params={"db": influx_database, "q": "SELECT * FROM pipeline ORDER BY time DESC"},
        headers=stack.influx.auth_headers(),
        timeout=10,
    )
    series = response.json()["results"][0]["series"][0]
    rows = [dict(zip(series["columns"], values, strict=True)) for values in series["values"]]
    totals = next(r for r in rows if r["reason"] is None)
    assert (totals["messages_in"], totals["readings_out"], totals["dead_letters"]) == (2, 2, 1)
    assert totals["gateway_id"] == f"{ingest_env.group}-gw-a"
    assert totals["records_out"] == 2  # one telemetry run + one dead letter
    by_reason = next(r for r in rows if r["reason"] == "empty_batch")
    assert by_reason["dead_letters"] == 1
