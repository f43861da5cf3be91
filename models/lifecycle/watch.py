"""``forewarn models watch``: drift checks, drift alarms and retraining, as a long-running service.

Every ``drift_interval_s`` the drift check runs (:func:`models.drift_job.check_drift`). An alarm is
one ``drift_alarm`` event per ``cooldown_s`` however long the drift lasts; it stays *pending* until
a check finds no drift or a retrain runs. A retrain starts when

- (drift) an alarm is pending, at least ``min_new_labels`` labels arrived since the last retrain,
  and ``cooldown_s`` passed since that retrain; or
- (schedule) ``retrain_every_s`` (0 = off) passed since the last retrain (or the start), and at
  least one label arrived since: the same labels would only build the same challenger again.

and in both cases only once the labelled assets are enough to judge a challenger (the judge's share
of them reaches ``min_judge_assets``): a challenger that cannot be judged is refused, so building one
spends the labels' turn for nothing (a closed-loop run saw exactly that: the first drift retrain came
with 7 labels, none held out to judge, was refused, and too few labels came after it for another).
"Since the last retrain", not "since the alarm": labels the last challenger already saw cannot
teach the next one anything, while faults confirmed while the drift was building up (before the
sliding window crossed the threshold) are exactly what the new challenger needs; and work orders
take hours to close, so counting only labels after the alarm would hold a retrain back for no
gain. Before this service's first retrain, the baseline is the champion's own label count (its run's
``labels`` parameter: 0 for a champion trained on a fleet or C-MAPSS).

No tick can stop the service: an exception is logged and the loop backs off (``backoff_s``,
doubling to ``max_backoff_s``) and goes on. The state is a handful of numbers (bounded memory);
the clock and the waiting are injected (tests drive a fake clock). :class:`Watcher` only decides and
calls; the checks, label counts, retrains and event writes are the callables it is given.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from models.events import ModelAction, ModelEvent
from models.lifecycle.settings import LifecycleSettings

log = logging.getLogger(__name__)

MAX_WAIT_S = 5.0
"""The longest the loop sleeps at once (a stop is seen at once anyway: the wait is the stop event's)."""


@dataclass(frozen=True)
class LabelTally:
    """What the label store holds now: its labels, and how many assets a retrain could judge on."""

    labels: int
    judge_assets: int


@dataclass
class WatchState:
    """What the service remembers between ticks (a few numbers, however long it runs)."""

    started_s: float
    next_drift_s: float
    last_alarm_s: float | None = None
    alarm_pending: bool = False
    last_retrain_s: float | None = None
    labels_at_retrain: int | None = None  # None: the champion's own count is the baseline
    failed_ticks: int = 0


def drift_numbers(report: Any) -> dict[str, float]:
    """The alarm's numbers from the report's worst feature (psi, mean shift, rows), where it has them."""
    worst = getattr(report, "worst", None)
    if worst is None:
        return {}
    out = {}
    for name, field in (("psi", "psi"), ("mean_shift_sd", "mean_shift_sd"), ("drift_rows", "rows")):
        value = getattr(worst, field, None)
        if isinstance(value, int | float) and math.isfinite(float(value)):
            out[name] = float(value)
    return out


def retrain_reason(
    state: WatchState,
    now_s: float,
    settings: LifecycleSettings,
    new_labels: int | None,
    judge_assets: int | None = None,
) -> str | None:
    """Why a retrain is due now ("drift alarm", "schedule"), or None. ``new_labels`` None: unknown yet
    (the caller asks :func:`may_retrain` first and counts labels only when one could be due);
    ``judge_assets`` below ``min_judge_assets``: none is due, whatever else holds."""
    if judge_assets is not None and judge_assets < settings.min_judge_assets:
        return None
    since = now_s - (state.last_retrain_s if state.last_retrain_s is not None else -math.inf)
    enough = new_labels is not None and new_labels >= settings.min_new_labels
    if state.alarm_pending and since >= settings.cooldown_s and enough:
        return f"drift alarm, {new_labels} new labels"
    if settings.retrain_every_s > 0:
        last = state.last_retrain_s if state.last_retrain_s is not None else state.started_s
        if now_s - last >= settings.retrain_every_s and new_labels is not None and new_labels > 0:
            return f"schedule (every {settings.retrain_every_s:g} s), {new_labels} new labels"
    return None


def replaced(outcome: Any) -> bool:
    """Whether a retrain's outcome put a challenger in the champion's place or on its way there (a
    promotion, or one waiting for an engineer's approval); a refusal or a failure did not."""
    decision = outcome.get("decision") if isinstance(outcome, dict) else None
    return decision is not None and decision != "refused"


def may_retrain(state: WatchState, now_s: float, settings: LifecycleSettings) -> bool:
    """Whether a retrain could be due now, before the labels are counted (which costs an export)."""
    since = now_s - (state.last_retrain_s if state.last_retrain_s is not None else -math.inf)
    drift = state.alarm_pending and since >= settings.cooldown_s
    last = state.last_retrain_s if state.last_retrain_s is not None else state.started_s
    scheduled = settings.retrain_every_s > 0 and now_s - last >= settings.retrain_every_s
    return drift or scheduled


class Watcher:
    """The watch loop's decisions, over injected checks and actions.

    Args:
        name: the registered model.
        settings: the lifecycle settings.
        check: ``check(now_ms)`` → a drift report (``alarm``, ``skipped``, ``model_version``,
            ``note()``, ``worst``).
        count_labels: the label store now (:class:`LabelTally`).
        champion_labels: labels the champion was trained on.
        retrain: ``retrain(why)`` runs one retrain (its result is logged).
        record: writes a model event.
        clock: seconds since the epoch.
        wait: ``wait(seconds)`` sleeps and returns True when the service must stop.
    """

    def __init__(
        self,
        name: str,
        settings: LifecycleSettings,
        check: Callable[[int], Any],
        count_labels: Callable[[], LabelTally],
        champion_labels: Callable[[], int],
        retrain: Callable[[str], Any],
        record: Callable[[ModelEvent], Any],
        clock: Callable[[], float],
        wait: Callable[[float], bool],
    ) -> None:
        self.name = name
        self.settings = settings
        self._check, self._count, self._seen = check, count_labels, champion_labels
        self._retrain, self._record, self._clock, self._wait = retrain, record, clock, wait
        now = clock()
        self.state = WatchState(started_s=now, next_drift_s=now)

    def tick(self) -> None:
        """One pass when a drift check is due: the check, then a retrain if one is due."""
        now = self._clock()
        state, settings = self.state, self.settings
        if now < state.next_drift_s:
            return
        state.next_drift_s = now + settings.drift_interval_s
        self._drift(now)
        # a retrain is considered at the drift checks' pace: counting labels runs the store's export
        if may_retrain(state, now, settings):
            tally = self._count()
            count = tally.labels
            baseline = state.labels_at_retrain if state.labels_at_retrain is not None else self._seen()
            reason = retrain_reason(state, now, settings, count - baseline, tally.judge_assets)
            if reason is None:
                if tally.judge_assets < settings.min_judge_assets:
                    log.info("no retrain of %s yet: %d labels, %d assets the champion was not fitted on"
                             " to judge it, fewer than FOREWARN_LIFECYCLE_MIN_JUDGE_ASSETS=%d",
                             self.name, count, tally.judge_assets, settings.min_judge_assets)  # fmt: skip
                return
            # before the retrain: one that fails waits for the cooldown (or the schedule) like one that ran
            state.last_retrain_s, state.labels_at_retrain, state.alarm_pending = now, count, False
            log.info("retraining %s: %s", self.name, reason)
            outcome = self._retrain(reason)
            log.info("retrain of %s done: %s", self.name, outcome)
            if reason.startswith("drift") and not replaced(outcome):
                # the champion the drift was seen against still scores: the alarm stays pending, so the
                # next min_new_labels labels (after the cooldown) get another try, even once the
                # changed telemetry has stopped (a fleet whose labels arrive after its readings)
                state.alarm_pending = True

    def _drift(self, now: float) -> None:
        report = self._check(int(now * 1000))
        skipped = getattr(report, "skipped", None)
        if skipped:
            log.info("drift check of %s skipped: %s", self.name, skipped)
            return
        if not report.alarm:
            if self.state.alarm_pending:
                log.info("drift of %s is gone: no retrain pending for it", self.name)
            self.state.alarm_pending = False
            return
        self.state.alarm_pending = True
        last = self.state.last_alarm_s
        if last is not None and now - last < self.settings.cooldown_s:
            return  # the same drift goes on: one alarm event per cooldown
        self.state.last_alarm_s = now
        at = datetime.fromtimestamp(now, tz=UTC)
        version = str(getattr(report, "model_version", "") or "")
        self._record(
            ModelEvent(self.name, version, ModelAction.DRIFT_ALARM, report.note(), at, drift_numbers(report))
        )

    def run(self) -> None:
        """Tick until told to stop; a failing tick is logged and followed by a growing back-off."""
        settings = self.settings
        backoff = settings.backoff_s
        while True:
            try:
                self.tick()
                self.state.failed_ticks = 0
                backoff = settings.backoff_s
                pause = min(max(self.state.next_drift_s - self._clock(), 0.0), MAX_WAIT_S)
            except Exception:  # a tick must never end the service: say what failed and go on
                self.state.failed_ticks += 1
                log.exception("watch tick %d failed; next try in %.0f s", self.state.failed_ticks, backoff)
                pause = backoff
                backoff = min(backoff * 2, settings.max_backoff_s)
            if self._wait(pause):
                log.info("watch of %s stopped", self.name)
                return
