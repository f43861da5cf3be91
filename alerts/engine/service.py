"""The alert engine loop: poll ``risk`` → store effects → publish ``alerts`` → notify → commit offsets.

Offsets are committed only after the batch's alerts and work orders are in the store and its alert
changes are on Kafka; a crash anywhere before that re-delivers the batch, which the rules then ignore
as duplicates (their tracks were stored), and the outbox re-publishes anything not yet sent. So a
restart loses no alert and opens no second work order.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

from alerts import gauges, influx_outbox
from alerts.clock import Clock
from alerts.config import RuleConfig
from alerts.engine.batch import EngineContext, RiskMessage, TickLease, process_batch, process_tick
from alerts.influx_outbox import Flusher
from alerts.notify import WebhookNotifier
from alerts.rules import IgnoreReason
from alerts.settings import EngineSettings, ensure_sqlite_dir
from alerts.state import AlertChange
from alerts.store import alert_repo
from alerts.store.db import make_engine, migrate, session_factory, transaction
from alerts.store.lease import TICK_LEASE, release
from forewarn import long_lived
from forewarn.contracts import dead_letter
from forewarn.contracts.alert import ChangeKind
from forewarn.influx import InfluxWriter
from forewarn.logs import RateLimitedLog, counts_text
from forewarn.settings import InfluxSettings, KafkaSettings

log = logging.getLogger(__name__)


class EngineStartError(RuntimeError):
    """The engine cannot start (the message says what to fix)."""


@dataclass
class EngineStats:
    """Counters since start."""

    records: int = 0
    rejected: int = 0  # records that failed the risk contract; each went to the DLQ topic
    dead_letters: dict[str, int] = field(default_factory=dict)  # by reason, acknowledged by Kafka
    ignored: dict[str, int] = field(default_factory=dict)
    changes: int = 0
    published: int = 0
    batches: int = 0
    ticks_run: int = 0  # ticks this instance ran as the lease holder
    ticks_skipped: int = 0  # ticks left to the instance that holds the lease

    def summary(self) -> str:
        """The counters in words, for the log: ``risk records 1,200 in 40 batches, alert changes 9 …``."""
        parts = [
            f"risk records {self.records:,} in {self.batches:,} batches",
            f"alert changes {self.changes:,} (published {self.published:,})",
        ]
        if self.dead_letters or self.rejected:
            dead = sum(self.dead_letters.values())
            parts.append(f"dead letters {dead:,} ({counts_text(self.dead_letters)})")
        if self.ignored:
            parts.append(f"ignored {sum(self.ignored.values()):,} ({counts_text(self.ignored)})")
        parts.append(f"ticks {self.ticks_run:,} run, {self.ticks_skipped:,} left to another engine")
        return ", ".join(parts)


def change_line(change: AlertChange) -> str:
    """One alert change in words: ``alert raised: pump-0007 (site-1) bearing_wear WARNING, risk 0.82,
    RUL 31, model forewarn-pumps v3, work order 12``."""
    a = change.alert
    what = change.kind.value.replace("_", " ")
    words = [f"alert {what}: {a.asset_id} ({a.site}) {a.failure_mode} {a.severity}"]
    if change.kind is not ChangeKind.CLEARED:  # what triggered it (on clearing: the detail says why)
        if a.trigger_risk is not None:
            words.append(f"risk {a.trigger_risk:.2f}")
        if a.trigger_rul_cycles is not None:
            words.append(f"RUL {a.trigger_rul_cycles:.0f}")
    if a.model_name:
        words.append(f"model {a.model_name} v{a.model_version}")
    if change.tier:
        words.append(f"tier {change.tier}")
    if a.work_order_id is not None:
        words.append(f"work order {a.work_order_id}")
    if change.detail:
        words.append(change.detail)
    return ", ".join(words)


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
        self.lease = TickLease(
            f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}", settings.lease_s()
        )
        self.flusher: Flusher | None = None
        if settings.write_influx and influx_settings is not None:
            writer = InfluxWriter(influx_settings, retry_budget_s=settings.influx_retry_budget_s)
            self.flusher = Flusher(
                self.ctx.sessions, writer, clock, interval_s=settings.influx_flush_interval_s
            )
        self.risk_topic = settings.risk_topic or kafka.risk_topic
        self.alerts_topic = settings.alerts_topic or kafka.alerts_topic
        self.dlq_topic = settings.dlq_topic or f"{self.risk_topic}.dlq"
        self.stats = EngineStats()
        # a bad producer can fill risk.dlq: the first letters of each reason per minute, then a count
        self._letters_log = RateLimitedLog(log, noun="risk dead letters")
        self._last_tick: datetime | None = None
        self._last_gauges: datetime | None = None
        self._last_kpis: datetime | None = None
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
        self._require_topic(self.dlq_topic, EngineSettings.env_name("dlq_topic"))
        self.publish_outbox()  # whatever a previous run stored but did not get onto Kafka

    def _require_topic(self, topic: str, variable: str) -> None:
        """Fail at start when ``topic`` is missing: the broker does not create topics on first use."""
        if not self.consumer.partitions_for_topic(topic):
            self.close()
            raise EngineStartError(
                f"Kafka topic {topic!r} does not exist; create it (`forewarn stack up` creates the "
                f"project's topics) or point {variable} at an existing one"
            )

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
            self._send_dead_letters(result.dead_letters)
            self._after_publish(result.changes, now)
            self.consumer.commit()
        if self.flusher is not None:
            self.flusher.maybe_flush()
        if (
            self._last_tick is None
            or (now - self._last_tick).total_seconds() >= self.settings.tick_interval_s
        ):
            self.run_tick(now)
        return len(messages)

    def _send_dead_letters(self, letters: list[dead_letter.DeadLetter]) -> None:
        """Put rejected records on the DLQ topic and wait for the acks (before the offsets commit)."""
        if not letters:
            return
        futures = [
            self.producer.send(
                self.dlq_topic,
                key=letter.source.encode(),
                value=dead_letter.encode(letter),
                headers=dead_letter.headers(letter, ("producer", self.settings.group_id.encode())),
            )
            for letter in letters
        ]
        self.producer.flush()
        for letter, future in zip(letters, futures, strict=True):
            future.get(timeout=30)  # raises if Kafka did not take it: the offsets are not committed then
            reason = letter.reason.value
            self.stats.dead_letters[reason] = self.stats.dead_letters.get(reason, 0) + 1
            detail = letter.detail[:300]
            self._letters_log.log(
                reason, "dead letter %s from %s → %s: %s", reason, letter.source, self.dlq_topic, detail
            )

    def run_tick(self, now: datetime) -> None:
        """Escalation, snoozes and stale assets now, if this instance holds (or takes) the tick lease."""
        self._last_tick = now
        changes = process_tick(self.ctx, now, self.lease)
        if changes is None:
            self.stats.ticks_skipped += 1
            return
        self.stats.ticks_run += 1
        if self.flusher is not None:
            self._queue_gauges(now)
        self.stats.changes += len(changes)
        # also what operators changed meanwhile (ack, snooze: API or CLI), when no risk record comes
        self.publish_outbox()
        if changes:
            self._after_publish(changes, now)

    def _queue_gauges(self, now: datetime) -> None:
        """Queue the boards' gauges into the InfluxDB outbox when due (tick-lease holder only)."""
        due_counts = self._last_gauges is None or (
            (now - self._last_gauges).total_seconds() >= self.settings.gauge_interval_s
        )
        due_kpis = self._last_kpis is None or (
            (now - self._last_kpis).total_seconds() >= self.settings.kpi_interval_s
        )
        if not (due_counts or due_kpis):
            return
        with transaction(self.ctx.sessions) as session:
            points = gauges.count_lines(session, now) if due_counts else []
            if due_kpis:
                points += gauges.kpi_snapshot_lines(session, now)
            influx_outbox.queue(session, points, now)
        if due_counts:
            self._last_gauges = now
        if due_kpis:
            self._last_kpis = now

    def _after_publish(self, changes: list[AlertChange], now: datetime) -> None:
        """Log the changes; webhooks: best effort, rate-limited per asset (InfluxDB points: the outbox)."""
        for change in changes:
            # an open alert is updated by every reading that keeps it open: those only at DEBUG
            level = logging.DEBUG if change.kind is ChangeKind.UPDATED else logging.INFO
            log.log(level, "%s", change_line(change))
        if changes and self.notifier:
            self.notifier.notify(changes, now)

    def run(self, stop: threading.Event) -> None:
        """Loop until ``stop`` is set; log the counters every 30 s when they moved.

        What the engine holds for good is frozen out of the cycle collector's passes at the start
        and after the first batch (``forewarn.long_lived``).

        Kafka down is an outage, not the end: the step that failed is redone from the last committed
        offsets (:func:`retry_kafka`), as a restarted engine would.
        """
        last_log, last_summary = self.clock.now(), self.stats.summary()
        long_lived.freeze()  # modules, clients, settings: out of the collector's full passes
        settled = False
        while not stop.is_set():
            retry_kafka(self.step, self.rewind, stop)
            if not settled and self.stats.batches:  # also what the first batch loaded lazily
                long_lived.freeze()
                settled = True
            now = self.clock.now()
            if (now - last_log).total_seconds() >= 30:
                self._letters_log.flush()
                summary = self.stats.summary()
                if summary != last_summary:
                    log.info("so far: %s", summary)
                last_log, last_summary = now, summary

    def rewind(self) -> None:
        """Put the consumer back at the committed offsets: what a failed step polled is polled again
        (its alert changes wait in the outbox, its dead letters are built again). Raises KafkaError
        while the broker is down."""
        for tp in self.consumer.assignment():
            committed = self.consumer.committed(tp)
            if committed is None:
                self.consumer.seek_to_beginning(tp)  # auto_offset_reset="earliest", as at start
            else:
                self.consumer.seek(tp, committed)

    def close(self) -> None:
        """Leave the group, hand the tick lease over, close clients.

        Uncommitted work is re-delivered to the next run; queued InfluxDB points wait in the store.
        """
        self._letters_log.close()
        self.consumer.close(autocommit=False)
        self.producer.close()
        if self.notifier:
            self.notifier.close()
        if self.flusher is not None:
            self.flusher.writer.close()
        try:
            with transaction(self.ctx.sessions) as session:
                release(session, TICK_LEASE, self.lease.holder, self.clock.now())
        finally:
            self.db.dispose()


KAFKA_BACKOFF_S = 1.0
KAFKA_MAX_BACKOFF_S = 30.0


def retry_kafka(
    step: Callable[[], object],
    rewind: Callable[[], None],
    stop: threading.Event,
    backoff_s: float = KAFKA_BACKOFF_S,
    max_backoff_s: float = KAFKA_MAX_BACKOFF_S,
) -> None:
    """Run ``step`` once; while Kafka refuses (``KafkaError``), wait (doubling, up to ``max_backoff_s``),
    ``rewind`` to the committed offsets and run it again, until it succeeds or ``stop`` is set.

    A step commits its offsets only after its alert changes and dead letters are on Kafka, so redoing
    it from the committed offsets loses nothing; the alert store deduplicates what it sees twice (as
    after a crash). Before, a broker down for longer than a send's timeout stopped the engine.
    """
    wait_s = backoff_s
    while not stop.is_set():
        try:
            step()
            return
        except KafkaError as exc:
            log.warning("Kafka refused the engine's step (%s: %s); again in %.0f s, from the committed "
                        "offsets", type(exc).__name__, str(exc)[:200], wait_s)  # fmt: skip
        while not stop.wait(wait_s):
            wait_s = min(wait_s * 2, max_backoff_s)
            try:
                rewind()
                break
            except KafkaError as exc:
                log.warning("Kafka still down (%s); again in %.0f s", type(exc).__name__, wait_s)
