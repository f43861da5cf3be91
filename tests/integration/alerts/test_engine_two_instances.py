"""Two engine instances on one store and one consumer group: the tick (escalation, stale) runs once."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from alerts.clock import ManualClock
from alerts.config import RuleConfig
from alerts.engine.service import AlertEngine
from forewarn.contracts.alert import ChangeKind
from infra.stack.service import StackContext
from tests.conftest import unique
from tests.integration.alerts.kafka_helpers import produce, read_alerts
from tests.integration.alerts.test_engine_kafka import engine_settings
from tests.unit.alerts.helpers import T0, series

pytestmark = pytest.mark.integration

RULES = RuleConfig(persistence_s=0, clear_s=0, stale_after_s=600, ack_timeout_s=300, repeat_s=300)
ASSETS = ["pump-1", "pump-2", "pump-3", "pump-4"]


def test_two_engines_escalate_and_flag_stale_once(
    stack: StackContext, new_topic: Callable[..., str], tmp_path: Path
) -> None:
    risk, alerts, dlq = new_topic("risk", partitions=3), new_topic("alerts"), new_topic("risk-dlq")
    settings = engine_settings(tmp_path / "wo.db", risk, alerts, unique("alerts-pair"), dlq).model_copy(
        update={"tick_interval_s": 5.0, "tick_lease_s": 30.0, "poll_timeout_ms": 20}
    )
    clock = ManualClock(T0)
    one = AlertEngine(settings, stack.kafka, RULES, clock)
    two: AlertEngine | None = None
    try:
        produce(stack.kafka, risk, [r for a in ASSETS for r in series([0.97], asset=a)])
        # The first instance takes the records before the second joins the group: what is under test
        # is the tick lease on the shared store, not Kafka's rebalancing. (Two kafka-python consumers
        # joining together in one thread were once seen rebalancing for over 60 s: the leader kept
        # re-joining right after each assignment, so neither fetched.)
        deadline = time.monotonic() + 60
        while one.stats.records < len(ASSETS):
            assert time.monotonic() < deadline, one.stats
            one.step()
        two = AlertEngine(settings, stack.kafka, RULES, clock)
        # processing time runs on for 15 minutes; both instances step every 5 s of it
        for _ in range(180):
            clock.advance(5)
            one.step()
            two.step()
        ticks = sorted([one.stats.ticks_run, two.stats.ticks_run])
        assert ticks[0] <= 1  # at most one tick before the holder's first renewal
        assert ticks[1] >= 180
        assert (
            one.stats.ticks_run + two.stats.ticks_run + one.stats.ticks_skipped + two.stats.ticks_skipped
            >= 361
        )
    finally:
        one.close()
        if two is not None:
            two.close()

    def done(events: list) -> bool:  # type: ignore[type-arg]
        return sum(e.change is ChangeKind.ESCALATED for e in events) >= 2 * len(ASSETS)

    events = read_alerts(stack.kafka, alerts, until=done)
    by_asset = Counter(
        (e.asset_id, e.change, e.tier)
        for e in events
        if e.change is ChangeKind.ESCALATED and e.failure_mode != "stale"
    )
    # on-call → supervisor after 300 s, → manager after 600 s, then every 300 s at the last tier:
    # 15 minutes give each alert exactly the escalations below, from one instance only.
    expected = Counter()  # type: Counter[tuple[str, ChangeKind, str | None]]
    for asset in ASSETS:
        expected[(asset, ChangeKind.ESCALATED, "supervisor")] = 1
        expected[(asset, ChangeKind.ESCALATED, "manager")] = 2
    assert by_asset == expected
    stale = Counter(e.asset_id for e in events if e.change is ChangeKind.RAISED and e.failure_mode == "stale")
    assert stale == Counter(ASSETS)
