"""Judging work orders against the simulated failures: lead, misses, false alarms, failures ahead."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chain.outcomes import Failure, Warning, judge

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def _at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def _failure(asset: str, minute: float, mode: str = "bearing_wear", censored: bool = False) -> Failure:
    return Failure(asset, mode, onset=_at(minute - 60), at=_at(minute), censored=censored)


def _warning(wid: int, asset: str, minute: float, mode: str = "bearing_wear") -> Warning:
    return Warning(wid, asset, mode, _at(minute))


def test_early_enough_late_and_missed() -> None:
    failures = [_failure("a", 100), _failure("b", 100), _failure("c", 100)]
    warnings = [_warning(1, "a", 60), _warning(2, "b", 95)]
    verdict = judge(failures, warnings, min_lead_s=10 * 60, max_lead_s=120 * 60)
    by_asset = {j.failure.asset_id: j for j in verdict.judged}
    assert by_asset["a"].in_time
    assert by_asset["a"].lead_s == 40 * 60
    assert not by_asset["b"].in_time
    assert by_asset["b"].lead_s == 5 * 60
    assert by_asset["c"].warning is None
    assert verdict.summary()["missed"] == 1
    assert verdict.warned_in_time == 1


def test_a_warning_with_no_failure_close_behind_is_a_false_alarm() -> None:
    failures = [_failure("a", 300)]
    warnings = [_warning(1, "a", 10), _warning(2, "z", 10)]  # far too early; an asset that never fails
    verdict = judge(failures, warnings, min_lead_s=600, max_lead_s=120 * 60)
    assert {w.work_order_id for w in verdict.false_alarms} == {1, 2}
    assert verdict.judged[0].warning is None


def test_a_warning_after_a_failure_belongs_to_the_next_life() -> None:
    failures = [_failure("a", 100), _failure("a", 250)]
    warnings = [_warning(1, "a", 90), _warning(2, "a", 200)]
    verdict = judge(failures, warnings, min_lead_s=600, max_lead_s=120 * 60)
    assert [j.warning.work_order_id if j.warning else None for j in verdict.judged] == [1, 2]
    assert not verdict.false_alarms
    assert not verdict.repeated


def test_a_second_work_order_for_one_failure_is_a_repeat() -> None:
    verdict = judge(
        [_failure("a", 100)], [_warning(1, "a", 50), _warning(2, "a", 70, "seal_leak")], 600, 7200
    )
    assert [w.work_order_id for w in verdict.repeated] == [2]
    assert verdict.summary()["repeat_work_orders"] == 1


def test_warnings_of_failures_still_ahead_are_neither_judged_nor_false() -> None:
    failures = [_failure("a", 500, censored=True)]
    verdict = judge(failures, [_warning(1, "a", 450)], min_lead_s=600, max_lead_s=120 * 60)
    assert verdict.failures == 0
    assert [w.work_order_id for w in verdict.pending] == [1]
    assert not verdict.false_alarms


def test_the_failure_mode_is_checked() -> None:
    failures = [_failure("a", 100, mode="cavitation")]
    verdict = judge(failures, [_warning(1, "a", 50, mode="seal_leak")], min_lead_s=600, max_lead_s=7200)
    assert verdict.judged[0].in_time
    assert not verdict.judged[0].mode_right
