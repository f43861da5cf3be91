"""Reading whole topics from the start, incrementally: what the accounting and the progress line need."""

from __future__ import annotations

import time
from collections.abc import Callable

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from forewarn.settings import KafkaSettings
from infra.stack.kafka import ensure_topics, grant_roles
from infra.stack.kafka_acls import DEFAULT_ALERTS_GROUP


class TopicTail:
    """Every value of one topic from offset 0, fetched in pieces: call :meth:`catch_up` as often as wanted."""

    def __init__(
        self,
        kafka: KafkaSettings,
        topic: str,
        sink: Callable[[list[bytes]], None],
        timed: Callable[[list[tuple[bytes, int]]], None] | None = None,
    ) -> None:
        self.topic = topic
        self.sink = sink
        self.timed = timed  # also gets each value with its Kafka timestamp (ms), for latencies
        self.first_ts_ms: int | None = None
        self.last_ts_ms: int | None = None
        self.consumer = KafkaConsumer(
            **kafka.client_config(),
            group_id=None,
            enable_auto_commit=False,
            client_id=f"forewarn-system-{topic}",
            max_partition_fetch_bytes=4 * 1024 * 1024,
        )
        partitions = self.consumer.partitions_for_topic(topic) or set()
        self.partitions = [TopicPartition(topic, p) for p in sorted(partitions)]
        self.consumer.assign(self.partitions)
        self.consumer.seek_to_beginning(*self.partitions)
        self.records = 0

    def catch_up(self, timeout_s: float = 60.0) -> int:
        """Read up to the end offsets as they are now; return how many records were new."""
        if not self.partitions:
            return 0
        ends = self.consumer.end_offsets(self.partitions)
        before = self.records
        deadline = time.monotonic() + timeout_s
        while any(self.consumer.position(tp) < ends[tp] for tp in self.partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"reading {self.topic} did not reach its end offsets in {timeout_s:.0f} s")
            batch = self.consumer.poll(timeout_ms=500, max_records=20_000)
            for records in batch.values():
                self.sink([r.value for r in records if r.value is not None])
                if self.timed is not None:
                    self.timed([(r.value, r.timestamp) for r in records if r.value is not None])
                self.records += len(records)
                stamps = [r.timestamp for r in records]
                if stamps:
                    low, high = min(stamps), max(stamps)
                    self.first_ts_ms = low if self.first_ts_ms is None else min(self.first_ts_ms, low)
                    self.last_ts_ms = high if self.last_ts_ms is None else max(self.last_ts_ms, high)
        return self.records - before

    def close(self) -> None:
        self.consumer.close()


def create_topics(kafka: KafkaSettings, alerts_group: str = DEFAULT_ALERTS_GROUP) -> None:
    """Create the project topics named in ``kafka`` that do not exist yet (a run's own topics), and
    give each component role its ACLs on them (``alerts_group``: the run's alert engine group)."""
    admin = KafkaAdminClient(**kafka.client_config(), client_id="forewarn-system")
    ensure_topics(admin, kafka.topic_partitions(), kafka.replication_factor, kafka.topic_configs())
    grant_roles(kafka, kafka, alerts_group)


def group_lag(kafka: KafkaSettings, group_id: str, topic: str) -> int | None:
    """Records on ``topic`` the consumer group has not committed yet (None: the group committed nothing)."""
    admin = KafkaAdminClient(**kafka.client_config(), client_id="forewarn-system")
    consumer = KafkaConsumer(**kafka.client_config(), group_id=None, enable_auto_commit=False)
    try:
        committed = {
            tp: meta.offset
            for tp, meta in admin.list_group_offsets({group_id: None}).get(group_id, {}).items()
            if tp.topic == topic
        }
        partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
        ends = consumer.end_offsets(partitions)
        if not committed:
            return None if any(ends.values()) else 0
        return int(sum(max(0, end - max(committed.get(tp, 0), 0)) for tp, end in ends.items()))
    finally:
        consumer.close()
        admin.close()
