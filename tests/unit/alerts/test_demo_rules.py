"""The demo rules (alerts/rules.demo.toml): pumps report once a simulated minute, risk horizon 50 readings.

Risk >= 0.5 in 3 of 5 readings, or held for 2 minutes, raises; so does a predicted RUL of 45
readings or less; every raised risk alert is MINOR or worse and opens a work order.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from alerts.config import load_rules
from forewarn.contracts.alert import ChangeKind, Severity
from tests.unit.alerts.helpers import run, series

DEMO = Path(__file__).resolve().parents[3] / "alerts" / "rules.demo.toml"


def test_two_high_readings_in_five_do_not_raise() -> None:
    _, changes = run(series([0.2, 0.55, 0.3, 0.8, 0.2, 0.1]), load_rules(DEMO))
    assert changes == []


@pytest.mark.parametrize(
    ("profile", "severity"),
    [
        ([0.52, 0.2, 0.55, 0.51], Severity.MINOR),
        ([0.82, 0.83, 0.85], Severity.MAJOR),
        ([0.99] * 3, Severity.CRITICAL),
    ],
)
def test_three_of_five_high_raise_once_with_a_work_order_severity(
    profile: list[float], severity: Severity
) -> None:
    rules = load_rules(DEMO)
    _, changes = run(series(profile), rules)
    assert [c.kind for c in changes] == [ChangeKind.RAISED]
    assert changes[0].alert.severity is severity
    assert severity.rank <= rules.work_order_min_severity.rank  # opens a work order


def test_a_short_predicted_life_raises_before_the_risk_is_high() -> None:
    _, changes = run(series([0.3, 0.35, 0.4], rul=44.0), load_rules(DEMO))
    assert [c.kind for c in changes] == [ChangeKind.RAISED]


def test_a_wavering_diagnosis_raises_one_alert_per_asset() -> None:
    records = [
        *series([0.8, 0.85, 0.9], mode="bearing_wear"),
        *series([0.92, 0.95, 0.96], start_s=180, mode="cavitation"),
    ]
    rules = load_rules(DEMO)
    state, changes = run(records, rules)
    raised = [c for c in changes if c.kind is ChangeKind.RAISED]
    assert [c.alert.failure_mode for c in raised] == ["bearing_wear"]
    assert state.alerts[("pump-1", "bearing_wear")].last_seen == records[-1].event_ts
    # without the option every diagnosis gets its own alert (and crew)
    _, apart = run(records, rules.model_copy(update={"one_alert_per_asset": False}))
    assert [c.alert.failure_mode for c in apart if c.kind is ChangeKind.RAISED] == [
        "bearing_wear",
        "cavitation",
    ]


def test_after_the_alert_clears_a_new_diagnosis_raises_its_own() -> None:
    rules = load_rules(DEMO)
    high, low = [0.9] * 3, [0.1] * 12  # 12 min below the clear threshold: cleared
    records = [
        *series(high, mode="bearing_wear"),
        *series(low, start_s=180, mode="bearing_wear"),
        *series(high, start_s=180 + 720 + rules.cooldown_s, mode="seal_leak"),
    ]
    _, changes = run(records, rules)
    kinds = [(c.kind, c.alert.failure_mode) for c in changes]
    assert kinds == [
        (ChangeKind.RAISED, "bearing_wear"),
        (ChangeKind.CLEARED, "bearing_wear"),
        (ChangeKind.RAISED, "seal_leak"),
    ]
