"""A gateway's broker session, ended for good: the broker stops queueing messages for it.

A gateway connects with a persistent session (``clean_start=False``, kept
``FOREWARN_GATEWAY_SESSION_EXPIRY_S`` after a disconnect) so that a restart finds what arrived
while it was away. Once a gateway is retired, or a demo or bench run is over, that session goes on
collecting a copy of every message its filters match until it expires. Measured on 4 Dec 2026: two
finished end-to-end bench runs left mosquitto holding 1.2 million queued messages (1 GB of memory, a
940 MB persistence file rewritten every 10 s), and the next run's broker took 14 s of CPU instead of
1.3 s. Connecting once more as the same client with ``clean_start=True`` and a session expiry of 0
discards the session and all it queued (MQTT 5, 3.1.2.4 and 3.1.2.11.2).
"""

from __future__ import annotations

import threading
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from forewarn.settings import MqttSettings


class SessionError(RuntimeError):
    """The broker could not be reached or refused the client."""


def end_session(client_id: str, mqtt_settings: MqttSettings, timeout_s: float = 10.0) -> None:
    """End the broker session of ``client_id`` (a gateway's ``GatewaySettings.client_id()``).

    A gateway still connected under that id is disconnected by the broker (session takeover); call
    this once it has stopped. Messages queued for the session are dropped, not handed to the other
    members of its share group (mosquitto queues an offline member's turn in its session): only for a
    gateway whose queue is not needed, such as a finished run's.
    """
    answered = threading.Event()
    refused: list[str] = []

    def on_connect(client: mqtt.Client, userdata: Any, flags: Any, reason: Any, props: Any) -> None:
        if getattr(reason, "is_failure", False):
            refused.append(str(reason))
        answered.set()

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.username_pw_set(mqtt_settings.username, mqtt_settings.password.get_secret_value())
    if mqtt_settings.tls:
        client.tls_set()
    client.on_connect = on_connect
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 0
    where = f"MQTT broker {mqtt_settings.host}:{mqtt_settings.port}"
    try:
        client.connect(mqtt_settings.host, mqtt_settings.port, keepalive=mqtt_settings.keepalive_s,
                       clean_start=True, properties=props)  # fmt: skip
    except OSError as exc:
        raise SessionError(f"{where}: {exc}") from exc
    client.loop_start()
    try:
        if not answered.wait(timeout_s):
            raise SessionError(f"{where} did not answer the connect of {client_id!r} in {timeout_s:g} s")
        if refused:
            raise SessionError(f"{where} refused {mqtt_settings.username!r}: {refused[0]}")
    finally:
        client.disconnect()
        client.loop_stop()
