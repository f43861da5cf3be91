"""The model lifecycle closes by itself, for real: a site's pumps move to a new duty point mid-run,
``forewarn models watch`` sees the drift, retrains on the labels the crews' work orders produced,
promotes the challenger (MANAGED) and the scoring job swaps it in for the second fleet (the same
pumps and hidden lives, the site at the new point from the start); both are judged on the changed
site.

Small and real time (event time = wall time, so the crews' labels and the readings share a clock):
24 pumps on two sites, one reading every half second.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from chain.closed_loop import run_closed_loop
from chain.fleetrun import FleetRun
from chain.ledger import account
from chain.plan import plan
from chain.settings import DemoSettings
from dashboards.boards.reliability import UID
from dashboards.macros import TimeRange
from dashboards.render import build_all
from dashboards.verify import InfluxQL, check_board_any_choice
from forewarn.settings import load
from infra.stack.service import StackContext
from tests.conftest import unique

# Out of the default run (7-10 minutes; `pytest -m loop tests/e2e/test_closed_loop.py -s`). History: it
# failed in both runs of 2 Dec 2026 (the scenario's champion lookup sent no MLflow credentials; the watch
# retrained before the labels could judge; the gate judged RUL on one or two pumps), and on 3 Dec passed
# but missed more failures after the swap (0 -> 2-3 of 9): fault labels were stamped at the crew's visit,
# up to 190 readings after the failure, which gave run-ups a healthy RUL. Work orders now record when the
# fault happened (failed_at) and labels carry it: two of three runs that day promoted v3 and missed 0 of 9;
# the third failed here because the gate refused both challengers on PHM08 (ridge, late on three pumps,
# though better on RMSE, PR-AUC and false alarms): see the stop-27 note (#19). Since later that day the
# lifecycle gate judges lateness by missed failures where it can count them (models/README.md, "The
# gate"), and lets the judge's false-alarm rate rise 0.02: the next two runs both promoted, 0 of 9 missed.
pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.spark, pytest.mark.slow, pytest.mark.loop]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def run(stack: StackContext, influx_database: str, tmp_path: Path) -> Iterator[FleetRun]:
    settings = load(
        DemoSettings,
        stack.state,
        assets=24,
        steps=200,
        interval_s=0.5,
        speed="1",
        batch=2,
        malformed=0.0,
        duplicates=0.0,
        out_of_order=0.0,
        train_assets=120,
        api_port=_free_port(),
        progress_s=3.0,
        drift=True,
        drift_change="site-2@60:duty_point",
        drift_window_readings=60,
        drift_wait_s=900.0,
    )
    run_id = unique("loop")
    fleet_run = FleetRun(plan(stack.state, settings, run_id, influx_database, f"loop-model-{run_id}"))
    yield fleet_run
    fleet_run.supervisor.stop_all()
    fleet_run.close()


def _reliability_rows(run: FleetRun) -> dict[str, int]:
    """Rows each query of the reliability board returns on the run's database over the last 2 hours
    (its best over the board's variable choices, as ``dashboards verify`` judges a board)."""
    now = datetime.now(UTC)
    influx = run.plan.influx
    window = TimeRange(now - timedelta(hours=2), now)
    with InfluxQL(influx, influx.database) as client:
        results, _ = check_board_any_choice(build_all()[UID], client, window)
    rows: dict[str, int] = {}
    for r in results:
        rows[r.query.title] = max(rows.get(r.query.title, 0), r.rows)
    return rows


@pytest.mark.timeout(1800)
def test_drift_is_seen_a_retrain_on_work_order_labels_is_promoted_and_swapped_in(run: FleetRun) -> None:
    run.prepare()
    trained = run.train()
    assert trained["promoted"], trained
    run.seed_catalogue()
    run.start_pipeline()

    result, sims = run_closed_loop(run, print)
    print(result)

    # every reading of both fleets accounted for, across the swap
    verdict = account(run.published(*sims), run.ledger, exact=False)
    assert verdict.ok, verdict.failures
    # the lifecycle's events, in order: a drift alarm, then a retrain, then a promotion
    actions = [e["action"] for e in result["model_events"]]
    first_alarm = actions.index("drift_alarm")
    first_retrain = actions.index("retrain", first_alarm)
    assert "gate_passed" in actions[first_retrain:], actions
    assert "promoted" in actions[first_retrain:], actions
    alarms = [e for e in result["model_events"] if e["action"] == "drift_alarm"]
    assert any("site-2" in e.get("note", "") for e in alarms), alarms
    assert result["feature_drift_points"] > 0
    # ... and the reliability board shows them (what `forewarn dashboards verify` runs, on this run's data)
    panels = _reliability_rows(run)
    for title in ("Promotions and rollbacks", "Feature drift (PSI)", "Latest PSI by feature"):
        assert panels.get(title, 0) > 0, (title, panels)
    # the new champion scored the second fleet: the old one never did
    assert result["champion_after"] != result["champion_before"]
    assert result["champion_before"] not in result["phase2_scored_by"], result["phase2_scored_by"]
    # before and after are judged on the changed site: the bar is "no worse" after the swap,
    # over the same steps of the replay (3 Dec 2026, two runs each: missed 0 -> 0 of 9, false alarms
    # 3 of 10 -> 1 of 10 work orders, since fault labels carry the failure's time)
    before, after = result["before"], result["after"]
    assert before["failures"] >= 1, before
    assert result["after_whole_phase"]["failures"] >= 1, result["after_whole_phase"]
    assert after["missed"] <= before["missed"], (before, after)
    assert (after["false_alarm_rate"] or 0.0) <= (before["false_alarm_rate"] or 0.0), (before, after)
    # the replay is the same fleet: the same failures on every site, whichever model warns of them
    for site, phases in result["by_site"].items():
        assert phases["phase1"]["failures"] == phases["phase2"]["failures"], (site, phases)
