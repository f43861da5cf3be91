"""Fuzz at the front door: generated hostile MQTT messages through a running gateway.

Real Mosquitto, a real ``forewarn gateway run`` process and real Kafka. Every message is built so its
outcome is known (``tests/fuzz``): the readings it must forward and the dead letters, with their
reasons, it must write. The gateway must survive all of them (the same process, alive at the end),
and account for each exactly: every expected reading on ``telemetry``, every expected dead letter on
the dead-letter topic (payload byte for byte, index, reason), and nothing else.

5,000 messages by default; ``FOREWARN_FUZZ_COUNT`` changes the count and ``FOREWARN_FUZZ_SEED`` the
seed. The 100,000 run is marked ``fuzz_long`` (left out unless ``-m fuzz_long``).
"""

from __future__ import annotations

import base64
import os
import re
import threading
import uuid
from collections import Counter
from datetime import UTC, datetime

import orjson
import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from infra.stack.service import StackContext
from tests.fuzz.cases import BAD_TOPIC_ASSETS, Case, generate, odd_topic_assets
from tests.fuzz.corpus import corpus
from tests.integration.ingest.conftest import IngestEnv, read_topic, telemetry_readings

pytestmark = pytest.mark.integration
SEED = int(os.environ.get("FOREWARN_FUZZ_SEED", "20261203"))
STALL_S = 60.0
WINDOW = 20_000  # messages published and not yet acknowledged, at most (see _publish_all)


def test_5000_hostile_messages_are_each_forwarded_or_dead_lettered_for_what_is_wrong(
    ingest_env: IngestEnv,
) -> None:
    _fuzz(ingest_env, int(os.environ.get("FOREWARN_FUZZ_COUNT", "5000")))


@pytest.mark.fuzz_long
@pytest.mark.slow
def test_100000_hostile_messages(ingest_env: IngestEnv) -> None:
    _fuzz(ingest_env, int(os.environ.get("FOREWARN_FUZZ_COUNT", "100000")), timeout_s=1800)


def _fuzz(env: IngestEnv, count: int, timeout_s: float = 120) -> None:
    asset = env.assets[0]
    env.assets = [asset, *odd_topic_assets(asset), *BAD_TOPIC_ASSETS]  # the gateway subscribes to each
    now = datetime.now(UTC)
    cases = corpus(asset, int(now.timestamp() * 1000)) + generate(count, asset, now, SEED)
    gateway = env.gateway()
    pid = gateway.proc.pid

    _publish_all(env.stack, env.site, cases)

    want_readings = Counter((c.asset, seq) for c in cases for seq in c.seqs)
    want_letters = Counter(
        (_topic(env.site, c.asset), c.payload, index, reason.value)
        for c in cases
        for index, reason in c.letters
    )
    records = read_topic(env.stack, env.telemetry, sum(want_readings.values()), timeout_s, settle_s=2,
                         count=lambda rs: len(telemetry_readings(rs)))  # fmt: skip
    dead = read_topic(env.stack, env.dlq, sum(want_letters.values()), timeout_s, settle_s=2)

    assert gateway.proc.poll() is None, f"the gateway died:\n{gateway.text()[-3000:]}"
    assert gateway.proc.pid == pid
    got_readings = Counter((r["asset_id"], r["seq"]) for r in telemetry_readings(records))
    assert got_readings == want_readings
    letters = [orjson.loads(r.value) for r in dead]
    got_letters = Counter(
        (x["source"], base64.b64decode(x["payload_b64"]), x["index"], x["reason"]) for x in letters
    )
    assert got_letters - want_letters == Counter(), "dead letters nobody expected"
    assert want_letters - got_letters == Counter(), "dead letters missing"
    assert all(dict(r.headers)["reason"].decode() == x["reason"] for r, x in zip(dead, letters, strict=True))
    reasons = Counter(x["reason"] for x in letters)
    assert reasons["non_finite"] >= 6
    assert reasons["not_utf8"] >= 5

    assert gateway.terminate() == 0
    log = gateway.text()
    assert "Traceback" not in log
    summary = re.search(r"in all: messages in ([\d,]+)", log)
    assert summary is not None, log[-2000:]
    assert int(summary[1].replace(",", "")) == len(cases)


def _topic(site: str, asset: str) -> str:
    return f"forewarn/{site}/{asset}/telemetry"


def _wait_acks(done: threading.Condition, acked: list[str], at_least: int, total: int) -> None:
    """Until ``at_least`` PUBACKs came; a stall fails (60 s without one), not a slow machine."""
    with done:
        while len(acked) < at_least:
            before = len(acked)
            done.wait(STALL_S)
            assert len(acked) > before, f"{len(acked)}/{total} PUBACKs, none for {STALL_S:.0f} s"


def _publish_all(stack: StackContext, site: str, cases: list[Case]) -> None:
    """Publish every case at QoS 1, many in flight; fail if the broker refused any."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"fuzz-{uuid.uuid4().hex[:8]}",
                         protocol=mqtt.MQTTv5)  # fmt: skip
    client.username_pw_set(site, stack.mqtt.site_password(site))
    client.max_queued_messages_set(0)
    # Packet ids are 16-bit and paho keeps its outgoing messages in a dict keyed by them: with more
    # than 65,535 queued at once, later ones overwrite earlier ones, which are then never sent (two
    # 100,000 runs stalled at 67,939 and 69,904 PUBACKs). So at most WINDOW are unacknowledged at a
    # time, and PUBACKs are counted, not keyed by id.
    acked: list[str] = []
    done = threading.Condition()
    connected = threading.Event()

    def on_publish(c: object, u: object, mid: int, reason: object, props: object) -> None:
        with done:
            acked.append(str(reason))
            done.notify_all()

    client.on_connect = lambda c, u, f, reason, p: connected.set()
    client.on_publish = on_publish
    client.connect(stack.mqtt.host, stack.mqtt.port)
    client.loop_start()
    try:
        assert connected.wait(10)
        for sent, c in enumerate(cases):
            _wait_acks(done, acked, sent - WINDOW + 1, len(cases))
            client.publish(_topic(site, c.asset), c.payload, qos=1)
        _wait_acks(done, acked, len(cases), len(cases))
        refused = [r for r in acked if r not in ("Success", "No matching subscribers")]
        assert not refused, Counter(refused)
    finally:
        client.disconnect()
        client.loop_stop()
