"""The whole chain, for real: simulator → MQTT → gateway → Kafka → Spark scoring → alerts → work orders.

Every component runs as its own process, started the way an operator starts it, on the local stack;
the run has its own topics, checkpoint, store and InfluxDB database. The model is trained on another
simulated fleet (other seed) before the run. Judged from the outside: the topics and the REST API.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from chain.fleetrun import FleetRun
from chain.ledger import account
from chain.plan import plan
from chain.settings import DemoSettings
from forewarn.settings import load
from infra.stack.service import StackContext
from tests.conftest import unique

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.spark, pytest.mark.slow]


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
        steps=240,
        speed="max",
        batch=5,
        malformed=0.02,
        duplicates=0.02,
        out_of_order=0.0,
        train_assets=120,
        api_port=_free_port(),
        progress_s=5.0,
    )
    run_id = unique("e2e")
    fleet_run = FleetRun(plan(stack.state, settings, run_id, influx_database, f"e2e-model-{run_id}"))
    yield fleet_run
    fleet_run.supervisor.stop_all()
    fleet_run.close()


@pytest.mark.timeout(1500)
def test_failures_get_work_orders_in_time_and_every_reading_is_accounted_for(run: FleetRun) -> None:
    run.prepare()
    trained = run.train()
    assert trained["promoted"], trained
    run.seed_catalogue()
    run.start_pipeline()
    sim = run.simulate()
    run.watch(sim, every_s=5.0)
    run.finish(sim)
    published = run.published(sim)

    settled = run.settle(published, timeout_s=420)
    assert settled.ok, settled.failures
    verdict = account(published, run.ledger, exact=True)  # nothing was killed: conservation is exact
    assert verdict.ok, verdict.failures
    assert verdict.numbers["gateway_dead_letters"] == published.malformed_messages > 0
    assert verdict.numbers["telemetry_duplicate_readings"] > 0  # injected duplicates reached Kafka…
    assert verdict.numbers["unscored_readings"] == 0  # …and every distinct reading was scored once or more

    outcomes, orders = run.outcomes(sim)
    summary = outcomes.summary()
    print(summary)
    assert outcomes.failures >= 5, "the fleet should fail several times in a run"
    assert outcomes.warned_in_time / outcomes.failures >= 0.6, summary
    assert len(outcomes.false_alarms) <= max(2, outcomes.failures // 2), summary
    assert not outcomes.repeated, summary  # one crew per failure, however the diagnosis wavers

    # work orders match alerts: each comes from one raised alert, which names it back
    alerts = {a["alert_id"]: a for a in run.api.alerts()}
    assert orders, "no work order opened"
    for wo in orders:
        alert = alerts[wo["source_alert_id"]]
        assert alert["work_order_id"] == wo["id"]
        assert (alert["asset_id"], alert["failure_mode"]) == (wo["asset_id"], wo["failure_mode"])
    with_orders = {a["work_order_id"] for a in alerts.values() if a["work_order_id"] is not None}
    assert with_orders == {wo["id"] for wo in orders}
    # dispatched like an operator would: a technician and the kit's parts
    scheduled = [wo for wo in run.api.work_orders() if wo["status"] in ("scheduled", "waiting_parts")]
    assert scheduled
    assert all(wo["technician_id"] for wo in scheduled)
    assert all(wo["parts"] for wo in scheduled)
