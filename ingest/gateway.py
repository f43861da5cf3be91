"""The MQTT → Kafka gateway: validate, produce, acknowledge only after Kafka (or the spool) has it.

One main thread does all the work; paho's network thread only puts received messages on a queue
(bounded by the MQTT 5 ``Receive Maximum`` the gateway announces, since unacknowledged messages
are not resent). Per group of messages taken together (what waited in the queue)::

    decode → records (one telemetry run per asset, in arrival order, + dead letters)
      normal:   send to Kafka → when every record is accepted, PUBACK (in receive order)
      outage:   append to the spool (fsync) → PUBACK
      spool full: hold the message, no PUBACK → the broker stops sending (back-pressure)

An outage starts when a send fails: the gateway waits for every record in flight, spools those that
failed in their original order, and from then on spools everything until the spool has been
forwarded to Kafka in order. A gateway killed at any point loses nothing: what was not
acknowledged is redelivered by the broker (possibly a duplicate, which is removed downstream by
``(asset_id, seq)``).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from forewarn.settings import InfluxSettings, KafkaSettings, MqttSettings
from ingest.contract import DeadLetter, Decoded, Reading, decode
from ingest.kafka_out import Delivery, KafkaOut, wait
from ingest.metrics import GatewayMetrics, InfluxWriter, line_protocol
from ingest.records import OutRecord, message_records, telemetry_record
from ingest.settings import GatewaySettings
from ingest.spool import Spool

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


class GatewayError(RuntimeError):
    """The gateway cannot run (broker refused the login or the subscription)."""


@dataclass
class _InFlight:
    """An MQTT message whose records the producer holds; acknowledged when all are accepted."""

    acks: list[tuple[int, int]]
    records: list[OutRecord]
    deliveries: list[Delivery]
    readings: int
    sent_at: float

    def done(self) -> bool:
        return all(d.is_done for d in self.deliveries)

    def failed(self) -> bool:
        return any(d.failed() for d in self.deliveries)


class Gateway:
    """One gateway process.

    Args:
        settings: the gateway's own settings.
        mqtt_settings: broker address and the gateway's login.
        kafka_settings: cluster and topic names.
        influx_settings: where ``pipeline`` metrics go (None: log only).
        state_dir: the state folder (default home of the spool).
        clock: the receive-time clock (timezone-aware UTC).
    """

    def __init__(
        self,
        settings: GatewaySettings,
        mqtt_settings: MqttSettings,
        kafka_settings: KafkaSettings,
        influx_settings: InfluxSettings | None,
        state_dir: Path,
        clock: Clock = utc_now,
    ) -> None:
        self.settings = settings
        self.mqtt_settings = mqtt_settings
        self.kafka_settings = kafka_settings
        self.clock = clock
        self.policy = settings.policy()
        self.metrics = GatewayMetrics()
        self.spool = Spool(settings.spool_path(state_dir), settings.spool_max_records)
        self.metrics.spool_depth = self.spool.depth
        self._influx = (
            InfluxWriter(influx_settings) if influx_settings and settings.metrics_to_influx else None
        )
        self._inbox: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._in_flight: deque[_InFlight] = deque()
        self._in_flight_records = 0
        self._held: list[mqtt.MQTTMessage] = []
        self._kafka: KafkaOut | None = None
        self._next_forward = 0.0
        self._fatal: str | None = None
        self._subscribed = threading.Event()
        self._client = self._mqtt_client()

    # -- MQTT -------------------------------------------------------------------------------

    def _mqtt_client(self) -> mqtt.Client:
        client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=self.settings.client_id(),
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        client.username_pw_set(self.mqtt_settings.username, self.mqtt_settings.password.get_secret_value())
        if self.mqtt_settings.tls:
            client.tls_set()
        client.reconnect_delay_set(1, 30)
        client.on_connect = self._on_connect
        client.on_subscribe = self._on_subscribe
        client.on_message = self._on_message
        client.on_disconnect = self._on_disconnect
        return client

    def _on_connect(
        self, client: mqtt.Client, userdata: object, flags: object, reason: object, props: object
    ) -> None:
        if getattr(reason, "is_failure", False):
            self._fatal = f"MQTT broker refused {self.mqtt_settings.username!r}: {reason}"
            return
        log.info("MQTT connected (session present: %s)", getattr(flags, "session_present", "?"))
        client.subscribe([(topic, 1) for topic in self.settings.subscriptions()])

    def _on_subscribe(
        self, client: mqtt.Client, userdata: object, mid: int, codes: list[ReasonCode], p: Properties
    ) -> None:
        refused = [str(c) for c in codes if getattr(c, "is_failure", False)]
        if refused:
            self._fatal = f"MQTT broker refused the subscriptions {self.settings.subscriptions()}: {refused}"
            return
        log.info("subscribed to %s", ", ".join(self.settings.subscriptions()))
        self._subscribed.set()

    def _on_message(self, client: mqtt.Client, userdata: object, message: mqtt.MQTTMessage) -> None:
        self._inbox.put(message)

    def _on_disconnect(
        self, client: mqtt.Client, userdata: object, flags: object, reason: object, p: object
    ) -> None:
        log.warning("MQTT disconnected: %s (paho reconnects)", reason)

    def _ack(self, mid: int, qos: int) -> None:
        if qos > 0:
            self._client.ack(mid, qos)

    # -- the loop ---------------------------------------------------------------------------

    def start(self, timeout_s: float = 15.0) -> None:
        """Connect to MQTT and wait for the subscription; GatewayError if the broker refuses."""
        props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        props.SessionExpiryInterval = self.settings.session_expiry_s
        props.ReceiveMaximum = self.settings.receive_maximum
        try:
            self._client.connect(
                self.mqtt_settings.host,
                self.mqtt_settings.port,
                keepalive=self.mqtt_settings.keepalive_s,
                clean_start=False,
                properties=props,
            )
        except OSError as exc:
            raise GatewayError(
                f"MQTT broker {self.mqtt_settings.host}:{self.mqtt_settings.port}: {exc}"
            ) from exc
        self._client.loop_start()
        deadline = time.monotonic() + timeout_s
        while not self._subscribed.wait(0.1):
            if self._fatal or time.monotonic() > deadline:
                self._client.loop_stop()
                raise GatewayError(self._fatal or "MQTT subscription not confirmed in time")
        if self.spool.depth:
            log.warning("spool holds %d records from before: forwarding them first", self.spool.depth)
        else:
            self._warm_up()

    def _warm_up(self) -> None:
        """Fetch topic metadata now, so the first message does not pay for it; harmless if Kafka is down."""
        try:
            self._producer().partitions_for(self.kafka_settings.telemetry_topic)
        except Exception as exc:  # Kafka down at start: the first send will find out and spool
            log.warning("Kafka not reachable at start (%s); readings will be spooled until it is", exc)
            self._drop_producer()

    def run(self, stop: threading.Event) -> None:
        """Move messages until ``stop`` is set, then flush and disconnect cleanly."""
        self.start()
        next_metrics = time.monotonic() + self.settings.metrics_interval_s
        try:
            while not stop.is_set():
                if self._fatal:
                    raise GatewayError(self._fatal)
                self.step()
                if time.monotonic() >= next_metrics:
                    self.report()
                    next_metrics = time.monotonic() + self.settings.metrics_interval_s
        finally:
            self.shutdown()

    def step(self, wait_s: float = 0.02) -> None:
        """One turn of the loop: settle deliveries, forward the spool when due, take messages."""
        self._settle()
        if self.spool.depth and not self._in_flight and time.monotonic() >= self._next_forward:
            self._forward()
        messages = self._held or self._drain(wait_s)
        self._held = []
        if not messages:
            return
        if self._take(messages):
            return
        # Too much for the spool's free room at once: go one message at a time, hold the rest.
        for i, message in enumerate(messages):
            if not self._take([message]):
                self._held = messages[i:]
                time.sleep(wait_s)
                return

    def _drain(self, wait_s: float) -> list[mqtt.MQTTMessage]:
        """The messages waiting now (up to ``coalesce_max_messages``), after waiting briefly for one."""
        try:
            messages = [self._inbox.get(timeout=wait_s if not self._in_flight else 0.002)]
        except queue.Empty:
            return []
        while len(messages) < self.settings.coalesce_max_messages:
            try:
                messages.append(self._inbox.get_nowait())
            except queue.Empty:
                break
        return messages

    def _take(self, messages: list[mqtt.MQTTMessage]) -> bool:
        """Validate and route messages; False (nothing taken) when they must wait for spool room.

        The valid readings of all ``messages`` become one run per asset, in arrival order: per-record
        cost dominates the producer, so coalescing what arrived together is how a gateway keeps up
        with senders that publish one reading per message.
        """
        received_at = self.clock()
        runs: dict[tuple[str, str], list[Reading]] = {}
        letters: list[DeadLetter] = []
        decoded_all = [decode(bytes(m.payload), m.topic, received_at, self.policy) for m in messages]
        for decoded in decoded_all:
            for reading in decoded.readings:
                runs.setdefault((reading.site, reading.asset_id), []).append(reading)
            letters += decoded.dead_letters
        records = message_records([], letters, self.settings.gateway_id, received_at)
        records[:0] = [telemetry_record(run, self.settings.gateway_id, received_at) for run in runs.values()]
        acks = [(m.mid, m.qos) for m in messages]
        readings = sum(len(run) for run in runs.values())
        if self.spool.depth or self._kafka_down():
            if not self.spool.fits(len(records)):
                return False
            self._spool(records, acks)
        elif self._in_flight and not self.spool.fits(self._in_flight_records + len(records)):
            return False  # what is in flight must fit the spool should Kafka fail now
        else:
            kafka = self._producer()
            deliveries = [kafka.send(r) for r in records]
            self._in_flight.append(_InFlight(acks, records, deliveries, readings, time.monotonic()))
            self._in_flight_records += len(records)
        for decoded in decoded_all:
            self._count_in(decoded)
        self.metrics.spool_depth = self.spool.depth
        return True

    def _spool(self, records: list[OutRecord], acks: list[tuple[int, int]]) -> None:
        self.spool.append(records)
        self.metrics.spooled_records += len(records)
        for mid, qos in acks:
            self._ack(mid, qos)

    def _count_in(self, decoded: Decoded) -> None:
        self.metrics.messages_in += 1
        self.metrics.readings_in += len(decoded.readings) + len(decoded.dead_letters)
        self.metrics.stripped_sensors += decoded.stripped_sensors
        for letter in decoded.dead_letters:
            self.metrics.dead_letters[letter.reason] += 1

    def _kafka_down(self) -> bool:
        return self._kafka is None and self._next_forward > time.monotonic()

    def _producer(self) -> KafkaOut:
        if self._kafka is None:
            self._kafka = KafkaOut(self.settings, self.kafka_settings)
        return self._kafka

    def _settle(self) -> None:
        """Acknowledge, in receive order, the messages whose records Kafka accepted."""
        while self._in_flight and self._in_flight[0].done():
            head = self._in_flight[0]
            if head.failed():
                self._outage()
                return
            self._in_flight.popleft()
            self._in_flight_records -= len(head.records)
            for mid, qos in head.acks:
                self._ack(mid, qos)
            self.metrics.readings_out += head.readings
            self.metrics.records_out += len(head.records)
            self.metrics.latencies_ms.append((time.monotonic() - head.sent_at) * 1000)

    def _outage(self) -> None:
        """Kafka failed a record: settle everything in flight, spool what failed in order, ack."""
        self.metrics.produce_failures += 1
        log.warning(
            "Kafka did not accept a record: store-and-forward on (%d messages in flight)",
            len(self._in_flight),
        )
        # One short deadline for all outcomes: waiting the full timeout per delivery stalled the loop
        # for minutes during a real broker crash (tens of deliveries in flight). No outcome = failed.
        if self._kafka is not None:
            self._kafka.flush(self.settings.delivery_timeout_s)
        # Close the producer before judging: it stops retrying, so a record judged failed (and spooled)
        # cannot also be delivered later by it; only requests on the wire at this instant can repeat.
        self._drop_producer()
        deadline = time.monotonic() + 2.0
        for item in self._in_flight:
            outcomes = [wait(d, max(0.0, deadline - time.monotonic())) for d in item.deliveries]
            failed = [r for r, ok in zip(item.records, outcomes, strict=True) if not ok]
            if not failed:
                self.metrics.readings_out += item.readings
            self.metrics.records_out += len(item.records) - len(failed)
            self._spool(failed, item.acks)  # fits: what is in flight never exceeds the spool's room
        self._in_flight.clear()
        self._in_flight_records = 0
        self._next_forward = time.monotonic() + self.settings.retry_interval_s
        self.metrics.spool_depth = self.spool.depth

    def _drop_producer(self) -> None:
        if self._kafka is not None:
            self._kafka.close(0.0)
            self._kafka = None

    def _forward(self) -> None:
        """Send the oldest spooled records; remove the prefix Kafka accepted."""
        batch = self.spool.peek(self.settings.forward_batch_records)
        kafka = self._producer()
        deliveries = [kafka.send(record) for _, record in batch]
        kafka.flush(self.settings.delivery_timeout_s)
        accepted = 0
        for delivery in deliveries:
            if not wait(delivery, self.settings.delivery_timeout_s):
                break
            accepted += 1
        if accepted:
            self.spool.remove_through(batch[accepted - 1][0])
            self.metrics.forwarded_records += accepted
            self.metrics.records_out += accepted
        self.metrics.spool_depth = self.spool.depth
        if accepted < len(batch):
            log.warning("Kafka still unreachable; %d records spooled, retry in %.0f s", self.spool.depth,
                        self.settings.retry_interval_s)  # fmt: skip
            self._drop_producer()
            self._next_forward = time.monotonic() + self.settings.retry_interval_s
        elif not self.spool.depth:
            log.info("spool forwarded to Kafka: back to direct delivery")

    def report(self) -> None:
        """Log the counters and write them to InfluxDB as ``pipeline`` points."""
        lines = line_protocol(self.metrics, self.settings.gateway_id, self.clock())
        log.info("metrics %s", lines.split(" ")[1] if " " in lines else lines)
        if self._influx is not None:
            self._influx.write(lines)

    def shutdown(self) -> None:
        """Settle what is in flight (spooling what Kafka refuses), then disconnect and close.

        Messages still queued in memory (and one held back) stay unacknowledged: the broker keeps
        them in the gateway's session and delivers them again on the next start.
        """
        if self._kafka is not None:
            self._kafka.flush(self.settings.delivery_timeout_s)
        deadline = time.monotonic() + self.settings.delivery_timeout_s
        while self._in_flight:
            for delivery in self._in_flight[0].deliveries:
                wait(delivery, max(0.0, deadline - time.monotonic()))
            if not self._in_flight[0].done():
                self._outage()  # spools what is still undecided
            self._settle()
        unacked = self._inbox.qsize() + len(self._held)
        self._client.disconnect()
        self._client.loop_stop()
        self._drop_producer()
        self.report()
        if self._influx is not None:
            self._influx.close()
        self.spool.close()
        log.info("gateway stopped: %d messages left unacknowledged for redelivery", unacked)
