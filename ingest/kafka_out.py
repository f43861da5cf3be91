"""The gateway's Kafka producer: settings in, ``send`` of :class:`OutRecord` with a future out.

A send that fails at once (no metadata within ``max_block_s``, buffer full) returns a future that
has already failed, so the caller handles every failure the same way: by spooling the record.
"""

from __future__ import annotations

import contextlib
import time
from typing import Any, Protocol

from kafka import KafkaProducer

from forewarn.settings import KafkaSettings
from ingest.records import OutRecord
from ingest.settings import GatewaySettings


class Delivery(Protocol):
    """What the gateway needs of a send's future (kafka-python's FutureRecordMetadata has it)."""

    is_done: bool

    def succeeded(self) -> bool: ...

    def failed(self) -> bool: ...

    def get(self, timeout: float | None = None) -> Any: ...


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
    }
    if gateway.api_version() is not None:
        config["api_version"] = gateway.api_version()
    return config


class KafkaOut:
    """Sends records to the telemetry or dead-letter topic of ``kafka``."""

    def __init__(self, gateway: GatewaySettings, kafka: KafkaSettings) -> None:
        self._topics = {False: kafka.telemetry_topic, True: kafka.dlq_topic}
        self._producer = KafkaProducer(**producer_config(gateway, kafka))

    def send(self, record: OutRecord) -> Delivery:
        """Hand ``record`` to the producer; never raises."""
        try:
            future: Delivery = self._producer.send(
                self._topics[record.dlq], value=record.value, key=record.key, headers=record.headers
            )
        except Exception as exc:  # any failure to enqueue means: spool it
            return FailedAtOnce(exc)
        return future

    def partitions_for(self, topic: str) -> set[int]:
        """The partitions of ``topic`` (fetches metadata; raises if Kafka cannot be reached in time)."""
        return set(self._producer.partitions_for(topic) or ())

    def flush(self, timeout_s: float) -> None:
        """Push out what is buffered; returns after ``timeout_s`` at most."""
        with contextlib.suppress(Exception):  # the futures carry the outcome
            self._producer.flush(timeout=timeout_s)

    def close(self, timeout_s: float = 0.0) -> None:
        """Close the producer; records still buffered fail their futures."""
        with contextlib.suppress(Exception):  # closing a producer that cannot reach Kafka
            self._producer.close(timeout=timeout_s)


def wait(delivery: Delivery, timeout_s: float) -> bool:
    """Block until ``delivery`` has an outcome (or ``timeout_s`` passed); True if it succeeded."""
    deadline = time.monotonic() + timeout_s
    try:
        delivery.get(timeout=max(0.0, deadline - time.monotonic()))
    except Exception:  # failure and timeout both mean: not delivered
        return False
    return delivery.succeeded()
