"""The closed loop's pure parts: the crews' truth is the simulator's, and before/after are judged alike."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import orjson

from alerts.api.schemas import CompleteIn
from chain.closed_loop import Truth, Visit, crew_report, figures, fleet_config, fleet_truth, visit
from chain.outcomes import Failure, Warning, judge
from chain.settings import DemoSettings
from ingest.fleet import FleetChange
from ingest.messages import FaultRates
from ingest.simulate import SimulationRun

START = datetime(2026, 12, 2, 12, tzinfo=UTC)


def test_the_crews_truth_is_the_simulators_truth() -> None:
    demo = DemoSettings(assets=8, steps=150, interval_s=1.0, failing_share=0.8)
    config = fleet_config(demo, START, "pump", FleetChange.parse("site-2@50:duty_point"))
    run = SimulationRun(config, 1, FaultRates(0.0, 0.0, 0.0))
    for _ in run.messages():
        pass
    out = io.BytesIO()
    run.write_truth(out)
    published: dict[str, list[tuple[int, str]]] = {}
    for line in out.getvalue().splitlines():
        event = orjson.loads(line)
        if event.get("event") in ("failure", "censored"):
            published.setdefault(event["asset_id"], []).append((event["failure_ts"], event["mode"]))
    truth = fleet_truth(config)
    assert truth.failures == {a: sorted(f) for a, f in published.items()}
    assert set(truth.site_of.values()) == {"site-1", "site-2"}


def test_a_crew_closes_a_false_alarm_at_once_and_confirms_a_fault_when_the_pump_fails() -> None:
    truth = Truth({"p1": [(10_000, "seal_leak"), (90_000, "cavitation")]}, {"p1": "site-1"})
    reach = {"before_ms": 1_000, "ahead_ms": 5_000}
    assert visit(truth, "p1", 8_000, **reach) == (Visit.LATER, None)  # fails within reach: come back then
    assert visit(truth, "p1", 10_000, **reach) == (Visit.FAULT_FOUND, (10_000, "seal_leak"))
    assert visit(truth, "p1", 10_900, **reach) == (Visit.FAULT_FOUND, (10_000, "seal_leak"))  # just failed
    assert visit(truth, "p1", 20_000, **reach) == (Visit.NOTHING_FOUND, None)  # next failure far ahead
    assert visit(truth, "p1", 95_000, **reach) == (Visit.NOTHING_FOUND, None)  # the last one long gone
    assert visit(truth, "p2", 10_000, **reach) == (Visit.NOTHING_FOUND, None)


def test_a_late_crew_finds_the_failure_the_alert_warned_of_at_its_time() -> None:
    truth = Truth({"p1": [(10_000, "seal_leak"), (90_000, "cavitation")]}, {"p1": "site-1"})
    reach = {"before_ms": 1_000, "ahead_ms": 5_000}
    # the alert's reading came at 7 s, the pump failed at 10 s, the crew comes at 20 s: it finds the
    # replacement pump, but the failure it was sent for is on record, at its time
    assert visit(truth, "p1", 20_000, **reach, warned_from_ms=7_000) == (
        Visit.FAULT_FOUND,
        (10_000, "seal_leak"),
    )
    # a failure before the alert's reading (beyond the crew's own reach) is not the one it warned of
    assert visit(truth, "p1", 20_000, **reach, warned_from_ms=12_000) == (Visit.NOTHING_FOUND, None)
    # the warned failure still ahead within reach: come back then
    assert visit(truth, "p1", 88_000, **reach, warned_from_ms=80_000) == (Visit.LATER, None)


def test_a_crew_reports_the_failure_time_and_mode_and_uses_the_kit() -> None:
    order = {"parts": [{"sku": "SEAL-40", "reserved_qty": 1}, {"sku": "BRG-6205", "reserved_qty": 0}]}
    found = crew_report(order, (int(START.timestamp() * 1000) + 1_500, "seal_leak"))
    assert found["fault_found"] is True
    assert (found["failure_code"], found["parts_used"]) == ("seal_leak", {"SEAL-40": 1})
    assert datetime.fromisoformat(found["failed_at"]) == START + timedelta(seconds=1.5)
    sound = crew_report(order, None)
    assert sound["fault_found"] is False
    assert "failed_at" not in sound
    assert not sound.get("parts_used")
    CompleteIn.model_validate(found)  # both are bodies the API accepts
    CompleteIn.model_validate(sound)


def test_figures_count_one_site_from_a_moment_on() -> None:
    t = START
    failures = [
        Failure("a", "m", t, t + timedelta(minutes=30)),  # site-2, after the change, warned in time
        Failure("b", "m", t, t + timedelta(minutes=40)),  # site-2, after the change, missed
        Failure("c", "m", t, t + timedelta(minutes=5)),  # site-2, before the change
        Failure("d", "m", t, t + timedelta(minutes=30)),  # site-1
    ]
    warnings = [
        Warning(1, "a", "m", t + timedelta(minutes=20)),
        Warning(2, "e", "m", t + timedelta(minutes=25)),  # site-2, no failure: a false alarm
        Warning(3, "e", "m", t + timedelta(minutes=1)),  # site-2, false alarm before the change
    ]
    outcomes = judge(failures, warnings, min_lead_s=300, max_lead_s=3600)
    site_of = {"a": "site-2", "b": "site-2", "c": "site-2", "d": "site-1", "e": "site-2"}
    after = figures(outcomes, site_of, "site-2", t + timedelta(minutes=10))
    assert after == {
        "failures": 2,
        "warned_in_time": 1,
        "missed": 1,
        "missed_rate": 0.5,
        "false_alarms": 1,
        "work_orders_judged": 2,
        "false_alarm_rate": 0.5,
    }
    whole = figures(outcomes, site_of, "site-2", None)
    assert (whole["failures"], whole["false_alarms"]) == (3, 2)
    assert figures(outcomes, site_of, "site-3", None)["missed_rate"] is None
