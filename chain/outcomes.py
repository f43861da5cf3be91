"""How well the chain warned: simulated failures against the work orders it opened.

Pure. Time is event time throughout: a work order's warning time is the event time of the reading
that raised its alert (the alert's ``last_seen`` when it was raised), so a run replayed faster than
real time is judged like a live one. ``lead`` = failure time - warning time.

A failure is *warned in time* when a work order for its asset was raised at least ``min_lead_s``
and at most ``max_lead_s`` before it. A work order is a *false alarm* when no failure of its asset
(inside the run, or the hidden one still ahead at its end) follows within ``max_lead_s``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Failure:
    """A hidden failure from the simulator's ground truth (``censored``: still ahead when the run ended)."""

    asset_id: str
    mode: str
    onset: datetime
    at: datetime
    censored: bool = False


@dataclass(frozen=True)
class Warning:
    """A work order and the event time of the reading that raised its alert."""

    work_order_id: int
    asset_id: str
    failure_mode: str
    raised_at: datetime


@dataclass(frozen=True)
class Judged:
    """One failure inside the run and the earliest work order that warned of it (if any)."""

    failure: Failure
    warning: Warning | None
    lead_s: float | None
    in_time: bool
    mode_right: bool


@dataclass(frozen=True)
class Outcomes:
    judged: tuple[Judged, ...]
    false_alarms: tuple[Warning, ...]
    pending: tuple[Warning, ...]  # warnings of failures still ahead at the end of the run
    repeated: tuple[Warning, ...] = ()  # second and later work orders for one failure

    @property
    def failures(self) -> int:
        return len(self.judged)

    @property
    def warned_in_time(self) -> int:
        return sum(j.in_time for j in self.judged)

    def summary(self) -> dict[str, object]:
        leads = sorted(j.lead_s for j in self.judged if j.lead_s is not None)
        warned = [j for j in self.judged if j.warning is not None]
        return {
            "failures": self.failures,
            "warned": len(warned),
            "warned_in_time": self.warned_in_time,
            "missed": self.failures - len(warned),
            "mode_right": sum(j.mode_right for j in warned),
            "lead_s_min": leads[0] if leads else None,
            "lead_s_median": leads[len(leads) // 2] if leads else None,
            "false_alarms": len(self.false_alarms),
            "repeat_work_orders": len(self.repeated),
            "warnings_of_failures_ahead": len(self.pending),
        }


def judge(failures: list[Failure], warnings: list[Warning], min_lead_s: float, max_lead_s: float) -> Outcomes:
    """Match every warning to the failure of its asset that follows it, and judge each failure.

    Args:
        failures: every failure of the run, the censored ones (still ahead at the end) included.
        warnings: every work order with the event time that raised it.
        min_lead_s: the least warning that counts as in time (the model's horizon, say).
        max_lead_s: the most: an earlier work order warned of nothing.
    """
    by_asset: dict[str, list[Failure]] = {}
    for failure in sorted(failures, key=lambda f: f.at):
        by_asset.setdefault(failure.asset_id, []).append(failure)
    matched: dict[Failure, list[Warning]] = {}
    false_alarms: list[Warning] = []
    for warning in sorted(warnings, key=lambda w: w.raised_at):
        ahead = [f for f in by_asset.get(warning.asset_id, []) if f.at >= warning.raised_at]
        target = ahead[0] if ahead else None
        if target is None or (target.at - warning.raised_at).total_seconds() > max_lead_s:
            false_alarms.append(warning)
        else:
            matched.setdefault(target, []).append(warning)
    judged: list[Judged] = []
    pending: list[Warning] = []
    repeated = [w for ws in matched.values() for w in ws[1:]]
    for failure in sorted(failures, key=lambda f: (f.at, f.asset_id)):
        first = matched.get(failure, [None])[0]
        if failure.censored:
            pending.extend(matched.get(failure, []))
            continue
        lead = None if first is None else (failure.at - first.raised_at).total_seconds()
        judged.append(
            Judged(
                failure=failure,
                warning=first,
                lead_s=lead,
                in_time=lead is not None and lead >= min_lead_s,
                mode_right=first is not None and first.failure_mode == failure.mode,
            )
        )
    return Outcomes(tuple(judged), tuple(false_alarms), tuple(pending), tuple(repeated))
