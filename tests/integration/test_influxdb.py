"""InfluxDB: line protocol on /write, read back with InfluxQL on /query."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from forewarn.settings import InfluxRole
from infra.stack.service import StackContext

pytestmark = pytest.mark.integration


def test_line_protocol_write_and_influxql_read(stack: StackContext, influx_database: str) -> None:
    influx = stack.influx.for_role(InfluxRole.WRITER)  # what the pipeline's sinks write as
    lines = "\n".join(
        f"risk,site=site-1,asset_id=a-{n % 2} risk={0.1 * n:.1f},rul={100 - n}i "
        f"{1_790_000_000_000 + n * 1000}"
        for n in range(6)
    )
    written = httpx.post(
        f"{influx.url}/write",
        params={"db": influx_database, "precision": "ms"},
        content=lines,
        headers=influx.auth_headers(),
        timeout=10,
    )
    assert written.status_code == 204, written.text
    answer = httpx.get(
        f"{influx.url}/query",
        params={"db": influx_database, "q": "SELECT count(risk), max(rul) FROM risk GROUP BY asset_id"},
        headers=stack.influx.for_role(InfluxRole.READER).auth_headers(),
        timeout=10,
    ).json()
    series = {s["tags"]["asset_id"]: s["values"][0] for s in answer["results"][0]["series"]}
    assert series["a-0"][1:] == [3, 100]
    assert series["a-1"][1:] == [3, 99]


def test_bad_line_protocol_is_refused_with_a_reason(stack: StackContext, influx_database: str) -> None:
    response = httpx.post(
        f"{stack.influx.url}/write",
        params={"db": influx_database},
        content="risk risk=notanumber",
        headers=stack.influx.auth_headers(),
        timeout=10,
    )
    assert response.status_code == 400
    assert "error" in response.json()


def test_influxd_runs_with_the_stack_settings_garbage_collector(stack: StackContext) -> None:
    """``StackSettings.influx_gogc``: Go's collector at the configured growth, under a soft limit."""
    pid = int((stack.run / "influxdb.pid").read_text().strip())
    environ = (Path("/proc") / str(pid) / "environ").read_bytes().split(b"\0")
    env = dict(entry.decode().split("=", 1) for entry in environ if b"=" in entry)
    assert env["GOGC"] == str(stack.stack.influx_gogc)
    assert env["GOMEMLIMIT"] == f"{stack.stack.influx_memory_limit_mb}MiB"
