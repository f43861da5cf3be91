"""Alert change points and the KPI gauges land in the real InfluxDB and read back with InfluxQL."""

from __future__ import annotations

import httpx
import pytest

from alerts.config import RuleConfig
from alerts.gauges import kpi_lines, model_quality_lines
from alerts.influx_points import alert_lines
from alerts.kpis import compute
from forewarn.influx import InfluxWriteError, InfluxWriter
from infra.stack.service import StackContext
from tests.unit.alerts.helpers import at, run, series

pytestmark = pytest.mark.integration


def test_alerts_and_kpis_written_and_read_back(stack: StackContext, influx_database: str) -> None:
    settings = stack.influx.model_copy(update={"database": influx_database})
    rules = RuleConfig(persistence_s=0, clear_s=0, stale_after_s=None)
    _, changes = run(
        series([0.96, 0.1, 0.1], asset="pump 1") + series([0.9], asset="pump-2", start_s=1), rules
    )
    snapshot = compute([], alerts_open=1, schedule_ok=3, schedule_short=1)
    with InfluxWriter(settings, retry_budget_s=5) as writer:
        writer.write(alert_lines(changes))
        writer.write(kpi_lines(snapshot, "site-1", at(10)) + model_quality_lines(snapshot, at(10)))

    def query(q: str) -> list[dict[str, object]]:
        answer = httpx.get(
            f"{settings.url}/query",
            params={"db": influx_database, "q": q},
            headers=settings.auth_headers(),
            timeout=10,
        ).json()
        return answer["results"][0].get("series", [])  # type: ignore[no-any-return]

    by_change = query('SELECT count("occurrences") FROM alerts GROUP BY "change", "asset_id"')
    counts = {(s["tags"]["change"], s["tags"]["asset_id"]): s["values"][0][1] for s in by_change}  # type: ignore[index]
    assert counts == {("raised", "pump 1"): 1, ("cleared", "pump 1"): 1, ("raised", "pump-2"): 1}
    (kpis,) = query('SELECT "parts_availability", "alerts_open" FROM service_kpis GROUP BY "site"')
    assert kpis["tags"] == {"site": "site-1"}
    assert kpis["values"][0][1:] == [0.75, 1]  # type: ignore[index]


def test_bad_database_is_an_error_not_silence(stack: StackContext) -> None:
    settings = stack.influx.model_copy(update={"database": "no_such_db_forewarn_test"})
    with InfluxWriter(settings, retry_budget_s=1) as writer, pytest.raises(InfluxWriteError, match="refused"):
        writer.write(["alerts,site=s x=1i 0"])
