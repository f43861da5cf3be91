"""Mosquitto: QoS 1 with the generated credentials, and the per-site ACL really enforced."""

from __future__ import annotations

import queue
import threading
import uuid

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from infra.stack.mosquitto import mqtt_login
from infra.stack.service import StackContext

pytestmark = pytest.mark.integration


def _client(stack: StackContext, username: str, password: str) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"test-{uuid.uuid4().hex[:8]}", protocol=mqtt.MQTTv5
    )
    client.username_pw_set(username, password)
    connected = threading.Event()
    client.on_connect = lambda c, u, f, reason, p: connected.set() if not reason.is_failure else None
    client.connect(stack.mqtt.host, stack.mqtt.port)
    client.loop_start()
    assert connected.wait(5), f"{username} could not connect"
    return client


def _subscribe(client: mqtt.Client, topic: str) -> queue.Queue[mqtt.MQTTMessage]:
    received: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
    granted = threading.Event()
    client.on_message = lambda c, u, msg: received.put(msg)
    client.on_subscribe = lambda c, u, mid, codes, p: granted.set()
    client.subscribe(topic, qos=1)
    assert granted.wait(5)
    return received


def _publish_outcome(client: mqtt.Client, topic: str, payload: bytes) -> ReasonCode:
    """Publish at QoS 1 and return the broker's PUBACK reason code (MQTT 5 reports refusals)."""
    outcome: queue.Queue[ReasonCode] = queue.Queue()

    def on_publish(c: mqtt.Client, u: object, mid: int, reason: ReasonCode, props: Properties) -> None:
        outcome.put(reason)

    client.on_publish = on_publish
    client.publish(topic, payload, qos=1)
    return outcome.get(timeout=5)


def test_site_publishes_at_qos1_and_gateway_receives(stack: StackContext) -> None:
    site = stack.stack.sites[0]
    gateway = _client(stack, stack.mqtt.username, stack.mqtt.password.get_secret_value())
    publisher = _client(stack, site, stack.mqtt.site_password(site))
    try:
        asset = f"asset-{uuid.uuid4().hex[:6]}"
        topic = f"forewarn/{site}/{asset}/telemetry"
        received = _subscribe(gateway, "forewarn/+/+/telemetry")
        reason = _publish_outcome(publisher, topic, b'{"hello": 1}')
        assert not reason.is_failure
        msg = received.get(timeout=5)
        while msg.topic != topic:  # other tests' telemetry on the shared broker
            msg = received.get(timeout=5)
        assert msg.payload == b'{"hello": 1}'
        assert msg.qos == 1
    finally:
        for c in (gateway, publisher):
            c.disconnect()
            c.loop_stop()


def test_publish_outside_the_sites_acl_is_refused(stack: StackContext) -> None:
    site, other = stack.stack.sites[0], stack.stack.sites[1]
    gateway = _client(stack, stack.mqtt.username, stack.mqtt.password.get_secret_value())
    publisher = _client(stack, site, stack.mqtt.site_password(site))
    try:
        received = _subscribe(gateway, "forewarn/+/+/telemetry")
        refused = _publish_outcome(publisher, f"forewarn/{other}/asset-1/telemetry", b"spoofed")
        assert refused.is_failure
        assert refused.getName() == "Not authorized"
        # A permitted publish afterwards is the first thing the gateway sees: the refused one never arrived.
        allowed = f"forewarn/{site}/asset-1/telemetry"
        assert not _publish_outcome(publisher, allowed, b"genuine").is_failure
        msg = received.get(timeout=5)
        assert (msg.topic, msg.payload) == (allowed, b"genuine")
    finally:
        for c in (gateway, publisher):
            c.disconnect()
            c.loop_stop()


def test_wrong_password_and_anonymous_are_rejected(stack: StackContext) -> None:
    assert not mqtt_login(stack.mqtt.host, stack.mqtt.port, stack.mqtt.username, "wrong", timeout_s=5).ok
    assert not mqtt_login(stack.mqtt.host, stack.mqtt.port, "", "", timeout_s=5).ok
    assert mqtt_login(
        stack.mqtt.host,
        stack.mqtt.port,
        stack.mqtt.username,
        stack.mqtt.password.get_secret_value(),
        timeout_s=5,
    ).ok
