"""Benchmark of the alert engine on the real Kafka: records/s sustained and alert → work order latency.

Two phases on fresh topics and a fresh SQLite store:
1. throughput: the engine joins its consumer group on the empty topic, then ``records`` risk records
   (a fleet of ``assets``, some with incidents) are produced, then the engine runs until it has
   stored and committed all of them; records/s = records / wall time of that run.
2. latency: a second engine polls live; ``incidents`` records that each raise an alert at once are
   sent one at a time from the same thread, which steps the engine until the work order is stored;
   latency = the work order's ``created_at`` - the send time of its record.
Also the pure rule evaluation rate without I/O, for comparison. Results are JSON.

``--replay-topic T`` instead: every record already on ``T`` (e.g. the ``risk`` topic of a
``python -m bench.chain --keep-topics`` run: a real fleet's scores, with the alerts, severity
changes and work orders they cause) through a fresh engine and store, run as ``forewarn alerts run``
runs it (``AlertEngine.run``); records/s and the engine process's CPU.
"""

from __future__ import annotations

import contextlib
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from sqlalchemy import select

from alerts.clock import SystemClock
from alerts.config import RuleConfig, load_rules
from alerts.engine.service import AlertEngine
from alerts.rules import EngineState, evaluate
from alerts.settings import EngineSettings
from alerts.store.db import transaction
from alerts.store.tables import WorkOrderRow
from chain.plan import RULES_FILE
from forewarn.contracts.risk import RiskRecord
from forewarn.settings import KafkaSettings, load

RULES = RuleConfig(persistence_s=120, clear_s=180, cooldown_s=600, stale_after_s=None)
FAST_RULES = RuleConfig(persistence_s=0, clear_s=0, cooldown_s=0, stale_after_s=None)


def _record(asset: str, t: datetime, risk: float) -> RiskRecord:
    return RiskRecord(
        asset_id=asset,
        site="bench",
        event_ts=t,
        risk=risk,
        rul_cycles=100.0,
        horizon_cycles=30.0,
        model_name="bench",
        model_version="1",
        failure_mode="bearing",
    )


def fleet_stream(records: int, assets: int, start: datetime) -> list[RiskRecord]:
    """One reading a minute per asset; every tenth asset has an incident in the middle."""
    out = []
    per_asset = max(1, records // assets)
    for i in range(per_asset):
        for a in range(assets):
            incident = a % 10 == 0 and per_asset // 3 <= i < per_asset // 3 + 10
            out.append(_record(f"asset-{a}", start + timedelta(minutes=i), 0.95 if incident else 0.1))
    return out


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100), nearest rank."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def rules_only_rate(stream: list[RiskRecord]) -> float:
    """Records/s of pure rule evaluation (no store, no Kafka)."""
    state = EngineState()
    now = datetime.now(UTC)
    began = time.perf_counter()
    for r in stream:
        state = evaluate(state, r, now, RULES).state
    return len(stream) / (time.perf_counter() - began)


def _check(deadline: float, what: str, engine: AlertEngine) -> None:
    if time.monotonic() > deadline:
        raise TimeoutError(f"{what} before the deadline: {engine.stats}")


def _join_group(engine: AlertEngine, deadline: float) -> None:
    """Step until the consumer group gave this engine its partitions."""
    while not engine.consumer.assignment():
        _check(deadline, "the engine got no partitions", engine)
        engine.step()


def _work_order_created(engine: AlertEngine, asset: str) -> datetime | None:
    with transaction(engine.ctx.sessions) as s:
        return s.scalar(select(WorkOrderRow.created_at).where(WorkOrderRow.asset_id == asset))


@contextlib.contextmanager
def _scratch(kafka: KafkaSettings, partitions: dict[str, int], work_dir: Path | None) -> Iterator[Path]:
    """The bench's own topics (name → partitions) and a temporary folder, both gone afterwards."""
    admin = KafkaAdminClient(**kafka.client_config(), client_id="forewarn-bench")
    admin.create_topics([NewTopic(t, n, 1) for t, n in partitions.items()], wait_for_metadata=True)
    admin.close()
    tmp = Path(tempfile.mkdtemp(prefix="forewarn-bench-", dir=work_dir))
    try:
        yield tmp
    finally:
        admin = KafkaAdminClient(**kafka.client_config(), client_id="forewarn-bench")
        admin.delete_topics(list(partitions))
        admin.close()
        shutil.rmtree(tmp, ignore_errors=True)


def run(
    kafka: KafkaSettings,
    *,
    records: int,
    assets: int,
    incidents: int,
    work_dir: Path | None = None,
    timeout_s: float = 300.0,
) -> dict[str, Any]:
    """Run both phases and return the results (topics are deleted afterwards)."""
    tag = uuid.uuid4().hex[:8]
    risk_topic, alerts_topic = f"bench-risk-{tag}", f"bench-alerts-{tag}"
    latency_topic = f"bench-risk-latency-{tag}"  # empty at start: the latency engine has no backlog
    dlq_topics = [f"{risk_topic}.dlq", f"{latency_topic}.dlq"]  # the engine's default DLQ names
    topics = [risk_topic, alerts_topic, latency_topic, *dlq_topics]
    partitions = {t: 3 if t in (risk_topic, latency_topic) else 1 for t in topics}
    with _scratch(kafka, partitions, work_dir) as tmp:
        stream = fleet_stream(records, assets, datetime(2026, 1, 1, tzinfo=UTC))

        def settings(db: str, rules_group: str, topic: str) -> EngineSettings:
            return load(
                EngineSettings,
                database_url=f"sqlite:///{tmp / db}",
                risk_topic=topic,
                alerts_topic=alerts_topic,
                group_id=f"bench-{rules_group}-{tag}",
                poll_timeout_ms=100,
                tick_interval_s=3600,
            )

        engine = AlertEngine(settings("throughput.db", "t", risk_topic), kafka, RULES, SystemClock())
        try:
            deadline = time.monotonic() + timeout_s
            # join the group on the empty topic first: the join (a broker-side delay) is not throughput
            _join_group(engine, deadline)
            producer = KafkaProducer(**kafka.client_config(), acks="all", linger_ms=20)
            for r in stream:
                producer.send(risk_topic, key=r.asset_id.encode(), value=r.encode())
            producer.flush(timeout=timeout_s)
            producer.close()
            began = time.perf_counter()
            while engine.stats.records < len(stream):
                _check(deadline, f"engine did not consume {len(stream)} records in {timeout_s:g} s", engine)
                engine.step()
            throughput_s = time.perf_counter() - began
            stats = engine.stats
        finally:
            engine.close()

        # latency: a second engine (own group, store and risk topic) polling live. One thread
        # sends a record, then steps the engine until the record's work order is stored: the
        # consumer is only ever used from this thread and closed after its last poll.
        engine = AlertEngine(settings("latency.db", "l", latency_topic), kafka, FAST_RULES, SystemClock())
        producer = KafkaProducer(**kafka.client_config(), acks="all", linger_ms=0)
        latencies_ms = []
        try:
            deadline = time.monotonic() + timeout_s
            _join_group(engine, deadline)
            start = datetime(2027, 1, 1, tzinfo=UTC)
            for k in range(incidents):
                asset = f"latency-{k}"
                sent = datetime.now(UTC)
                producer.send(latency_topic, key=asset.encode(), value=_record(asset, start, 0.99).encode())
                producer.flush(timeout=30)
                while (created := _work_order_created(engine, asset)) is None:
                    _check(deadline, f"no work order for {asset}", engine)
                    engine.step()
                latencies_ms.append((created - sent).total_seconds() * 1000)
        finally:
            producer.close()
            engine.close()
        return {
            "benchmark": "alerts.engine",
            "when": datetime.now(UTC).isoformat(),
            "store": "sqlite",
            "kafka_partitions": 3,
            "records": len(stream),
            "assets": assets,
            "engine_records_per_s": round(len(stream) / throughput_s, 1),
            "engine_batches": stats.batches,
            "alerts_changes": stats.changes,
            "rules_only_records_per_s": round(rules_only_rate(stream), 1),
            "incidents_for_latency": incidents,
            "alert_to_work_order_ms": {
                "p50": round(percentile(latencies_ms, 50), 2),
                "p99": round(percentile(latencies_ms, 99), 2),
                "max": round(max(latencies_ms), 2),
                "mean": round(statistics.fmean(latencies_ms), 2),
            },
            "latency_note": "risk record sent → work order stored (same host clock), engine polling live",
        }


def replay(
    kafka: KafkaSettings,
    topic: str,
    rules: RuleConfig,
    work_dir: Path | None = None,
    timeout_s: float = 600.0,
) -> dict[str, Any]:
    """Every record on ``topic`` through a fresh engine (own group, SQLite store, alerts and DLQ
    topics, deleted afterwards), until it has processed them all: wall time and this process's CPU."""
    from streaming.progress import CheckpointError, topic_offsets

    try:
        begin, end = topic_offsets(kafka, topic)
    except CheckpointError as exc:  # no such topic
        raise TimeoutError(str(exc)) from None
    total = sum(end.values()) - sum(begin.values())
    tag = uuid.uuid4().hex[:8]
    alerts_topic, dlq_topic = f"bench-replay-alerts-{tag}", f"bench-replay-{tag}.dlq"
    with _scratch(kafka, {alerts_topic: 1, dlq_topic: 1}, work_dir) as tmp:
        settings = load(
            EngineSettings,
            database_url=f"sqlite:///{tmp / 'replay.db'}",
            risk_topic=topic,
            alerts_topic=alerts_topic,
            dlq_topic=dlq_topic,
            group_id=f"bench-replay-{tag}",
            write_influx=False,
        )
        engine = AlertEngine(settings, kafka, rules, SystemClock())
        stop, deadline = threading.Event(), time.monotonic() + timeout_s

        def done() -> None:  # reads counters only: the engine and its consumer stay on one thread
            while engine.stats.records + engine.stats.rejected < total and time.monotonic() < deadline:
                time.sleep(0.05)
            stop.set()

        try:
            cpu0, began = time.process_time(), time.perf_counter()
            watcher = threading.Thread(target=done, daemon=True)
            watcher.start()
            engine.run(stop)
            wall_s, cpu_s = time.perf_counter() - began, time.process_time() - cpu0
            watcher.join()
            stats = engine.stats
        finally:
            engine.close()
        if stats.records + stats.rejected < total:
            raise TimeoutError(
                f"the engine processed {stats.records + stats.rejected:,} of {total:,} records"
            )
        return {
            "benchmark": "alerts.replay",
            "when": datetime.now(UTC).isoformat(),
            "store": "sqlite",
            "topic": topic,
            "records": stats.records,
            "rejected": stats.rejected,
            "batches": stats.batches,
            "alert_changes": stats.changes,
            "wall_s": round(wall_s, 2),
            "cpu_s": round(cpu_s, 2),
            "engine_records_per_s": round(stats.records / wall_s, 1),
            "records_per_cpu_s": round(stats.records / cpu_s, 1),
            "note": "from the engine's first poll to its last batch; CPU of the whole engine process",
        }


def bench(
    records: Annotated[
        int, typer.Option(min=100, max=1_000_000, help="Risk records for throughput.")
    ] = 20_000,
    assets: Annotated[int, typer.Option(min=1, max=10_000, help="Assets in the fleet.")] = 200,
    incidents: Annotated[int, typer.Option(min=1, max=1_000, help="Incidents timed for latency.")] = 100,
    out: Annotated[Path | None, typer.Option(help="Write the JSON here too.")] = None,
    timeout_s: Annotated[
        float, typer.Option(min=10, help="Deadline of each phase; the whole run is killed after 2x + 60 s.")
    ] = 300.0,
    replay_topic: Annotated[
        str | None,
        typer.Option(help="Instead: replay every record of this risk topic (bench.chain --keep-topics)."),
    ] = None,
    rules_file: Annotated[
        Path | None, typer.Option(help="With --replay-topic: the rules (default: the demo fleet's).")
    ] = None,
) -> None:
    """Benchmark the engine on the real Kafka (fresh topics): records/s and alert → work order latency.

    A watchdog ends a run that stops making progress inside a client library: it prints every
    thread's stack to stderr and exits 1 (instead of hanging ``make bench``).
    """
    import faulthandler

    import orjson

    faulthandler.dump_traceback_later(2 * timeout_s + 60, exit=True)
    try:
        if replay_topic is not None:
            rules = load_rules(rules_file or RULES_FILE)  # bench.chain's engine's
            result = replay(load(KafkaSettings), replay_topic, rules, timeout_s=timeout_s)
        else:
            result = run(
                load(KafkaSettings), records=records, assets=assets, incidents=incidents, timeout_s=timeout_s
            )
    except TimeoutError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    finally:
        faulthandler.cancel_dump_traceback_later()
    text = orjson.dumps(result, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
    typer.echo(text)
    if out is not None:
        out.write_text(text + "\n", encoding="utf-8")


def main() -> None:
    """``python -m bench.alerts``: the engine benchmark as a command."""
    typer.run(bench)


if __name__ == "__main__":
    main()
