"""From a prediction to the time a repair must start: the *latest safe start*.

At alert time the model said the asset has ``rul`` steps left (the risk contract's ``rul_cycles``).
A step is whatever one reading of the model's source stands for (``models.units``): a flight cycle
for C-MAPSS, one reading interval for a fleet (the demo's: a simulated minute). So::

    predicted failure  = alert raised_at + rul x step_s
    latest safe start  = predicted failure - repair duration - safety margin

``step_s`` is the length of one step *in the store's clock* (the clock ``raised_at``, ``now`` and the
SLA run on): the model version's registry tag ``forewarn.step_s`` when it is read, else the setting
``FOREWARN_PLAN_RUL_STEP_S``. Both are seconds; nothing here converts cycles to hours by guesswork.
``raised_at`` is processing time, which is event time up to the pipeline's lag (seconds) in
production; an accelerated simulation (the demo at 60x) runs its readings faster than the store's
clock, which is why the step length is a setting and not only the registry's simulated seconds.

Without an RUL (a risk-only alert, or a work order opened by hand) there is no latest safe start:
the job is then judged by its SLA due time alone.
"""

from __future__ import annotations

from datetime import datetime, timedelta


def predicted_failure_at(raised_at: datetime, rul_steps: float | None, step_s: float) -> datetime | None:
    """When the prediction at alert time put the failure; None without an RUL."""
    if rul_steps is None or rul_steps != rul_steps:  # None or NaN: no prediction of when
        return None
    return raised_at + timedelta(seconds=max(rul_steps, 0.0) * step_s)


def latest_safe_start(
    raised_at: datetime, rul_steps: float | None, step_s: float, duration_min: int, margin_min: int
) -> datetime | None:
    """The latest start that finishes the repair a safety margin before the predicted failure."""
    failure = predicted_failure_at(raised_at, rul_steps, step_s)
    if failure is None:
        return None
    return failure - timedelta(minutes=duration_min + margin_min)
