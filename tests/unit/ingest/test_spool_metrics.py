"""The spool (bounded, durable, ordered) and the metrics line protocol."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from ingest.metrics import GatewayMetrics, line_protocol
from ingest.reasons import Reason
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


def test_spool_refuses_what_does_not_fit_all_or_nothing(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "gw.sqlite", max_records=3)
    spool.append([record(0), record(1)])
    with pytest.raises(SpoolFullError):
        spool.append([record(2), record(3)])
    assert spool.depth == 2
    assert spool.free() == 1
    assert len(spool.peek(10)) == 2


def test_line_protocol_has_counters_latency_and_reasons() -> None:
    metrics = GatewayMetrics(messages_in=3, readings_out=7, spool_depth=2)
    metrics.dead_letters[Reason.TOO_OLD] += 2
    metrics.latencies_ms += [10.0, 30.0]
    at = datetime(2026, 1, 1, tzinfo=UTC)
    lines = line_protocol(metrics, "gw 1", at).splitlines()
    assert lines[0].startswith("pipeline,component=gateway,gateway_id=gw\\ 1 messages_in=3i,")
    assert "produce_latency_ms_avg=20.000" in lines[0]
    assert "dead_letters=2i" in lines[0]
    assert lines[0].endswith(" 1767225600000000000")
    assert (
        lines[1]
        == "pipeline,component=gateway,gateway_id=gw\\ 1,reason=too_old dead_letters=2i 1767225600000000000"
    )
    assert "produce_latency" not in line_protocol(metrics, "gw", at)  # the window was reset


def test_an_empty_spool_takes_one_oversized_append_so_nothing_blocks_forever(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "gw.sqlite", max_records=2)
    assert spool.fits(5)
    spool.append([record(i) for i in range(5)])
    assert spool.depth == 5
    assert not spool.fits(1)
    spool.append([])  # nothing to store is always fine
    assert spool.depth == 5
