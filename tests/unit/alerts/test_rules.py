"""Table tests of the alert rules, driven by event time and an explicit processing time."""

from __future__ import annotations

import pytest

from alerts.config import MOfN, RuleConfig, Tier
from alerts.rules import IgnoreReason, evaluate, severity_for, tick
from alerts.state import STALE_FAILURE_MODE, acknowledge, snooze
from forewarn.contracts.alert import AlertState, ChangeKind, Severity
from tests.unit.alerts.helpers import at, risk, run, series

RULES = RuleConfig(
    open_threshold=0.8,
    clear_threshold=0.5,
    persistence_s=120,
    clear_s=180,
    cooldown_s=600,
    stale_after_s=900,
    ack_timeout_s=300,
    repeat_s=600,
    tiers=(Tier(name="on-call"), Tier(name="supervisor"), Tier(name="manager")),
)


def kinds(changes: list) -> list[ChangeKind]:  # type: ignore[type-arg]
    return [c.kind for c in changes]


@pytest.mark.parametrize(
    ("values", "raised"),
    [
        # one minute apart: 0.9 needs 120 s of persistence → third reading (t=120) raises
        ([0.9, 0.9], False),
        ([0.9, 0.9, 0.9], True),
        # a dip below the open threshold restarts persistence
        ([0.9, 0.9, 0.7, 0.9, 0.9], False),
        ([0.9, 0.9, 0.7, 0.9, 0.9, 0.9], True),
        # exactly at the threshold counts as above
        ([0.8, 0.8, 0.8], True),
        ([0.79, 0.79, 0.79, 0.79], False),
    ],
)
def test_persistence(values: list[float], raised: bool) -> None:
    _, changes = run(series(values), RULES)
    assert (ChangeKind.RAISED in kinds(changes)) is raised


def test_raise_first_seen_is_start_of_run_and_severity_from_band() -> None:
    state, changes = run(series([0.3, 0.96, 0.96, 0.96]), RULES)
    (raised,) = changes
    assert raised.kind is ChangeKind.RAISED
    assert raised.alert.first_seen == at(60)
    assert raised.alert.last_seen == at(180)
    assert raised.alert.severity is Severity.CRITICAL
    assert raised.alert.state is AlertState.ACTIVE
    assert state.alerts[("pump-1", "bearing")].occurrence_count == 1


@pytest.mark.parametrize(
    ("values", "raised"),
    [
        ([0.9, 0.1, 0.9, 0.1, 0.9], True),  # 3 of 5 though never persistent
        ([0.9, 0.1, 0.9, 0.1, 0.1], False),
        ([0.9, 0.1, 0.1, 0.1, 0.9, 0.1, 0.9], False),  # only 2 within any 5
    ],
)
def test_m_of_n(values: list[float], raised: bool) -> None:
    rules = RULES.model_copy(update=dict(m_of_n=MOfN(m=3, n=5), persistence_s=10_000))
    _, changes = run(series(values), rules)
    assert (ChangeKind.RAISED in kinds(changes)) is raised


def test_rul_limit_raises_even_with_low_risk() -> None:
    rules = RULES.model_copy(update=dict(rul_limit_cycles=15))
    _, changes = run([risk(0, 0.2, rul=40), risk(60, 0.2, rul=14)], rules)
    assert kinds(changes) == [ChangeKind.RAISED]
    assert changes[0].alert.trigger_rul_cycles == 14


def test_flapping_around_open_threshold_raises_once_and_stays_open() -> None:
    values = [0.9, 0.9, 0.9] + [0.79, 0.81] * 20  # never below the clear threshold
    state, changes = run(series(values), RULES)
    assert kinds(changes).count(ChangeKind.RAISED) == 1
    assert ChangeKind.CLEARED not in kinds(changes)
    alert = state.alerts[("pump-1", "bearing")]
    assert alert.state is AlertState.ACTIVE
    assert alert.occurrence_count == 21  # the first run plus 20 re-crossings
    assert alert.last_seen == at(60 * (len(values) - 1))


@pytest.mark.parametrize(
    ("tail", "cleared"),
    [
        ([0.4, 0.4, 0.4], False),  # only 120 s below clear
        ([0.4, 0.4, 0.4, 0.4], True),  # 180 s below clear
        ([0.6] * 10, False),  # between thresholds: stays open forever
        ([0.4, 0.4, 0.6, 0.4, 0.4, 0.4], False),  # leaving the clear band restarts the clear time
        ([0.4, 0.4, 0.6, 0.4, 0.4, 0.4, 0.4], True),
        ([0.5, 0.5, 0.5, 0.5], True),  # exactly at the clear threshold counts
    ],
)
def test_clear_needs_clear_band_and_time(tail: list[float], cleared: bool) -> None:
    state, changes = run(series([0.9, 0.9, 0.9, *tail]), RULES)
    assert (ChangeKind.CLEARED in kinds(changes)) is cleared
    assert (("pump-1", "bearing") in state.alerts) is not cleared


def test_cooldown_blocks_new_alert_then_allows_it() -> None:
    rules = RULES.model_copy(update=dict(cooldown_s=600))
    state, changes = run(series([0.9, 0.9, 0.9, 0.4, 0.4, 0.4, 0.4]), rules)  # cleared at t=360
    assert kinds(changes) == [ChangeKind.RAISED, ChangeKind.CLEARED]
    state, again = run(series([0.9, 0.9, 0.9, 0.9], start_s=420), rules, state)  # t=420..600 < 960
    assert again == []
    state, later = run(series([0.9, 0.9, 0.9], start_s=960), rules, state)
    assert kinds(later) == [ChangeKind.RAISED]
    assert later[0].alert.alert_id != changes[0].alert.alert_id


def test_one_open_alert_per_asset_and_failure_mode() -> None:
    records = (
        series([0.9] * 4, mode="bearing")
        + series([0.9] * 4, mode="seal", start_s=1)
        + series([0.9] * 4, asset="pump-2", start_s=2)
    )
    state, changes = run(sorted(records, key=lambda r: r.event_ts), RULES)
    assert kinds(changes) == [ChangeKind.RAISED] * 3
    assert set(state.alerts) == {("pump-1", "bearing"), ("pump-1", "seal"), ("pump-2", "bearing")}


def test_duplicate_and_out_of_order_records_are_ignored_with_reason() -> None:
    state, _ = run(series([0.9, 0.9]), RULES)
    dup = evaluate(state, risk(60, 0.9), at(61), RULES)
    assert dup.ignored is IgnoreReason.DUPLICATE
    assert dup.state is state
    late = evaluate(state, risk(30, 0.99), at(61), RULES)
    assert late.ignored is IgnoreReason.OUT_OF_ORDER
    assert late.changes == ()


def test_replaying_the_same_stream_twice_changes_nothing() -> None:
    records = series([0.9, 0.9, 0.9, 0.85, 0.9])
    state, _first = run(records, RULES)
    again, second = run(records, RULES, state)
    assert second == []
    assert again == state


def test_severity_upgrades_while_open_but_never_downgrades() -> None:
    state, changes = run(series([0.82, 0.82, 0.82, 0.97, 0.82]), RULES)
    assert kinds(changes) == [ChangeKind.RAISED, ChangeKind.SEVERITY_CHANGED]
    assert changes[0].alert.severity is Severity.WARNING
    assert state.alerts[("pump-1", "bearing")].severity is Severity.CRITICAL


@pytest.mark.parametrize(
    ("risk_value", "rul", "expected"),
    [
        (0.99, None, Severity.CRITICAL),
        (0.92, None, Severity.MAJOR),
        (0.86, None, Severity.MINOR),
        (0.81, None, Severity.WARNING),
        (0.81, 8.0, Severity.CRITICAL),
        (0.81, 20.0, Severity.MAJOR),
    ],
)
def test_severity_bands(risk_value: float, rul: float | None, expected: Severity) -> None:
    assert severity_for(risk_value, rul, RULES) is expected


def test_stale_asset_alert_raised_after_silence_and_cleared_on_report() -> None:
    state, _ = run(series([0.2, 0.2]), RULES)  # last seen at t=60
    state, changes = tick(state, at(60 + 899), RULES)
    assert changes == ()
    state, changes = tick(state, at(60 + 900), RULES)
    assert kinds(list(changes)) == [ChangeKind.RAISED]
    stale = changes[0].alert
    assert stale.failure_mode == STALE_FAILURE_MODE
    assert stale.severity is RULES.stale_severity
    state, again = tick(state, at(60 + 2000), RULES)
    assert [c.kind for c in again if c.alert.failure_mode == STALE_FAILURE_MODE] != [ChangeKind.RAISED]
    result = evaluate(state, risk(3000, 0.2), at(3000), RULES)
    assert [(c.kind, c.alert.failure_mode) for c in result.changes] == [
        (ChangeKind.CLEARED, STALE_FAILURE_MODE)
    ]
    assert ("pump-1", STALE_FAILURE_MODE) not in result.state.alerts


def test_escalation_tiers_then_repeat_at_last_tier() -> None:
    state, _changes = run(series([0.9, 0.9, 0.9]), RULES)  # raised at t=120
    raised_at = 120
    timeline = []
    for t in range(raised_at, raised_at + 3000, 30):
        state, ch = tick(state, at(t), RULES)
        timeline += [
            (t - raised_at, c.tier)
            for c in ch
            if c.kind is ChangeKind.ESCALATED and c.alert.failure_mode == "bearing"
        ]
    # tier 1 after 300 s, tier 2 after another 300 s, then the last tier repeats every 600 s
    assert timeline == [
        (300, "supervisor"),
        (600, "manager"),
        (1200, "manager"),
        (1800, "manager"),
        (2400, "manager"),
    ]


def test_acknowledged_alert_does_not_escalate() -> None:
    state, _ = run(series([0.9, 0.9, 0.9]), RULES)
    alert = state.alerts[("pump-1", "bearing")]
    change = acknowledge(alert, "ana", "crew informed", at(200))
    assert not isinstance(change, str)
    assert change.alert.state is AlertState.ACKNOWLEDGED
    assert change.alert.acknowledged_by == "ana"
    state = state.with_alert(change.alert)
    state, changes = tick(state, at(5000), RULES)
    assert [c for c in changes if c.kind is ChangeKind.ESCALATED] == []


def test_snooze_suppresses_escalation_until_it_wakes() -> None:
    state, _ = run(series([0.9, 0.9, 0.9]), RULES)
    alert = state.alerts[("pump-1", "bearing")]
    change = snooze(alert, at(2000), at(130))
    assert not isinstance(change, str)
    state = state.with_alert(change.alert)
    state, changes = tick(state, at(1999), RULES)
    assert [c for c in changes if c.alert.failure_mode == "bearing"] == []
    state, changes = tick(state, at(2000), RULES)
    assert [c.kind for c in changes if c.alert.failure_mode == "bearing"] == [ChangeKind.UNSNOOZED]
    assert state.alerts[("pump-1", "bearing")].state is AlertState.ACTIVE
    state, changes = tick(state, at(2300), RULES)
    assert [c.kind for c in changes if c.alert.failure_mode == "bearing"] == [ChangeKind.ESCALATED]


def test_actions_on_cleared_alert_and_snooze_in_past_are_refused() -> None:
    _, changes = run(series([0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.1]), RULES)
    cleared = changes[-1].alert
    assert acknowledge(cleared, "ana", "", at(999)) == "already_cleared"
    open_alert = changes[0].alert
    assert snooze(open_alert, at(100), at(200)) == "snooze_in_past"


def test_clear_resets_state_so_next_incident_needs_full_persistence() -> None:
    rules = RULES.model_copy(update=dict(cooldown_s=0))
    state, changes = run(series([0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.9, 0.9]), rules)
    assert kinds(changes) == [ChangeKind.RAISED, ChangeKind.CLEARED]
    _, more = run([risk(600, 0.9)], rules, state)
    assert kinds(more) == [ChangeKind.RAISED]
