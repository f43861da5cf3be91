"""``ingest.session.end_session`` against the real mosquitto: a stopped gateway's persistent session
keeps collecting messages until it expires, unless it is ended; then the broker drops what it queued
and queues nothing more. The control client (same steps, no ``end_session``) shows the broker would
otherwise have delivered them."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import SecretStr

from forewarn.settings import MqttSettings
from infra.stack.mosquitto import Mosquitto
from infra.stack.service import StackContext
from ingest.session import SessionError, end_session
from tests.integration.ingest.conftest import Publisher, reading

pytestmark = pytest.mark.integration


class Persistent:
    """A gateway-like MQTT 5 client: persistent session (15 min), shared subscription, QoS 1."""

    def __init__(self, mqtt_settings: MqttSettings, client_id: str) -> None:
        self.settings, self.client_id = mqtt_settings, client_id
        self.received: list[bytes] = []
        self.session_present: bool | None = None

    def connect(self, subscribe: str | None = None) -> mqtt.Client:
        ready = threading.Event()
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=self.client_id, protocol=mqtt.MQTTv5)
        client.username_pw_set(self.settings.username, self.settings.password.get_secret_value())

        def on_connect(c: mqtt.Client, u: object, flags: object, reason: object, p: object) -> None:
            self.session_present = bool(getattr(flags, "session_present", False))
            if subscribe is None:
                ready.set()
            else:
                c.subscribe(subscribe, qos=1)

        client.on_connect = on_connect
        client.on_subscribe = lambda c, u, mid, codes, p: ready.set()
        client.on_message = lambda c, u, message: self.received.append(bytes(message.payload))
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = 900
        client.connect(self.settings.host, self.settings.port, clean_start=False, properties=props)
        client.loop_start()
        assert ready.wait(10)
        return client


def stop(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()


def test_an_ended_session_drops_what_was_queued_and_queues_no_more(
    stack: StackContext, publisher: Publisher
) -> None:
    asset = f"pump-{uuid.uuid4().hex[:10]}"
    ended = Persistent(stack.mqtt, f"test-gw-{uuid.uuid4().hex[:8]}")
    kept = Persistent(stack.mqtt, f"test-gw-{uuid.uuid4().hex[:8]}")
    for client in (ended, kept):  # each its own share group (one group would split the messages)
        stop(client.connect(f"$share/{client.client_id}/forewarn/{publisher.site}/{asset}/telemetry"))
    for seq in range(1, 6):  # both sessions are away: the broker queues a copy for each
        publisher.publish(asset, [reading(asset, seq)])

    end_session(ended.client_id, stack.mqtt)
    publisher.publish(asset, [reading(asset, 6)])  # after the end: nobody queues it for `ended`

    connected = [ended.connect(), kept.connect()]
    time.sleep(1.0)  # delivery of a queued session starts at once; a second is ample on loopback
    for live in connected:
        stop(live)
    assert kept.session_present is True
    assert len(kept.received) == 6
    assert ended.session_present is False
    assert ended.received == []
    end_session(kept.client_id, stack.mqtt)


def test_a_refused_login_is_a_session_error(stack: StackContext) -> None:
    wrong = stack.mqtt.model_copy(update={"password": SecretStr("not-the-password")})
    with pytest.raises(SessionError, match="refused"):
        end_session(f"test-gw-{uuid.uuid4().hex[:8]}", wrong)


def test_no_broker_is_a_session_error(stack: StackContext) -> None:
    nowhere = stack.mqtt.model_copy(update={"port": 1})
    with pytest.raises(SessionError, match=r"127\.0\.0\.1:1\b"):
        end_session("test-gw-nowhere", nowhere)


def _persisted_within(broker: Mosquitto, done: Callable[[int], bool], timeout_s: float = 30.0) -> int:
    """The persistence file's size once ``done`` accepts it (the broker rewrites it every 10 s)."""
    deadline = time.monotonic() + timeout_s
    while not done(size := broker.persisted_bytes()):
        assert time.monotonic() < deadline, f"persistence file still {size:,} bytes"
        time.sleep(0.5)
    return size


def test_the_status_line_shows_what_an_away_session_holds_until_it_is_ended(
    stack: StackContext, publisher: Publisher
) -> None:
    broker = Mosquitto(stack)
    before = broker.persisted_bytes()
    asset = f"pump-{uuid.uuid4().hex[:10]}"
    away = Persistent(stack.mqtt, f"test-gw-{uuid.uuid4().hex[:8]}")
    try:
        stop(away.connect(f"$share/{away.client_id}/forewarn/{publisher.site}/{asset}/telemetry"))
        padding = {f"s{i}": float(i) for i in range(300)}  # about 5 KB a message
        for seq in range(400):  # about 2 MB queued for the away session
            publisher.publish(asset, [reading(asset, seq, **padding)])
        _persisted_within(broker, lambda size: size >= before + 1_500_000)
        assert "MB: messages queued for away sessions" in broker.check().detail
    finally:
        end_session(away.client_id, stack.mqtt)
    _persisted_within(broker, lambda size: size < before + 500_000)
