"""The InfluxQL reader against the real InfluxDB: bound parameters, millisecond times, errors as one type."""

from __future__ import annotations

import socket

import pytest

from forewarn.contracts.influx_schema import telemetry_point
from forewarn.influx import InfluxQueryError, InfluxWriter, query
from forewarn.settings import InfluxSettings
from infra.stack.service import StackContext

pytestmark = pytest.mark.integration

TS_MS = 1_796_194_800_123


def test_points_read_back_with_bound_parameters(stack: StackContext, influx_database: str) -> None:
    settings = stack.influx.model_copy(update={"database": influx_database})
    with InfluxWriter(settings, retry_budget_s=5) as writer:
        writer.write(
            [
                telemetry_point("site-1", "pump 1", TS_MS, 1, {"load": 0.5}, {"temp_c": 40.5}),
                telemetry_point("site-1", "pump 2", TS_MS, 1, {"load": 0.5}, {"temp_c": 99.0}),
            ]
        )
    series = query(
        settings,
        'SELECT "sensor.temp_c" FROM "telemetry" WHERE "asset_id" = $asset AND time >= $since',
        params={"asset": "pump 1", "since": "2026-12-01T00:00:00Z"},
    )
    assert len(series) == 1
    assert series[0].rows() == [{"time": TS_MS, "sensor.temp_c": 40.5}]
    # a value that would break a pasted statement is just a value
    assert (
        query(settings, 'SELECT * FROM "telemetry" WHERE "asset_id" = $a', params={"a": "x' OR 1=1 --"}) == []
    )


def test_a_bad_statement_and_an_unreachable_server_raise_the_same_error(
    stack: StackContext, influx_database: str
) -> None:
    settings = stack.influx.model_copy(update={"database": influx_database})
    with pytest.raises(InfluxQueryError, match="refused the query"):
        query(settings, "SELECT FROM WHERE")
    with socket.socket() as s:  # a loopback port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(InfluxQueryError, match="did not answer"):
        query(InfluxSettings(url=f"http://127.0.0.1:{port}", timeout_s=2), "SHOW DATABASES")
