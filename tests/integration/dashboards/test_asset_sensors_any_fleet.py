"""The asset board's sensor panel shows any fleet's sensors, as the scoring job writes them.

Points are built by the scoring job's own telemetry sink (``streaming.sinks.telemetry_lines``) for
a pump of the simulated fleet and a C-MAPSS engine, then the panel runs on the real InfluxDB as
Grafana would send it: every sensor of each, and no setting, comes back with values.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson
import pytest

from dashboards.macros import TimeRange, Variable
from dashboards.render import build_all
from dashboards.seed import write_lines
from dashboards.verify import InfluxQL, check_board
from infra.stack.service import StackContext
from ingest.cmapss import SENSOR_COLUMNS, SETTING_COLUMNS
from ingest.fleet import SENSORS, SETTINGS
from streaming.sinks import telemetry_lines

pytestmark = pytest.mark.integration

FLEETS = {  # asset → (site, settings, sensors)
    "pump-007": ("plant-a", tuple(SETTINGS), tuple(SENSORS)),
    "engine-003": ("test-cell", tuple(SETTING_COLUMNS), tuple(SENSOR_COLUMNS)),
}


def test_the_sensor_panel_selects_every_fleets_sensors_and_no_setting(
    stack: StackContext, influx_database: str
) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    rows = [
        {"asset_id": asset, "site": site, "ts": int((now - timedelta(minutes=10 - i)).timestamp() * 1000),
         "seq": i, "settings": orjson.dumps({n: 0.5 for n in settings}).decode(),
         "sensors": orjson.dumps({n: 100.0 + i for n in sensors}).decode()}
        for asset, (site, settings, sensors) in FLEETS.items()
        for i in range(10)
    ]  # fmt: skip
    write_lines(stack.influx, influx_database, [p for p in telemetry_lines(rows, None) if p])

    board = build_all()["forewarn-asset"]
    time_range = TimeRange(now - timedelta(hours=1), now + timedelta(minutes=1))
    with InfluxQL(stack.influx, influx_database) as influx:
        for asset, (site, _, sensors) in FLEETS.items():
            chosen = {"site": Variable((site,)), "asset": Variable((asset,))}
            results = {r.query.title: r for r in check_board(board, influx, time_range, chosen)}
            panel = results["Sensors"]
            assert panel.ok, (panel.error, panel.sent)
            [series] = panel.series
            # InfluxDB answers a field regex with every matching field of the measurement; this
            # asset's own are those with values
            shown = {
                c
                for i, c in enumerate(series["columns"])
                if any(row[i] is not None for row in series["values"])
            }
            assert shown == {"time"} | {f"mean_sensor.{n}" for n in sensors}, asset
