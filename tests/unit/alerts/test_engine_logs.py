"""The alert engine's log in words: its counters and each alert change. Against the real Kafka (dead letters
rate-limited, an alert raised): tests/integration/alerts/test_engine_dlq.py."""

from __future__ import annotations

from alerts.config import RuleConfig
from alerts.engine.service import EngineStats, change_line
from forewarn.contracts.alert import ChangeKind
from tests.unit.alerts.helpers import run, series


def test_stats_read_as_words() -> None:
    stats = EngineStats(records=1200, batches=40, changes=9, published=9, ticks_run=3, ticks_skipped=1)
    assert stats.summary() == (
        "risk records 1,200 in 40 batches, alert changes 9 (published 9), "
        "ticks 3 run, 1 left to another engine"
    )
    stats.rejected = 3
    stats.dead_letters = {"not_json": 1, "invalid": 2}
    stats.ignored = {"duplicate": 700}
    assert "dead letters 3 (invalid 2, not_json 1), ignored 700 (duplicate 700)" in stats.summary()


def test_an_alert_change_in_one_line() -> None:
    rules = RuleConfig(persistence_s=0, clear_s=0, stale_after_s=None)
    _, changes = run(series([0.96, 0.1], asset="pump-7", rul=31.0), rules)
    raised = next(c for c in changes if c.kind is ChangeKind.RAISED)
    line = change_line(raised)
    assert line.startswith("alert raised: pump-7 (site-1) bearing ")
    assert "risk 0.96" in line
    assert "RUL 31" in line
    assert "model rul-gbm v3" in line
    cleared = next(c for c in changes if c.kind is ChangeKind.CLEARED)
    assert change_line(cleared).startswith("alert cleared: pump-7")
