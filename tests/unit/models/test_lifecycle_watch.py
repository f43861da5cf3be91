"""The watch service's decisions with a fake clock, a fake drift check and a fake retrain.

The same loop runs against the real services in ``tests/integration/models/test_lifecycle.py``
(its retrain and events) and in the lead's closed-loop e2e test (drift → retrain → hot swap).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from models.events import ModelAction, ModelEvent
from models.lifecycle.settings import LifecycleSettings
from models.lifecycle.watch import LabelTally, Watcher, may_retrain, retrain_reason


@dataclass
class Worst:
    site: str = "site-1"
    feature: str = "vibration_mm_s"
    psi: float = 3.2
    mean_shift_sd: float = 1.5
    rows: int = 900


@dataclass
class Report:
    alarm: bool
    model_version: str = "3"
    skipped: str | None = None
    worst: Worst | None = field(default_factory=Worst)

    def note(self) -> str:
        return f"v{self.model_version}: PSI {self.worst.psi if self.worst else 'n/a'}"


class World:
    """A fake clock, drift, label store and retrain the watcher is wired to."""

    def __init__(self, settings: LifecycleSettings, stop_after_s: float = 1e9) -> None:
        self.now = 1_000_000.0
        self.alarm = False
        self.labels = 0
        self.judge_assets = 99  # enough to judge unless a test says otherwise
        self.champion_labels = 0
        self.events: list[ModelEvent] = []
        self.retrains: list[tuple[float, str]] = []
        self.checks = 0
        self.raise_in_check: BaseException | None = None
        self.decision = "promoted"
        self.stop_at = self.now + stop_after_s
        self.watcher = Watcher(
            "pumps", settings, self.check, lambda: LabelTally(self.labels, self.judge_assets),
            lambda: self.champion_labels, self.retrain,
            self.events.append, lambda: self.now, self.wait,
        )  # fmt: skip

    def check(self, now_ms: int) -> Report:
        self.checks += 1
        assert now_ms == int(self.now * 1000)
        if self.raise_in_check is not None:
            raise self.raise_in_check
        return Report(alarm=self.alarm)

    def retrain(self, why: str) -> dict[str, Any]:
        self.retrains.append((self.now, why))
        return {"decision": self.decision}

    def wait(self, seconds: float) -> bool:
        assert seconds >= 0
        self.now += max(seconds, 0.01)
        return self.now >= self.stop_at

    def advance(self, seconds: float) -> None:
        """Tick every drift interval for ``seconds`` of fake time."""
        end = self.now + seconds
        while self.now < end:
            self.watcher.tick()
            self.now += 1.0


def settings(**overrides: Any) -> LifecycleSettings:
    base: dict[str, Any] = {
        "drift_interval_s": 10.0,
        "cooldown_s": 100.0,
        "min_new_labels": 3,
        "retrain_every_s": 0.0,
    }
    return LifecycleSettings(**(base | overrides))


def alarms(world: World) -> list[ModelEvent]:
    return [e for e in world.events if e.action is ModelAction.DRIFT_ALARM]


def test_an_ongoing_drift_is_one_alarm_event_per_cooldown() -> None:
    world = World(settings())
    world.alarm = True
    world.advance(250)  # 25 checks, cooldown 100 s: alarms at 0, 100, 200
    assert world.checks == 25
    events = alarms(world)
    assert len(events) == 3
    assert events[0].model_version == "3"
    assert events[0].numbers == {"psi": 3.2, "mean_shift_sd": 1.5, "drift_rows": 900.0}
    assert "PSI 3.2" in events[0].note
    assert str(events[0].line()).startswith("model_events,action=drift_alarm,")


def test_no_alarm_no_event_and_a_skipped_check_is_not_an_alarm() -> None:
    world = World(settings())
    world.advance(50)
    assert world.checks == 5
    assert world.events == []
    assert world.retrains == []
    world.check = lambda now_ms: Report(alarm=True, skipped="no telemetry in the window")  # type: ignore[method-assign]
    world.watcher._check = world.check
    world.labels = 100
    world.advance(300)
    assert world.events == []
    assert world.retrains == []


def test_a_drift_alarm_retrains_only_once_enough_labels_arrived() -> None:
    world = World(settings(min_new_labels=3))
    world.champion_labels = 5  # the champion was trained on 5 labels
    world.alarm = True
    world.labels = 7  # 2 new: not enough
    world.advance(60)
    assert len(alarms(world)) == 1
    assert world.retrains == []
    world.labels = 8  # 3 new since the champion's training
    world.advance(10)
    assert len(world.retrains) == 1
    assert world.retrains[0][1] == "drift alarm, 3 new labels"
    # the drift goes on, but no new labels since that retrain: no second retrain, even after the cooldown
    world.advance(300)
    assert len(world.retrains) == 1
    # 3 more labels since the last retrain: the next one waits for the cooldown after the last retrain
    world.labels = 11
    world.advance(500)
    assert len(world.retrains) == 2
    assert world.retrains[1][0] - world.retrains[0][0] >= 100


def test_a_drift_that_is_gone_retrains_nothing() -> None:
    world = World(settings(min_new_labels=1))
    world.alarm = True
    world.advance(10)
    assert len(alarms(world)) == 1
    world.alarm = False
    world.advance(10)
    world.labels = 50
    world.advance(200)
    assert world.retrains == []


def test_the_schedule_retrains_every_period_when_labels_arrived() -> None:
    world = World(settings(retrain_every_s=1000.0))
    world.labels = 0
    world.advance(1500)
    assert world.retrains == []  # nothing new to learn from
    world.labels = 1
    world.advance(10)
    assert len(world.retrains) == 1
    assert world.retrains[0][1].startswith("schedule (every 1000 s)")
    world.labels = 2
    world.advance(900)
    assert len(world.retrains) == 1
    world.advance(200)
    assert len(world.retrains) == 2


def test_a_tick_that_raises_does_not_stop_the_loop_and_backs_off() -> None:
    world = World(settings(drift_interval_s=1.0, backoff_s=2.0, max_backoff_s=8.0), stop_after_s=60.0)
    world.raise_in_check = RuntimeError("InfluxDB is away")
    world.watcher.run()  # returns when the fake stop comes, not on the error
    # tried again and again, backing off 2, 4, 8, 8... s (at 0, 2, 6, 14, 22, ..., 54), not every second
    assert world.checks == 9
    assert world.watcher.state.failed_ticks == 9
    world.raise_in_check = None
    world.alarm = True
    world.stop_at = world.now + 30
    world.watcher.run()
    assert world.watcher.state.failed_ticks == 0
    assert len(alarms(world)) == 1


def test_a_failing_retrain_waits_for_the_cooldown_before_the_next() -> None:
    world = World(settings(min_new_labels=1, backoff_s=1.0))
    calls: list[float] = []

    def failing(why: str) -> None:
        calls.append(world.now)
        raise ValueError("training failed")

    world.watcher._retrain = failing
    world.alarm, world.labels = True, 5
    world.stop_at = world.now + 150
    world.watcher.run()
    assert len(calls) == 1  # not once per tick: the next waits for the cooldown and new labels


@pytest.mark.parametrize(
    ("pending", "since_retrain", "new", "every", "expected"),
    [
        (True, None, 3, 0.0, "drift alarm, 3 new labels"),
        (True, 50.0, 3, 0.0, None),  # within the cooldown
        (True, 150.0, 2, 0.0, None),  # too few labels
        (False, None, 30, 0.0, None),
        (False, 2000.0, 1, 1000.0, "schedule (every 1000 s), 1 new labels"),
        (False, 2000.0, 0, 1000.0, None),
    ],
)
def test_retrain_reason(
    pending: bool, since_retrain: float | None, new: int, every: float, expected: str | None
) -> None:
    from models.lifecycle.watch import WatchState

    now = 10_000.0
    state = WatchState(started_s=now - 5000, next_drift_s=now, alarm_pending=pending)
    state.last_retrain_s = None if since_retrain is None else now - since_retrain
    s = settings(retrain_every_s=every)
    assert retrain_reason(state, now, s, new) == expected
    if expected is not None:
        assert may_retrain(state, now, s)


def test_retrain_reason_waits_for_enough_assets_to_judge() -> None:
    from models.lifecycle.watch import WatchState

    now = 10_000.0
    state = WatchState(started_s=now - 5000, next_drift_s=now, alarm_pending=True)
    s = settings(min_judge_assets=3, retrain_every_s=1000.0)
    assert retrain_reason(state, now, s, 30, judge_assets=2) is None
    assert retrain_reason(state, now, s, 30, judge_assets=3) == "drift alarm, 30 new labels"
    state.alarm_pending = False
    assert retrain_reason(state, now, s, 30, judge_assets=2) is None  # the schedule waits too
    assert retrain_reason(state, now, s, 30, judge_assets=3) == "schedule (every 1000 s), 30 new labels"


def test_a_drift_alarm_waits_until_the_labels_can_judge_a_challenger_then_retrains_once() -> None:
    """Enough new labels but too few assets to hold out: no retrain (it would be refused unjudged and
    spend the labels' turn); the first tick at which the judge's share reaches the minimum retrains."""
    world = World(settings(min_new_labels=3, min_judge_assets=3))
    world.alarm = True
    world.labels = 7
    world.judge_assets = 2
    world.advance(200)
    assert world.retrains == []
    world.judge_assets = 3
    world.labels = 9
    world.advance(15)
    assert [why for _, why in world.retrains] == ["drift alarm, 9 new labels"]


@pytest.mark.parametrize(("decision", "retries"), [("refused", 2), ("promoted", 1), ("awaiting_approval", 1)])
def test_a_refused_challenger_keeps_the_drift_alarm_pending_for_the_next_labels(
    decision: str, retries: int
) -> None:
    """The changed readings may stop before the labels that judge them arrive: after a refusal the
    alarm stays pending, and the next min_new_labels labels (after the cooldown) retrain again."""
    world = World(settings(min_new_labels=3, cooldown_s=100.0))
    world.decision = decision
    world.alarm = True
    world.labels = 3
    world.advance(5)  # one check: the alarm, and a retrain on its 3 new labels
    assert len(world.retrains) == 1
    world.check = lambda now_ms: Report(alarm=True, skipped="no telemetry in the window")  # type: ignore[method-assign]
    world.watcher._check = world.check  # the fleet stopped publishing; labels keep coming
    world.labels = 5  # 2 new: not enough yet
    world.advance(150)
    assert len(world.retrains) == 1
    world.labels = 6
    world.advance(30)
    assert len(world.retrains) == retries


def test_the_tally_counts_labels_and_the_assets_a_retrain_would_judge(tmp_path: Path) -> None:
    """Every labelled asset is judged out of fold, so the watch waits for that many distinct assets."""
    from forewarn.contracts.labels import NO_FAILURE, Label, LabelSource, write_label_file
    from models.lifecycle.labels_feed import tally_labels

    seen = datetime(2026, 1, 1, tzinfo=UTC)
    labels = [
        Label(asset_id=f"pump-{i % 4}", ts=seen + timedelta(minutes=i), failure_mode=mode, source=source)
        for i in range(11)
        for mode, source in [
            ("seal_leak", LabelSource.WORK_ORDER) if i % 3 == 0 else (NO_FAILURE, LabelSource.FALSE_ALARM)
        ]
    ]
    path = tmp_path / "labels.csv"
    write_label_file(labels, path)
    assert tally_labels(path) == LabelTally(11, 4)
    # the champion was fitted on two of them: only the other two can judge it fairly
    assert tally_labels(path, frozenset({"pump-0", "pump-3", "pump-9"})) == LabelTally(11, 2)
    path.write_text(path.read_text().splitlines()[0] + "\n")  # the header only: no label yet
    assert tally_labels(path) == LabelTally(0, 0)
