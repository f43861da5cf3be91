"""Producing risk records and reading the alerts topic in engine tests."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from kafka import KafkaConsumer, KafkaProducer

from forewarn.contracts import dead_letter
from forewarn.contracts.alert import AlertEvent, decode_alert_event
from forewarn.contracts.risk import RiskRecord
from forewarn.settings import KafkaSettings


def produce(kafka: KafkaSettings, topic: str, records: Iterable[RiskRecord | bytes], key: str = "x") -> int:
    """Send risk records (keyed by asset) or raw bytes; wait for every ack."""
    producer = KafkaProducer(**kafka.client_config(), acks="all")
    futures = []
    for r in records:
        if isinstance(r, RiskRecord):
            futures.append(producer.send(topic, key=r.asset_id.encode(), value=r.encode()))
        else:
            futures.append(producer.send(topic, key=key.encode(), value=r))
    producer.flush()
    for f in futures:
        f.get(timeout=30)
    producer.close()
    return len(futures)


def read_alerts(
    kafka: KafkaSettings,
    topic: str,
    expect: int = 0,
    timeout_s: float = 30,
    until: Callable[[list[AlertEvent]], bool] | None = None,
) -> list[AlertEvent]:
    """Every event on ``topic`` from the start, waiting until ``expect`` arrived and ``until`` holds."""
    consumer = KafkaConsumer(
        topic, **kafka.client_config(), auto_offset_reset="earliest", enable_auto_commit=False
    )
    events: list[AlertEvent] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            events.extend(decode_alert_event(r.value) for r in records)
        if len(events) >= expect and (until is None or until(events)):
            # one more short poll so extra (duplicate) events would show up too
            for records in consumer.poll(timeout_ms=1000).values():
                events.extend(decode_alert_event(r.value) for r in records)
            break
    consumer.close()
    return events


def read_dead_letters(
    kafka: KafkaSettings, topic: str, expect: int, timeout_s: float = 30
) -> list[dead_letter.DeadLetter]:
    """Every dead letter on ``topic`` from the start, once ``expect`` arrived (plus any extra)."""
    return [letter for letter, _ in read_dead_letter_records(kafka, topic, expect, timeout_s)]


def read_dead_letter_records(
    kafka: KafkaSettings, topic: str, expect: int, timeout_s: float = 30
) -> list[tuple[dead_letter.DeadLetter, Any]]:
    """(decoded dead letter, the raw ConsumerRecord) for every record on ``topic`` from the start."""
    consumer = KafkaConsumer(
        topic, **kafka.client_config(), auto_offset_reset="earliest", enable_auto_commit=False
    )
    out: list[tuple[dead_letter.DeadLetter, Any]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and len(out) < expect:
        for records in consumer.poll(timeout_ms=500).values():
            out.extend((dead_letter.decode(r.value), r) for r in records)
    for records in consumer.poll(timeout_ms=1000).values():  # would show duplicates
        out.extend((dead_letter.decode(r.value), r) for r in records)
    consumer.close()
    return out
