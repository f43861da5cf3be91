"""The alert engine against the real Kafka: risk stream → alerts topic + work orders, across restarts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from alerts.clock import ManualClock
from alerts.config import RuleConfig
from alerts.engine.service import AlertEngine
from alerts.notify import WebhookNotifier
from alerts.settings import EngineSettings
from alerts.store.db import make_engine, session_factory, transaction
from alerts.store.tables import AlertRow, RiskRejectionRow, WorkOrderRow
from forewarn.contracts.alert import AlertEvent, ChangeKind
from forewarn.contracts.risk import RiskRecord
from forewarn.cpu_share import session_nice
from forewarn.settings import load
from infra.stack.kafka import grant_roles
from infra.stack.process import stat_fields
from infra.stack.service import StackContext
from tests.conftest import unique
from tests.integration.alerts.kafka_helpers import produce, read_alerts, read_dead_letters
from tests.unit.alerts.helpers import T0, series
from tests.unit.alerts.webhook_server import Received, webhook_server

pytestmark = pytest.mark.integration

RULES = RuleConfig(persistence_s=120, clear_s=180, cooldown_s=3600, stale_after_s=None)

# Three incidents (one per asset/failure mode) and one healthy asset; one reading a minute.
INCIDENTS = [("pump-1", "bearing"), ("pump-2", "bearing"), ("pump-1", "seal")]
PROFILE = [0.2, 0.9, 0.95, 0.97, 0.85, 0.79, 0.9, 0.96, 0.6, 0.4, 0.4, 0.4, 0.4, 0.3]


def stream() -> list[RiskRecord]:
    records = [r for asset, mode in INCIDENTS for r in series(PROFILE, asset=asset, mode=mode)]
    records += series([0.1] * len(PROFILE), asset="fan-9", mode="bearing")
    return sorted(records, key=lambda r: (r.event_ts, r.asset_id, r.failure_mode))


def all_cleared(events: list[AlertEvent]) -> bool:
    cleared = {(e.asset_id, e.failure_mode) for e in events if e.change is ChangeKind.CLEARED}
    return cleared == set(INCIDENTS)


def engine_settings(db: Path, risk: str, alerts: str, group: str, dlq: str) -> EngineSettings:
    return load(
        EngineSettings,
        database_url=f"sqlite:///{db}",
        risk_topic=risk,
        alerts_topic=alerts,
        dlq_topic=dlq,
        group_id=group,
        poll_timeout_ms=200,
        max_batch=20,
        tick_interval_s=3600,
    )


def step_until(engine: AlertEngine, done: Callable[[], bool], timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, f"engine did not get there: {engine.stats}"
        engine.step()


def caught_up(engine: AlertEngine) -> bool:
    """Every partition of the risk topic committed up to its end."""
    assigned = list(engine.consumer.assignment())
    if len(assigned) < 3:
        return False
    ends = engine.consumer.end_offsets(assigned)
    return all(engine.consumer.committed(tp) == ends[tp] for tp in assigned)


def work_orders(db: Path) -> list[tuple[str, str, str | None]]:
    engine = make_engine(f"sqlite:///{db}")
    with transaction(session_factory(engine)) as s:
        rows = [(w.asset_id, w.failure_mode, w.source_alert_id) for w in s.scalars(select(WorkOrderRow))]
    engine.dispose()
    return rows


@pytest.fixture
def webhook() -> Iterator[tuple[str, Received]]:
    with webhook_server() as server:
        yield server


def test_incidents_give_one_work_order_each_across_a_crash(
    stack: StackContext,
    new_topic: Callable[..., str],
    tmp_path: Path,
    webhook: tuple[str, Received],
    influx_database: str,
) -> None:
    risk_topic, alerts_topic = new_topic("risk", partitions=3), new_topic("alerts", partitions=1)
    group, db, dlq = unique("alerts-engine"), tmp_path / "wo.db", new_topic("risk-dlq")
    settings = engine_settings(db, risk_topic, alerts_topic, group, dlq).model_copy(
        update={"write_influx": True}
    )
    influx = stack.influx.model_copy(update={"database": influx_database})
    records = stream()
    half = len(records) // 2
    produce(stack.kafka, risk_topic, records[:half])
    produce(stack.kafka, risk_topic, [b"not json at all"], key="pump-1")

    clock = ManualClock(T0)
    url, received = webhook

    def notifier() -> WebhookNotifier:
        return WebhookNotifier(RULES, default_url=url, min_interval_s=0, timeout_s=5)

    first = AlertEngine(settings, stack.kafka, RULES, clock, notifier(), influx)
    step_until(first, lambda: first.stats.records + first.stats.rejected >= half + 1)
    # crash mid-incident: the next batch is stored and published, but the process dies before
    # committing its offsets, so Kafka re-delivers it to the next run
    produce(stack.kafka, risk_topic, records[half : half + 8])

    def die() -> None:
        raise RuntimeError("simulated crash before the offset commit")

    first.consumer.commit = die  # type: ignore[method-assign]
    with pytest.raises(RuntimeError, match="simulated crash"):
        step_until(first, lambda: False, timeout_s=30)
    first.close()

    produce(stack.kafka, risk_topic, records[half + 8 :])
    second = AlertEngine(settings, stack.kafka, RULES, clock, notifier(), influx)
    step_until(second, lambda: caught_up(second))
    assert second.flusher is not None
    second.flusher.flush()  # the manual clock stands still: flush the InfluxDB outbox now
    second.close()

    assert second.stats.ignored.get("duplicate", 0) >= 1  # the re-delivered batch
    hooked = Counter((b["asset_id"], b["failure_mode"]) for _, b in received.posts if b["change"] == "raised")
    assert hooked == Counter(INCIDENTS)
    orders = work_orders(db)
    assert sorted((a, m) for a, m, _ in orders) == sorted(INCIDENTS)
    events = read_alerts(stack.kafka, alerts_topic, until=all_cleared)
    raised = Counter((e.asset_id, e.failure_mode) for e in events if e.change is ChangeKind.RAISED)
    cleared = Counter((e.asset_id, e.failure_mode) for e in events if e.change is ChangeKind.CLEARED)
    assert raised == Counter(INCIDENTS)
    assert cleared == Counter(INCIDENTS)
    # flapping inside each incident (0.79 → 0.9) counted as a second occurrence, not a new alert
    assert {e.occurrence_count for e in events if e.change is ChangeKind.CLEARED} == {2}
    # every alert event names its work order, and every work order's alert reached the topic
    assert {e.alert_id for e in events} == {alert_id for _, _, alert_id in orders}
    assert all(e.work_order_id is not None for e in events)
    duplicates = [k for k, n in Counter((e.alert_id, e.change, e.change_ts) for e in events).items() if n > 1]
    assert duplicates == []
    # the InfluxDB view got every change too (Grafana's alert board)
    answer = httpx.get(
        f"{influx.url}/query",
        params={"db": influx_database, "q": 'SELECT count("occurrences") FROM alerts GROUP BY "change"'},
        headers=influx.auth_headers(),
        timeout=10,
    ).json()
    counts = {s["tags"]["change"]: s["values"][0][1] for s in answer["results"][0]["series"]}
    assert counts == dict(Counter(e.change.value for e in events))
    assert second.flusher.stats.refused == 0
    answer = httpx.get(
        f"{influx.url}/query",
        params={
            "db": influx_database,
            "q": 'SELECT count("work_order_id") FROM work_orders GROUP BY "status"',
        },
        headers=influx.auth_headers(),
        timeout=10,
    ).json()
    assert {s["tags"]["status"]: s["values"][0][1] for s in answer["results"][0]["series"]} == {
        "requested": len(INCIDENTS)
    }
    # the tick-lease holder wrote the boards' gauges at its first tick (every site and enumeration)
    answer = httpx.get(
        f"{influx.url}/query",
        params={"db": influx_database, "q": 'SELECT count("open_alerts") FROM alert_counts GROUP BY "site"'},
        headers=influx.auth_headers(),
        timeout=10,
    ).json()
    assert {s["tags"]["site"]: s["values"][0][1] for s in answer["results"][0]["series"]} == {"site-1": 24}
    (letter,) = read_dead_letters(stack.kafka, dlq, expect=1)
    assert (letter.reason, letter.payload) == ("not_json", b"not json at all")

    engine = make_engine(f"sqlite:///{db}")
    with transaction(session_factory(engine)) as s:
        rejected = s.scalars(select(RiskRejectionRow)).all()
        assert [(r.reason, r.raw) for r in rejected] == [("not_json", b"not json at all")]
        assert s.scalar(select(func.count()).select_from(AlertRow)) == len(INCIDENTS)
    engine.dispose()


def test_killed_engine_process_restarts_without_duplicates(
    stack: StackContext, new_topic: Callable[..., str], tmp_path: Path
) -> None:
    """`forewarn alerts run` as a real process, killed with SIGKILL mid-stream and started again."""
    risk_topic, alerts_topic = new_topic("risk", partitions=3), new_topic("alerts", partitions=1)
    db = tmp_path / "wo.db"
    rules = tmp_path / "rules.toml"
    rules.write_text("persistence_s = 120\nclear_s = 180\ncooldown_s = 3600\n")
    env = {
        **os.environ,
        "FOREWARN_ALERTS_DATABASE_URL": f"sqlite:///{db}",
        "FOREWARN_ALERTS_RISK_TOPIC": risk_topic,
        "FOREWARN_ALERTS_ALERTS_TOPIC": alerts_topic,
        "FOREWARN_ALERTS_DLQ_TOPIC": new_topic("risk-dlq"),
        "FOREWARN_ALERTS_GROUP_ID": unique("alerts-proc"),
        "FOREWARN_ALERTS_RULES_FILE": str(rules),
        "FOREWARN_ALERTS_POLL_TIMEOUT_MS": "200",
        "FOREWARN_ALERTS_MAX_BATCH": "5",
        "FOREWARN_KAFKA_BOOTSTRAP_SERVERS": stack.kafka.bootstrap_servers,
    }
    cmd = [sys.executable, "-c", "from chain.cli import main; main()", "alerts", "run"]
    # the engine runs as forewarn-alerts: its ACLs on this test's topics and group, as on the stack's
    topics = {
        "risk_topic": risk_topic,
        "alerts_topic": alerts_topic,
        "risk_dlq_topic": env["FOREWARN_ALERTS_DLQ_TOPIC"],
    }
    grant_roles(stack.kafka, stack.kafka.model_copy(update=topics), env["FOREWARN_ALERTS_GROUP_ID"])
    records = stream()
    half = len(records) // 2

    def start(log_name: str) -> subprocess.Popen[bytes]:
        # its own session, as the stack's supervisor starts it: the engine yields its share of the
        # CPU (FOREWARN_ALERTS_NICE, default 5) for its session and every thread
        return subprocess.Popen(
            cmd, env=env, stdout=subprocess.DEVNULL, stderr=(tmp_path / log_name).open("wb"),
            start_new_session=True,
        )  # fmt: skip

    produce(stack.kafka, risk_topic, records[:half])
    proc = start("run1.log")
    try:
        deadline = time.monotonic() + 60
        while len(work_orders(db) if db.exists() else []) < 1:
            assert time.monotonic() < deadline, (tmp_path / "run1.log").read_text()
            assert proc.poll() is None, (tmp_path / "run1.log").read_text()
            time.sleep(0.3)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)

    produce(stack.kafka, risk_topic, records[half:])
    proc = start("run2.log")
    try:
        events = read_alerts(stack.kafka, alerts_topic, timeout_s=90, until=all_cleared)
        threads = [stat_fields(task) for task in Path(f"/proc/{proc.pid}/task").iterdir()]
        nices = {int(fields[16]) for fields in threads if fields is not None}
        session = session_nice(proc.pid) if Path("/proc/self/autogroup").exists() else 5
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    log = (tmp_path / "run2.log").read_text()
    expected = max(5, os.getpriority(os.PRIO_PROCESS, 0))  # raised, never lowered from this process's
    assert len(threads) > 1, log
    assert nices == {expected}, (nices, log)  # Kafka's threads too: started after the call
    assert session == 5, log
    assert f"CPU: nice {expected}" in log, log
    assert "alert engine stopped" in log, log
    raised = Counter((e.asset_id, e.failure_mode) for e in events if e.change is ChangeKind.RAISED)
    assert raised == Counter(INCIDENTS)
    assert sorted((a, m) for a, m, _ in work_orders(db)) == sorted(INCIDENTS)
