"""The gateway's Kafka producer: settings in, ``send`` of :class:`OutRecord` with a future out.

Order per asset across failures. kafka-python keeps one batch in flight per partition (idempotence),
but when a batch fails for good (its delivery timeout passed, or a producer-epoch bump) the *next*
batch of that partition is still sent later, so a record can land ahead of an earlier one that
failed (and that the gateway spools and forwards later). :class:`KafkaOut` therefore stops its
producer at the first failure, from inside the sender thread (future callbacks run there, before the
partition is unmuted): nothing handed to it after a failed record can then reach Kafka, every
outcome resolves (aborted = failed) and the caller spools what failed, in its order.

kafka-python 3.0.12 quirk: ``KafkaProducer.close(timeout=0)`` with records pending raises
``KafkaTimeoutError`` from its internal ``flush(0)`` before it force-closes, so the sender thread
lives on and keeps retrying; :meth:`KafkaOut.stop` force-closes the sender itself.

A send that fails at once (no metadata within ``max_block_s``, buffer full, record too large)
returns a future that has already failed and stops the producer too, so the caller handles every
failure the same way.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any, Protocol

from kafka import KafkaProducer

from forewarn.settings import KafkaSettings
from ingest.records import OutRecord
from ingest.settings import GatewaySettings

log = logging.getLogger(__name__)


class Delivery(Protocol):
    """What the gateway needs of a send's future (kafka-python's FutureRecordMetadata has it)."""

    is_done: bool

    def succeeded(self) -> bool: ...

    def failed(self) -> bool: ...

    def get(self, timeout: float | None = None) -> Any: ...


class ProducerStoppedError(RuntimeError):
    """The producer stopped after an earlier failure; the record was never handed to it."""


class FailedAtOnce:
    """A delivery that failed before the record reached the producer's buffer."""

    is_done = True

    def __init__(self, error: Exception) -> None:
        self.exception = error

    def succeeded(self) -> bool:
        return False

    def failed(self) -> bool:
        return True

    def get(self, timeout: float | None = None) -> Any:
        raise self.exception


def producer_config(gateway: GatewaySettings, kafka: KafkaSettings) -> dict[str, Any]:
    """kafka-python producer settings: acks=all, idempotent, compressed, bounded waiting."""
    config: dict[str, Any] = {
        **kafka.client_config(),
        "client_id": f"forewarn-gateway-{gateway.gateway_id}",
        "acks": "all",
        "enable_idempotence": True,
        "compression_type": None if gateway.compression_type == "none" else gateway.compression_type,
        "linger_ms": gateway.linger_ms,
        "batch_size": gateway.batch_size_bytes,
        "max_block_ms": int(gateway.max_block_s * 1000),
        "request_timeout_ms": int(gateway.request_timeout_s * 1000),
        "delivery_timeout_ms": int(gateway.delivery_timeout_s * 1000),
        "reconnect_backoff_max_ms": 2000,
        "max_request_size": gateway.max_request_bytes,
    }
    if gateway.api_version() is not None:
        config["api_version"] = gateway.api_version()
    return config


class KafkaOut:
    """Sends records to the telemetry or dead-letter topic of ``kafka``; stops at the first failure.

    Attributes:
        stopped: set once a record failed (or :meth:`stop` ran): later sends fail at once, unsent.
    """

    def __init__(self, gateway: GatewaySettings, kafka: KafkaSettings) -> None:
        self._topics = {False: kafka.telemetry_topic, True: kafka.dlq_topic}
        self._producer = KafkaProducer(**producer_config(gateway, kafka))
        self.stopped = threading.Event()
        self.first_error: BaseException | None = None

    def send(self, record: OutRecord) -> Delivery:
        """Hand ``record`` to the producer; never raises. After a failure nothing more is sent."""
        if self.stopped.is_set():
            return FailedAtOnce(ProducerStoppedError(f"producer stopped: {self.first_error}"))
        try:
            future = self._producer.send(
                self._topics[record.dlq], value=record.value, key=record.key, headers=record.headers
            )
        except Exception as exc:  # any failure to enqueue means: spool it
            self._halt(exc)
            return FailedAtOnce(exc)
        future.add_errback(self._halt)
        delivery: Delivery = future
        return delivery

    def _halt(self, error: BaseException) -> None:
        """Stop sending at the first failure (runs in the sender thread for failed batches)."""
        if self.stopped.is_set():
            return
        self.first_error = error
        self.stopped.set()
        sender = getattr(self._producer, "_sender", None)
        if sender is not None:
            sender.force_close()  # only sets flags: the sender drains nothing more, aborts the rest

    def partitions_for(self, topic: str) -> set[int]:
        """The partitions of ``topic`` (fetches metadata; raises if Kafka cannot be reached in time)."""
        return set(self._producer.partitions_for(topic) or ())

    def flush(self, timeout_s: float) -> None:
        """Push out what is buffered; returns after ``timeout_s`` at most."""
        with contextlib.suppress(Exception):  # the futures carry the outcome
            self._producer.flush(timeout=timeout_s)

    def stop(self, timeout_s: float = 5.0) -> bool:
        """Force-close now: every pending record fails (unless already accepted); True if the sender
        thread ended within ``timeout_s`` (then no outcome can change any more)."""
        self._halt(ProducerStoppedError("stopped by the gateway"))
        sender = getattr(self._producer, "_sender", None)
        if sender is not None and sender is not threading.current_thread():
            sender.join(timeout_s)
        ended = sender is None or not sender.is_alive()
        with contextlib.suppress(Exception):  # nothing is pending any more: close does not block
            self._producer.close(timeout=0)
        return ended

    def close(self, timeout_s: float = 0.0) -> None:
        """Deliver what is pending for up to ``timeout_s``, then stop (what is left fails)."""
        if timeout_s > 0 and not self.stopped.is_set():
            self.flush(timeout_s)
        self.stop(max(timeout_s, 1.0))


def wait(delivery: Delivery, timeout_s: float) -> bool:
    """Block until ``delivery`` has an outcome (or ``timeout_s`` passed); True if it succeeded."""
    deadline = time.monotonic() + timeout_s
    try:
        delivery.get(timeout=max(0.0, deadline - time.monotonic()))
    except Exception:  # failure and timeout both mean: not delivered
        return False
    return delivery.succeeded()
