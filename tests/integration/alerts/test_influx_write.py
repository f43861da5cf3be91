"""Alert changes and KPIs land in the real InfluxDB and read back with InfluxQL."""

from __future__ import annotations

import httpx
import pytest

from alerts.config import RuleConfig
from alerts.influx import alert_lines, kpi_lines, write
from alerts.kpis import compute
from infra.stack.service import StackContext
from tests.unit.alerts.helpers import at, run, series

pytestmark = pytest.mark.integration


def test_alerts_and_kpis_written_and_read_back(stack: StackContext, influx_database: str) -> None:
    settings = stack.influx.model_copy(update={"database": influx_database})
    rules = RuleConfig(persistence_s=0, clear_s=0, stale_after_s=None)
    _, changes = run(
        series([0.96, 0.1, 0.1], asset="pump 1") + series([0.9], asset="pump-2", start_s=1), rules
    )
    write(settings, alert_lines(changes))
    write(settings, kpi_lines(compute([], alerts_open=1, schedule_ok=3, schedule_short=1), at(10)))

    def query(q: str) -> list[dict[str, object]]:
        answer = httpx.get(f"{settings.url}/query", params={"db": influx_database, "q": q}, timeout=10).json()
        return answer["results"][0].get("series", [])  # type: ignore[no-any-return]

    by_change = query('SELECT count("occurrence_count") FROM alerts GROUP BY "change", "asset_id"')
    counts = {(s["tags"]["change"], s["tags"]["asset_id"]): s["values"][0][1] for s in by_change}  # type: ignore[index]
    assert counts == {("raised", "pump 1"): 1, ("cleared", "pump 1"): 1, ("raised", "pump-2"): 1}
    (kpis,) = query('SELECT "parts_availability", "alerts_open" FROM work_orders')
    assert kpis["values"][0][1:] == [0.75, 1]  # type: ignore[index]


def test_bad_database_is_an_error_not_silence(stack: StackContext) -> None:
    settings = stack.influx.model_copy(update={"database": "no_such_db_forewarn_test"})
    with pytest.raises(httpx.HTTPStatusError):
        write(settings, ["alerts,site=s x=1i 0"])
