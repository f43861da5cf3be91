"""The spool (bounded, durable, ordered) and the metrics line protocol."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from forewarn.contracts.dead_letter import GatewayReason
from forewarn.settings import InfluxSettings
from ingest.metrics import GatewayMetrics, MetricsSink, pipeline_lines
from ingest.records import OutRecord
from ingest.spool import Spool, SpoolFullError


def record(i: int, dlq: bool = False) -> OutRecord:
    return OutRecord(
        dlq=dlq, key=f"a-{i % 3}".encode(), value=f"[{i}]".encode(), headers=[("h", bytes([i, 0, 255]))]
    )


def test_spool_keeps_order_and_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "s" / "gw.sqlite"
    spool = Spool(path, max_records=10)
    spool.append([record(i) for i in range(4)])
    spool.append([record(4, dlq=True)])
    spool.close()

    reopened = Spool(path, max_records=10)
    assert reopened.depth == 5
    batch = reopened.peek(3)
    assert [r for _, r in batch] == [record(0), record(1), record(2)]
    reopened.remove_through(batch[1][0])
    assert reopened.depth == 3
    assert [r for _, r in reopened.peek(10)] == [record(2), record(3), record(4, dlq=True)]


def test_spool_forgets_accepted_records_out_of_prefix_and_keeps_the_rest_in_order(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "gw.sqlite", max_records=10)
    spool.append([record(i) for i in range(6)])
    ids = [row_id for row_id, _ in spool.peek(6)]
    spool.remove([ids[1], ids[4], 10**9])  # a partly accepted forward; an unknown id is ignored
    assert spool.depth == 4
    assert [r for _, r in spool.peek(10)] == [record(0), record(2), record(3), record(5)]
    spool.remove([])
    assert spool.depth == 4


def test_spool_refuses_what_does_not_fit_all_or_nothing(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "gw.sqlite", max_records=3)
    spool.append([record(0), record(1)])
    with pytest.raises(SpoolFullError):
        spool.append([record(2), record(3)])
    assert spool.depth == 2
    assert spool.free() == 1
    assert len(spool.peek(10)) == 2


def test_pipeline_lines_have_counters_latency_and_reasons() -> None:
    metrics = GatewayMetrics(messages_in=3, readings_out=7, spool_depth=2)
    metrics.dead_letters[GatewayReason.TOO_OLD] += 2
    metrics.latencies_ms += [10.0, 30.0]
    at = datetime(2026, 1, 1, tzinfo=UTC)
    lines = pipeline_lines(metrics, "gw 1", at)
    assert lines[0].startswith("pipeline,component=gateway,gateway_id=gw\\ 1 messages_in=3i,")
    assert "produce_latency_ms_avg=20.0," in lines[0]
    assert "dead_letters=2i" in lines[0]
    assert lines[0].endswith(" 1767225600000")  # milliseconds, as InfluxWriter posts them
    assert lines[1] == (
        "pipeline,component=gateway,gateway_id=gw\\ 1,reason=too_old dead_letters=2i 1767225600000"
    )
    assert "produce_latency" not in pipeline_lines(metrics, "gw", at)[0]  # the window was reset


def test_an_empty_spool_takes_one_oversized_append_so_nothing_blocks_forever(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "gw.sqlite", max_records=2)
    assert spool.fits(5)
    spool.append([record(i) for i in range(5)])
    assert spool.depth == 5
    assert not spool.fits(1)
    spool.append([])  # nothing to store is always fine
    assert spool.depth == 5


def test_metrics_sink_is_best_effort_when_influxdb_is_unreachable(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as s:  # a loopback port where nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sink = MetricsSink(InfluxSettings(url=f"http://127.0.0.1:{port}", timeout_s=30.0), timeout_s=1.0)
    started = time.monotonic()
    assert sink.write(pipeline_lines(GatewayMetrics(messages_in=1), "gw", datetime.now(UTC))) is False
    assert time.monotonic() - started < 5, "one quick try, no retry loop in the gateway's thread"
    assert "metrics: InfluxDB write failed" in caplog.text
    sink.close()
