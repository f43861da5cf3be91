"""The demo's crews (``FleetRun.play_crews``): what they report from the simulator's truth."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from alerts.api.schemas import CompleteIn
from alerts.store.tables import WorkOrderRow
from alerts.workorders.service import Outcome, failure_time
from chain.fleetrun import crew_outcome
from chain.outcomes import Failure

OPENED = datetime(2026, 12, 2, 12, tzinfo=UTC)
NOW = OPENED + timedelta(hours=6)  # the crew completes
ORDER = {
    "created_at": OPENED.isoformat(),
    "parts": [{"sku": "SEAL-40", "reserved_qty": 1}, {"sku": "BRG-6205", "reserved_qty": 0}],
}


def failure(hours: float, mode: str = "seal_leak", *, censored: bool = False) -> Failure:
    at = OPENED + timedelta(hours=hours)
    return Failure("p1", mode, onset=at - timedelta(hours=2), at=at, censored=censored)


def report(failures: list[Failure], alert_h: float | None = -1.0) -> dict[str, Any]:
    alert_at = None if alert_h is None else OPENED + timedelta(hours=alert_h)
    body = crew_outcome(ORDER, failures, alert_at, NOW, 90.0)
    CompleteIn.model_validate(body)  # a body the API accepts …
    outcome = Outcome(body["fault_found"], body["failure_code"], body["notes"], body["parts_used"],
                      failed_at=CompleteIn.model_validate(body).failed_at)  # fmt: skip
    failure_time(WorkOrderRow(created_at=OPENED), outcome, NOW)  # … and the service's rules too
    return body


def test_a_crew_reports_when_the_failure_the_alert_warned_of_happened() -> None:
    older, warned, later = failure(-3, "cavitation"), failure(2), failure(5, "bearing_wear")
    body = report([older, warned, later])
    assert (body["fault_found"], body["failure_code"]) == (True, "seal_leak")  # the first after the alert
    assert datetime.fromisoformat(body["failed_at"]) == warned.at  # ISO-8601 UTC
    assert body["failed_at"].endswith("+00:00")
    assert (body["parts_used"], body["time_on_site_min"]) == ({"SEAL-40": 1}, 90.0)
    assert report([older, warned], alert_h=None)["failure_code"] == "cavitation"  # alert unseen: the first


def test_a_failure_still_ahead_at_completion_is_found_but_not_timed() -> None:
    ahead = report([failure(7)])  # after the completion
    assert (ahead["fault_found"], ahead["failure_code"]) == (True, "seal_leak")
    assert "failed_at" not in ahead
    censored = report([failure(5, censored=True)])  # before now, but the run ended before it
    assert censored["fault_found"] is True
    assert "failed_at" not in censored
    assert "failed_at" in report([failure(6)])  # exactly at the completion: happened


def test_no_time_for_a_failure_the_alert_did_not_warn_of_or_too_old() -> None:
    before = report([failure(-3, "cavitation")])  # only a failure before the alert's reading
    assert (before["fault_found"], before["failure_code"]) == (True, "cavitation")
    assert "failed_at" not in before
    old = report([failure(-31 * 24)], alert_h=-32 * 24)  # beyond the service's 30-day look-back
    assert old["fault_found"] is True
    assert "failed_at" not in old
    assert "failed_at" in report([failure(-29 * 24)], alert_h=-30 * 24)


def test_a_sound_asset_is_a_false_alarm() -> None:
    body = report([])
    assert (body["fault_found"], body["failure_code"], body["parts_used"]) == (False, None, {})
    assert "failed_at" not in body
