"""The MQTT → Kafka gateway: validate, produce, acknowledge only after Kafka (or the spool) has it.

One main thread does all the work; paho's network thread only puts received messages on a queue
(bounded by the MQTT 5 ``Receive Maximum`` the gateway announces, since unacknowledged messages
are not resent). Per group of messages taken together (what waited in the queue)::

    decode → asset register (:mod:`ingest.asset_gate`: a reading of another site's asset, or of an
             unknown one under the ``dead_letter`` policy, becomes a dead letter)
           → records (one telemetry run per asset, in arrival order, + dead letters)
      normal:   send to Kafka → when every record is accepted, PUBACK (in receive order)
      outage:   append to the spool (fsync) → PUBACK
      spool full: hold the message, no PUBACK → the broker stops sending (back-pressure)

At most ``max_in_flight_batches`` groups await Kafka at once; meanwhile messages queue up and are
taken together, so a busy gateway builds fewer, larger records.

An outage starts when a record fails. The producer stops itself at that moment (see
:mod:`ingest.kafka_out`), so no later record of the same asset can reach Kafka ahead of it; the
gateway then spools, in their original order, exactly the records the stopped producer did not
deliver, and spools everything after them until the spool has been forwarded to Kafka (itself sent
and settled like direct sends, never blocking the loop). Order per asset is therefore kept across
outages; a record on the wire when the broker died may land and also be spooled (a duplicate).

A gateway killed at any point loses nothing: what was not acknowledged is redelivered by the broker
(possibly a duplicate, which is removed downstream by ``(asset_id, seq)``). SIGTERM waits at most
``shutdown_timeout_s`` for Kafka's answers, spools what is still undecided (durable, then
acknowledged), leaves the messages it has not taken unacknowledged, and exits.
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
from sqlalchemy import make_url
from sqlalchemy.exc import SQLAlchemyError

from forewarn import long_lived
from forewarn.contracts.dead_letter import DeadLetter
from forewarn.contracts.telemetry import Reading
from forewarn.logs import RateLimitedLog
from forewarn.settings import InfluxSettings, KafkaSettings, MqttSettings, load
from ingest import paho_tables
from ingest.asset_gate import AssetGate, RegisterUnavailableError
from ingest.asset_store import AssetStore
from ingest.contract import Decoded, decode
from ingest.kafka_out import Delivery, KafkaOut, wait
from ingest.metrics import GatewayMetrics, MetricsSink, pipeline_lines, summary_line
from ingest.records import OutRecord, message_records, telemetry_records
from ingest.settings import AssetSettings, GatewaySettings
from ingest.spool import Spool

log = logging.getLogger(__name__)
Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The default clock."""
    return datetime.now(UTC)


class GatewayError(RuntimeError):
    """The gateway cannot run (broker refused the login or the subscription, no asset register)."""


def _open_register(state_dir: Path) -> AssetStore:
    """The asset register ``FOREWARN_ASSETS_*`` names; GatewayError when its database cannot be opened."""
    url = load(AssetSettings, state_dir).url(state_dir)
    try:
        return AssetStore(url)
    except (SQLAlchemyError, OSError) as exc:
        first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise GatewayError(f"asset register {make_url(url).render_as_string()}: {first}") from None


@dataclass
class _InFlight:
    """An MQTT message whose records the producer holds; acknowledged when all are accepted."""

    acks: list[tuple[int, int]]
    records: list[OutRecord]
    deliveries: list[Delivery]
    readings: int
    sent_at: float
    spool_ids: list[int] | None = None  # a forwarded spool batch: these leave the spool when accepted

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
        state_dir: the state folder (default home of the spool and of the asset register).
        clock: the receive-time clock (timezone-aware UTC).
        asset_store: the asset register (None: the one ``FOREWARN_ASSETS_*`` names).
    """

    def __init__(
        self,
        settings: GatewaySettings,
        mqtt_settings: MqttSettings,
        kafka_settings: KafkaSettings,
        influx_settings: InfluxSettings | None,
        state_dir: Path,
        clock: Clock = utc_now,
        asset_store: AssetStore | None = None,
    ) -> None:
        self.settings = settings
        self.mqtt_settings = mqtt_settings
        self.kafka_settings = kafka_settings
        self.clock = clock
        self.policy = settings.policy()
        self.metrics = GatewayMetrics()
        store = asset_store or _open_register(state_dir)  # first: a gateway without it does not start
        self.spool = Spool(settings.spool_path(state_dir), settings.spool_max_records)
        self.metrics.spool_depth = self.spool.depth
        self.assets = AssetGate(store, settings.unknown_assets, settings.assets_refresh_s,
                                retry_s=settings.retry_interval_s)  # fmt: skip
        self.assets.refresh(force=True)
        self._held_log = RateLimitedLog(log, noun="holds")
        self._influx = (
            MetricsSink(influx_settings) if influx_settings and settings.metrics_to_influx else None
        )
        # Not SimpleQueue: in CPython 3.11 its get(timeout) blocks until the next put when a signal
        # handler outlasts the rest of the timeout (the remaining time goes negative, which means
        # "forever"), so a SIGTERM to an idle gateway hung its shutdown. Queue re-checks its deadline.
        self._inbox: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self._in_flight: deque[_InFlight] = deque()
        self._in_flight_records = 0
        self._held: list[mqtt.MQTTMessage] = []
        self._kafka: KafkaOut | None = None
        self._next_forward = 0.0
        self._fatal: str | None = None
        self._subscribed = threading.Event()
        self._stopping = False
        self._last_summary = ""
        # a bad sender can send thousands a minute: the first few of each reason, then a count
        self._letters_log = RateLimitedLog(log, noun="dead letters")
        self._client = self._mqtt_client()

    # -- MQTT -------------------------------------------------------------------------------

    def _mqtt_client(self) -> mqtt.Client:
        paho_tables.install()
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
        if self._stopping:  # our own disconnect at shutdown: expected
            log.info("MQTT disconnected: %s", reason)
        else:
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
            self._stop_producer()

    def run(self, stop: threading.Event) -> None:
        """Move messages until ``stop`` is set, then flush and disconnect cleanly."""
        self.start()
        log.info(
            "gateway %s running: MQTT %s:%d → Kafka %r (dead letters → %r), counters every %.0f s",
            self.settings.gateway_id, self.mqtt_settings.host, self.mqtt_settings.port,
            self.kafka_settings.telemetry_topic, self.kafka_settings.dlq_topic,
            self.settings.metrics_interval_s,
        )  # fmt: skip
        next_metrics = time.monotonic() + self.settings.metrics_interval_s
        long_lived.freeze()  # modules, clients, settings: out of the collector's full passes
        settled = False
        try:
            while not stop.is_set():
                if self._fatal:
                    raise GatewayError(self._fatal)
                self.step()
                if not settled and self.metrics.forwarded_records:  # and what the first send loaded
                    long_lived.freeze()
                    settled = True
                if time.monotonic() >= next_metrics:
                    self.report()
                    next_metrics = time.monotonic() + self.settings.metrics_interval_s
        finally:
            self.shutdown()

    def step(self, wait_s: float = 0.02) -> None:
        """One turn of the loop: settle deliveries, forward the spool when due, take messages."""
        self._settle()
        self.assets.refresh()
        if self.spool.depth and not self._in_flight and time.monotonic() >= self._next_forward:
            self._forward()
        if len(self._in_flight) >= self.settings.max_in_flight_batches:
            self._wait_for_kafka(wait_s)  # meanwhile messages queue up and are taken together next turn
            return
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

    def _wait_for_kafka(self, wait_s: float) -> None:
        """Block up to ``wait_s`` for the oldest undecided delivery."""
        for item in self._in_flight:
            for delivery in item.deliveries:
                if not delivery.is_done:
                    wait(delivery, wait_s)
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
        payloads = [(bytes(m.payload), m.topic) for m in messages]
        decoded_all = [decode(payload, topic, received_at, self.policy) for payload, topic in payloads]
        try:
            decoded_all = self.assets.screen(payloads, decoded_all, received_at)
        except RegisterUnavailableError as exc:  # held unacknowledged: the broker redelivers, never lost
            self._held_log.log("register", "holding %d messages: %s", len(messages), exc)
            return False
        for decoded in decoded_all:
            for reading in decoded.readings:
                runs.setdefault((reading.site, reading.asset_id), []).append(reading)
            letters += decoded.dead_letters
        gateway_id, max_bytes = self.settings.gateway_id, self.settings.max_record_bytes
        records = [
            record
            for run in runs.values()
            for record in telemetry_records(run, gateway_id, received_at, max_bytes)
        ]
        records += message_records([], letters, gateway_id, received_at)
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
            where = letter.source if letter.index is None else f"{letter.source}[{letter.index}]"
            reason = letter.reason.value
            self._letters_log.log(reason, "dead letter %s from %s: %s", reason, where, letter.detail[:300])

    def _kafka_down(self) -> bool:
        return self._kafka is None and self._next_forward > time.monotonic()

    def _producer(self) -> KafkaOut:
        if self._kafka is None:
            self._kafka = KafkaOut(self.settings, self.kafka_settings)
        return self._kafka

    def _settle(self) -> None:
        """Acknowledge, in receive order, the messages whose records Kafka accepted.

        The producer stops itself at its first failure (see :mod:`ingest.kafka_out`), so one failed
        record means an outage: everything in flight is settled at once and what failed is spooled.
        """
        if self._kafka is not None and self._kafka.stopped.is_set():
            self._outage(f"Kafka did not accept a record ({self._kafka.first_error})")
            return
        while self._in_flight and self._in_flight[0].done():
            head = self._in_flight[0]
            if head.failed():  # the producer stopped: the next turn handles it as an outage
                return
            self._in_flight.popleft()
            if head.spool_ids is not None:
                self.spool.remove_through(head.spool_ids[-1])
                self.metrics.forwarded_records += len(head.records)
                self.metrics.records_out += len(head.records)
                self.metrics.spool_depth = self.spool.depth
                if not self.spool.depth:
                    log.info("spool forwarded to Kafka: back to direct delivery")
                continue
            self._in_flight_records -= len(head.records)
            for mid, qos in head.acks:
                self._ack(mid, qos)
            self.metrics.readings_out += head.readings
            self.metrics.records_out += len(head.records)
            self.metrics.latencies_ms.append((time.monotonic() - head.sent_at) * 1000)
        if self._in_flight and time.monotonic() - self._in_flight[0].sent_at > self._stalled_after_s():
            self._outage("no answer from Kafka within the delivery timeout")

    def _stalled_after_s(self) -> float:
        return self.settings.delivery_timeout_s + self.settings.request_timeout_s + 5.0

    def _outage(self, why: str) -> None:
        """Stop the producer, then spool in order what it did not deliver; acknowledge those messages.

        Once the producer's sender thread has ended no outcome can change, so nothing spooled here
        can also reach Kafka later through this producer, and no record can overtake an earlier one
        of its asset (records on the wire at the failure may still land: duplicates, never reorder).
        """
        self.metrics.produce_failures += 1
        log.warning("%s: store-and-forward on (%d batches in flight)", why, len(self._in_flight))
        self._stop_producer()
        for item in self._in_flight:
            accepted = [d.is_done and d.succeeded() for d in item.deliveries]
            if item.spool_ids is not None:  # forwarded: what failed stays where it is in the spool
                done_ids = [i for i, ok in zip(item.spool_ids, accepted, strict=True) if ok]
                self.spool.remove(done_ids)
                self.metrics.forwarded_records += len(done_ids)
                self.metrics.records_out += len(done_ids)
                continue
            failed = [r for r, ok in zip(item.records, accepted, strict=True) if not ok]
            if not failed:
                self.metrics.readings_out += item.readings
            self.metrics.records_out += len(item.records) - len(failed)
            self._spool(failed, item.acks)  # fits: what is in flight never exceeds the spool's room
        self._in_flight.clear()
        self._in_flight_records = 0
        self._next_forward = time.monotonic() + self.settings.retry_interval_s
        self.metrics.spool_depth = self.spool.depth

    def _stop_producer(self) -> None:
        if self._kafka is not None:
            if not self._kafka.stop(self.settings.request_timeout_s):
                log.warning("the Kafka sender thread did not end in time: a late duplicate is possible")
            self._kafka = None

    def _forward(self) -> None:
        """Send the oldest spooled records (settled like direct sends, without blocking the loop)."""
        kafka = self._producer()
        try:  # one bounded wait for metadata, instead of one per record while Kafka is away
            kafka.partitions_for(self.kafka_settings.telemetry_topic)
            kafka.partitions_for(self.kafka_settings.dlq_topic)
        except Exception as exc:
            log.warning("Kafka still unreachable (%s); %d records spooled, retry in %.0f s",
                        exc, self.spool.depth, self.settings.retry_interval_s)  # fmt: skip
            self._stop_producer()
            self._next_forward = time.monotonic() + self.settings.retry_interval_s
            return
        batch = self.spool.peek(self.settings.forward_batch_records)
        records = [record for _, record in batch]
        deliveries = [kafka.send(record) for record in records]
        ids = [row_id for row_id, _ in batch]
        self._in_flight.append(_InFlight([], records, deliveries, 0, time.monotonic(), spool_ids=ids))

    def report(self, final: bool = False) -> None:
        """Log the counters in words (when they moved, or ``final``) and write them to InfluxDB as
        ``pipeline`` points (every interval: the boards want a point even when nothing happened)."""
        fields = self.metrics.fields()
        lines = pipeline_lines(self.metrics, self.settings.gateway_id, self.clock(), fields)
        summary = summary_line(fields, self.metrics.dead_letters)
        moved = summary.split(", produce p99")[0] != self._last_summary.split(", produce p99")[0]
        if moved or final:
            log.info("%s%s", "in all: " if final else "", summary)
        self._last_summary = summary
        if final:
            self._letters_log.close()
        else:
            self._letters_log.flush()
        if self._influx is not None:
            self._influx.write(lines)

    def shutdown(self) -> None:
        """Within ``shutdown_timeout_s``, settle what is in flight; spool what is still undecided.

        Messages still queued in memory (and one held back) stay unacknowledged: the broker keeps
        them in the gateway's session and delivers them again on the next start. Spooled records
        stay on disk for the next start to forward.
        """
        deadline = time.monotonic() + self.settings.shutdown_timeout_s
        while self._in_flight and time.monotonic() < deadline:
            self._settle()
            pending = [d for item in self._in_flight for d in item.deliveries if not d.is_done]
            if pending:
                wait(pending[0], min(0.05, max(0.0, deadline - time.monotonic())))
        if self._in_flight:
            self._outage("stopping with records still in flight")
        self._stop_producer()
        unacked = self._inbox.qsize() + len(self._held)
        self._stopping = True
        self._client.disconnect()
        self._client.loop_stop()
        self.report(final=True)
        if self._influx is not None:
            self._influx.close()
        self.spool.close()
        self.assets.store.close()
        log.info(
            "gateway stopped: %d records spooled for the next start, %d messages left unacknowledged"
            " for redelivery", self.spool.depth, unacked,
        )  # fmt: skip
