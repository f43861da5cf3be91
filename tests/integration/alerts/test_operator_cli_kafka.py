"""An operator acknowledges and snoozes with ``forewarn alerts`` while the engine runs on the real Kafka:
the changes reach the ``alerts`` topic through the engine's outbox, also on a quiet risk stream."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from alerts.clock import ManualClock
from alerts.config import RuleConfig
from alerts.engine.service import AlertEngine
from alerts.notify import WebhookNotifier
from alerts.settings import EngineSettings
from forewarn.contracts.alert import ChangeKind
from forewarn.settings import load
from infra.stack.service import StackContext
from tests.conftest import unique
from tests.integration.alerts.kafka_helpers import produce, read_alerts
from tests.unit.alerts.helpers import T0, series

pytestmark = pytest.mark.integration

FOREWARN = str(Path(sys.executable).with_name("forewarn"))
RULES = RuleConfig(persistence_s=120, clear_s=180, cooldown_s=3600, stale_after_s=None)


def alerts_cli(db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FOREWARN_ALERTS_DATABASE_URL": f"sqlite:///{db}"}
    return subprocess.run([FOREWARN, "alerts", *args], env=env, capture_output=True, text=True, timeout=120)


def test_cli_actions_are_published_like_api_actions(
    stack: StackContext, new_topic: Callable[..., str], tmp_path: Path
) -> None:
    risk_topic, alerts_topic, dlq = (
        new_topic("risk", partitions=1),
        new_topic("alerts"),
        new_topic("risk-dlq"),
    )
    db = tmp_path / "wo.db"
    settings = load(
        EngineSettings,
        database_url=f"sqlite:///{db}",
        risk_topic=risk_topic,
        alerts_topic=alerts_topic,
        dlq_topic=dlq,
        group_id=unique("alerts-cli"),
        poll_timeout_ms=200,
        tick_interval_s=3600,
    )
    records = series([0.9, 0.95, 0.97, 0.96], asset="pump-1", mode="bearing")
    produce(stack.kafka, risk_topic, records)
    clock = ManualClock(T0)
    notifier = WebhookNotifier(RULES, default_url=None, min_interval_s=0, timeout_s=5)
    engine = AlertEngine(settings, stack.kafka, RULES, clock, notifier, None)
    try:
        while engine.stats.records < len(records):
            engine.step()
        raised = read_alerts(stack.kafka, alerts_topic, expect=1)
        assert [e.change for e in raised] == [ChangeKind.RAISED]
        alert_id = raised[0].alert_id

        acked = alerts_cli(db, "ack", alert_id, "--comment", "crew on the way", "--by", "ana")
        assert acked.returncode == 0, acked.stderr
        snoozed = alerts_cli(
            db, "snooze", alert_id, "--for", "2h", "--reason", "parts on Monday", "--by", "bo"
        )
        assert snoozed.returncode == 0, snoozed.stderr
        engine.run_tick(clock.now())  # no risk record comes: the tick publishes what operators changed
    finally:
        engine.close()

    events = read_alerts(stack.kafka, alerts_topic, expect=3)
    assert [(e.change, e.state.value) for e in events] == [
        (ChangeKind.RAISED, "ACTIVE"),
        (ChangeKind.ACKNOWLEDGED, "ACKNOWLEDGED"),
        (ChangeKind.SNOOZED, "SNOOZED"),
    ]
    assert (events[1].acknowledged_by, events[1].detail) == ("ana", "crew on the way")
    assert events[2].detail.endswith(": parts on Monday")

    shown = json.loads(alerts_cli(db, "show", alert_id, "--json").stdout)
    assert [(h["change"], h["by"]) for h in shown["history"]] == [
        ("raised", "alert-engine"),
        ("acknowledged", "ana"),
        ("snoozed", "bo"),
    ]
    assert all(h["published_at"] is not None for h in shown["history"])
