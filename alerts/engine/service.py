"""The alert engine loop: poll ``risk`` → store effects → publish ``alerts`` → notify → commit offsets.

Offsets are committed only after the batch's alerts and work orders are in the store and its alert
changes are on Kafka; a crash anywhere before that re-delivers the batch, which the rules then ignore
as duplicates (their tracks were stored), and the outbox re-publishes anything not yet sent. So a
restart loses no alert and opens no second work order.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import httpx
from kafka import KafkaConsumer, KafkaProducer

from alerts import influx
from alerts.clock import Clock
from alerts.config import RuleConfig
from alerts.engine.batch import EngineContext, RiskMessage, process_batch, process_tick
from alerts.notify import WebhookNotifier
from alerts.rules import IgnoreReason
from alerts.settings import EngineSettings, ensure_sqlite_dir
from alerts.state import AlertChange
from alerts.store import alert_repo
from alerts.store.db import make_engine, migrate, session_factory, transaction
from forewarn.settings import InfluxSettings, KafkaSettings

log = logging.getLogger(__name__)


@dataclass
class EngineStats:
    """Counters since start."""

    records: int = 0
    rejected: int = 0
    ignored: dict[str, int] = field(default_factory=dict)
    changes: int = 0
    published: int = 0
    batches: int = 0
    influx_failed: int = 0


class AlertEngine:
    """The alert engine service; ``run`` until ``stop`` is set, or drive it with ``step``."""

    def __init__(
        self,
        settings: EngineSettings,
        kafka: KafkaSettings,
        rules: RuleConfig,
        clock: Clock,
        notifier: WebhookNotifier | None = None,
        influx_settings: InfluxSettings | None = None,
    ) -> None:
        ensure_sqlite_dir(settings.database_url)
        self.db = make_engine(settings.database_url)
        migrate(self.db)
        self.ctx = EngineContext(session_factory(self.db), rules, settings.actor, dict(settings.sla_hours))
        self.settings = settings
        self.clock = clock
        self.notifier = notifier
        self.influx = influx_settings if settings.write_influx else None
        self.risk_topic = settings.risk_topic or kafka.risk_topic
        self.alerts_topic = settings.alerts_topic or kafka.alerts_topic
        self.stats = EngineStats()
        self._last_tick: datetime | None = None
        self.consumer = KafkaConsumer(
            self.risk_topic,
            **kafka.client_config(),
            group_id=settings.group_id,
            client_id=f"{settings.group_id}-engine",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=settings.max_batch,
        )
        self.producer = KafkaProducer(
            **kafka.client_config(), client_id=f"{settings.group_id}-producer", acks="all", linger_ms=5
        )
        self.publish_outbox()  # whatever a previous run stored but did not get onto Kafka

    def publish_outbox(self) -> int:
        """Send every unpublished alert change to Kafka, wait for the acks, then mark them published."""
        total = 0
        while True:
            with transaction(self.ctx.sessions) as session:
                rows = alert_repo.pending_outbox(session)
                if not rows:
                    return total
                futures = [
                    self.producer.send(self.alerts_topic, key=r.asset_id.encode(), value=r.payload)
                    for r in rows
                ]
                self.producer.flush()
                for f in futures:
                    f.get(timeout=30)  # raises if Kafka did not take it: nothing is marked then
                alert_repo.mark_published(session, [r.id for r in rows], self.clock.now())
                total += len(rows)
                self.stats.published += len(rows)

    def step(self) -> int:
        """Poll once, process, publish, notify, commit; run the tick when due. Returns records polled."""
        polled: Mapping[object, list[object]] = self.consumer.poll(timeout_ms=self.settings.poll_timeout_ms)
        messages = [
            RiskMessage(r.value, f"{r.topic}/{r.partition}/{r.offset}")  # type: ignore[attr-defined]
            for tp in sorted(polled, key=str)
            for r in polled[tp]
        ]
        now = self.clock.now()
        if messages:
            result = process_batch(self.ctx, messages, now)
            self.stats.batches += 1
            self.stats.records += result.records
            self.stats.rejected += result.rejected
            for reason, n in result.ignored.items():
                key = IgnoreReason(reason).value
                self.stats.ignored[key] = self.stats.ignored.get(key, 0) + n
            self.stats.changes += len(result.changes)
            self.publish_outbox()
            self._after_publish(result.changes, now)
            self.consumer.commit()
        if (
            self._last_tick is None
            or (now - self._last_tick).total_seconds() >= self.settings.tick_interval_s
        ):
            self.run_tick(now)
        return len(messages)

    def run_tick(self, now: datetime) -> None:
        """Escalation, snoozes and stale assets now."""
        self._last_tick = now
        changes = process_tick(self.ctx, now)
        if changes:
            self.stats.changes += len(changes)
            self.publish_outbox()
            self._after_publish(changes, now)

    def _after_publish(self, changes: list[AlertChange], now: datetime) -> None:
        """Webhooks and the InfluxDB view: best effort, counted when they fail."""
        if not changes:
            return
        if self.notifier:
            self.notifier.notify(changes, now)
        if self.influx is not None:
            try:
                influx.write(self.influx, influx.alert_lines(changes))
            except httpx.HTTPError as exc:
                self.stats.influx_failed += 1
                log.warning("writing %d alert changes to InfluxDB failed: %s", len(changes), exc)

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set; log counters now and then."""
        last_log = self.clock.now()
        while not stop.is_set():
            self.step()
            now = self.clock.now()
            if (now - last_log).total_seconds() >= 30:
                log.info("alert engine: %s", self.stats)
                last_log = now

    def close(self) -> None:
        """Leave the group and close clients (uncommitted work is re-delivered to the next run)."""
        self.consumer.close(autocommit=False)
        self.producer.close()
        if self.notifier:
            self.notifier.close()
        self.db.dispose()
