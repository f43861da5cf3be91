"""The pipeline-health board reads the points the real gateway writes (``ingest.metrics``).

This pins the contract from the producer's side: if the gateway renames a field or tag, a panel
here stops returning rows.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboards.macros import TimeRange
from dashboards.render import build_all
from dashboards.seed import write_lines
from dashboards.verify import InfluxQL, check_board
from forewarn.contracts.dead_letter import GatewayReason
from infra.stack.service import StackContext

pytestmark = pytest.mark.integration
metrics = pytest.importorskip("ingest.metrics")

GATEWAY_ONLY_EMPTY = {"Consumer lag (records) A"}
"""Consumer lag comes from the streaming job and the alerts service, not the gateway."""


def test_pipeline_panels_show_the_gateways_own_points(stack: StackContext, influx_database: str) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    gauges = metrics.GatewayMetrics()
    lines = []
    for step in range(6):
        gauges.messages_in += 10
        gauges.readings_in += 100
        gauges.readings_out += 98
        gauges.records_out += 10
        gauges.dead_letters[GatewayReason.MALFORMED_JSON] += 1
        gauges.dead_letters[GatewayReason.TOO_OLD] += step % 2
        gauges.spool_depth = step
        gauges.produce_failures += step // 3
        gauges.latencies_ms.extend([2.0, 3.0, 9.0])
        at = now - timedelta(seconds=10 * (6 - step))
        lines += metrics.pipeline_lines(gauges, "gw-test", at)
    write_lines(stack.influx, influx_database, lines)

    board = build_all()["forewarn-pipeline"]
    with InfluxQL(stack.influx, influx_database) as influx:
        results = check_board(board, influx, TimeRange(now - timedelta(minutes=2), now), {})
    by_label = {f"{r.query.title} {r.query.ref_id}": r for r in results}
    empty = {label for label, r in by_label.items() if not r.ok}
    assert empty == GATEWAY_ONLY_EMPTY, {label: by_label[label].error for label in empty}
    spread = by_label["Dead letters in the range by reason A"]
    assert {s["tags"]["reason"]: s["values"][0][1] for s in spread.series} == {
        "malformed_json": 5,
        "too_old": 3,  # cumulative 0,1,1,2,2,3
    }
    rates = by_label["Readings/s per hop A"]
    assert {s["tags"]["gateway_id"] for s in rates.series} == {"gw-test"}
    assert {v[1] for s in rates.series for v in s["values"]} == {10.0}  # 100 readings per 10 s
