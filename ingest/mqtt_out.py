"""Publishing as the sites do: one MQTT 5 client per site user, QoS 1, paced against the wall clock.

Used by the simulator and by C-MAPSS replay. Every PUBACK is checked: a refusal (ACL, quota) is
counted and reported, never ignored.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from forewarn.settings import MqttSettings
from ingest.contract import telemetry_topic
from ingest.messages import Message

log = logging.getLogger(__name__)


class PublishError(RuntimeError):
    """A site could not connect, or messages were not acknowledged in time."""


@dataclass(frozen=True)
class PublishStats:
    """What a publishing run did."""

    messages: int
    readings: int
    acked: int
    refused: Counter[str]
    elapsed_s: float

    def as_json(self) -> dict[str, object]:
        return {
            "messages": self.messages,
            "readings": self.readings,
            "acked": self.acked,
            "refused": dict(self.refused),
            "elapsed_s": round(self.elapsed_s, 3),
            "messages_per_s": round(self.messages / self.elapsed_s, 1) if self.elapsed_s else None,
            "readings_per_s": round(self.readings / self.elapsed_s, 1) if self.elapsed_s else None,
        }


class Pacer:
    """Sleeps so that event time ``ts_ms`` is published at ``speed`` x real time (None: no pause)."""

    def __init__(self, speed: float | None) -> None:
        self.speed = speed
        self._origin: tuple[float, int] | None = None

    def wait(self, ts_ms: int) -> None:
        if self.speed is None:
            return
        if self._origin is None:
            self._origin = (time.monotonic(), ts_ms)
            return
        wall0, ts0 = self._origin
        delay = wall0 + (ts_ms - ts0) / 1000 / self.speed - time.monotonic()
        if delay > 0:
            time.sleep(delay)


class SitePublishers:
    """Connected site clients with a bound on unacknowledged messages.

    Args:
        settings: broker address and the sites' generated passwords.
        sites: the sites to connect as.
        max_in_flight: unacknowledged messages across all sites at most.
    """

    def __init__(self, settings: MqttSettings, sites: Iterable[str], max_in_flight: int = 500) -> None:
        self._slots = threading.Semaphore(max_in_flight)
        self._max_in_flight = max_in_flight
        self._lock = threading.Lock()
        self.acked = 0
        self.refused: Counter[str] = Counter()
        self.clients: dict[str, mqtt.Client] = {}
        try:
            for site in sorted(set(sites)):
                self.clients[site] = self._connect(settings, site)
        except Exception:
            self.close(0)
            raise

    def _connect(self, settings: MqttSettings, site: str) -> mqtt.Client:
        client_id = f"forewarn-pub-{site}-{uuid.uuid4().hex[:6]}"
        client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        client.username_pw_set(site, settings.site_password(site))
        if settings.tls:
            client.tls_set()
        client.max_inflight_messages_set(self._max_in_flight)
        client.max_queued_messages_set(0)
        connected = threading.Event()
        verdict: list[ReasonCode] = []

        def on_connect(c: mqtt.Client, u: object, f: object, reason: ReasonCode, p: object) -> None:
            verdict.append(reason)
            connected.set()

        def on_publish(c: mqtt.Client, u: object, mid: int, reason: ReasonCode, p: Properties) -> None:
            with self._lock:
                if reason.is_failure:
                    self.refused[f"{site}: {reason}"] += 1
                else:
                    self.acked += 1
            self._slots.release()

        client.on_connect = on_connect
        client.on_publish = on_publish
        try:
            client.connect(settings.host, settings.port, keepalive=settings.keepalive_s)
        except OSError as exc:
            raise PublishError(f"MQTT broker {settings.host}:{settings.port}: {exc}") from exc
        client.loop_start()
        if not connected.wait(10) or verdict[0].is_failure:
            client.loop_stop()
            raise PublishError(
                f"site {site!r} could not log in to MQTT: {verdict[0] if verdict else 'no CONNACK'}"
            )
        return client

    def publish(self, message: Message) -> None:
        """Publish at QoS 1; blocks while ``max_in_flight`` messages await their PUBACK."""
        self._slots.acquire()
        client = self.clients[message.site]
        info = client.publish(telemetry_topic(message.site, message.asset_id), message.payload, qos=1)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            self._slots.release()
            raise PublishError(
                f"publish to {message.site}/{message.asset_id} failed: {mqtt.error_string(info.rc)}"
            )

    def drain(self, timeout_s: float) -> bool:
        """Wait until every published message has its PUBACK; False on timeout."""
        deadline = time.monotonic() + timeout_s
        taken = 0
        while taken < self._max_in_flight:
            if not self._slots.acquire(timeout=max(0.0, deadline - time.monotonic())):
                break
            taken += 1
        for _ in range(taken):
            self._slots.release()
        return taken == self._max_in_flight

    def close(self, timeout_s: float = 30.0) -> None:
        """Drain, then disconnect every client."""
        if self.clients and timeout_s and not self.drain(timeout_s):
            log.warning("some messages had no PUBACK after %.0f s", timeout_s)
        for client in self.clients.values():
            client.disconnect()
            client.loop_stop()


def publish_all(
    settings: MqttSettings, messages: Iterable[Message], sites: Iterable[str], speed: float | None
) -> PublishStats:
    """Publish every message in order, paced by ``speed``; PublishError if some stay unacknowledged."""
    pacer = Pacer(speed)
    publishers = SitePublishers(settings, sites)
    started = time.monotonic()
    count = readings = 0
    try:
        for message in messages:
            pacer.wait(message.ts_ms)
            publishers.publish(message)
            count += 1
            readings += message.readings
        if not publishers.drain(60):
            raise PublishError("messages still unacknowledged after 60 s")
    finally:
        publishers.close(5)
    return PublishStats(count, readings, publishers.acked, publishers.refused, time.monotonic() - started)
