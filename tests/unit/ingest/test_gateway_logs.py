"""What the gateway's log says: counters in words, each dead letter with reason and source (rate-limited),
and an expected disconnect at shutdown at INFO. The same against the real broker: test_gateway.py."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from forewarn.contracts.dead_letter import GatewayReason, Reason
from forewarn.settings import KafkaSettings, MqttSettings
from ingest.contract import decode
from ingest.gateway import Gateway
from ingest.metrics import GatewayMetrics, summary_line
from ingest.settings import GatewaySettings

TOPIC = "forewarn/site-1/pump-7/telemetry"


def test_summary_line_reads_as_words_with_reasons_and_latency() -> None:
    metrics = GatewayMetrics(messages_in=330, readings_in=3300, readings_out=3280, spool_depth=0)
    dead: Counter[Reason] = Counter({GatewayReason.TOO_OLD: 8, GatewayReason.MALFORMED_JSON: 12})
    metrics.dead_letters.update(dead)
    metrics.latencies_ms += [5.0] * 98 + [12.0, 12.0]
    assert summary_line(metrics.fields(), metrics.dead_letters) == (
        "messages in 330, readings in 3,300 → out 3,280, dead letters 20 (malformed_json 12, too_old 8), "
        "spool 0, produce p99 12 ms"
    )


def test_summary_line_names_rare_counters_only_when_they_are_not_zero() -> None:
    quiet = summary_line(GatewayMetrics().fields(), Counter())
    assert quiet == "messages in 0, readings in 0 → out 0, dead letters 0, spool 0"
    busy = GatewayMetrics(spooled_records=40, forwarded_records=10, spool_depth=30, produce_failures=2)
    line = summary_line(busy.fields(), Counter())
    assert "records spooled 40, forwarded from the spool 10, produce failures 2, spool 30" in line
    assert "=" not in line  # no line protocol


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Gateway]:
    g = Gateway(
        GatewaySettings(gateway_id="log-test", metrics_to_influx=False),
        MqttSettings(),
        KafkaSettings(),
        None,
        tmp_path,
    )
    yield g
    g.spool.close()


def test_each_dead_letter_is_logged_with_reason_and_source_then_counted(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    now = datetime.now(UTC)
    with caplog.at_level(logging.INFO, logger="ingest"):
        for _ in range(8):
            gateway._count_in(decode(b"{not json", TOPIC, now, gateway.policy))
        gateway._count_in(decode(b'[{"schema": 1}]', TOPIC, now, gateway.policy))
        gateway.report(final=True)
    lines = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert lines[0].startswith(f"dead letter malformed_json from {TOPIC}: ")
    assert lines.count(lines[0]) == 5  # then rate-limited
    assert lines[5].startswith(f"dead letter missing_field from {TOPIC}[0]: ")  # the batch element
    assert len(lines) == 7  # and the count of those left out, at the end
    messages = [r.getMessage() for r in caplog.records]
    assert any(m.startswith("in all: messages in 9, readings in 9 → out 0, dead letters 9") for m in messages)
    assert "… and 3 more malformed_json dead letters in the last 0 s" in messages


def test_report_logs_only_when_the_counters_moved(gateway: Gateway, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="ingest"):
        gateway.report()
        gateway.report()
        gateway.metrics.messages_in += 1
        gateway.report()
    assert [r.getMessage().split(",")[0] for r in caplog.records] == ["messages in 0", "messages in 1"]


def test_our_own_disconnect_at_shutdown_is_info_an_unexpected_one_a_warning(
    gateway: Gateway, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="ingest"):
        gateway._on_disconnect(gateway._client, None, None, "Unspecified error", None)
        gateway._stopping = True
        gateway._on_disconnect(gateway._client, None, None, "Normal disconnection", None)
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [
        ("WARNING", "MQTT disconnected: Unspecified error (paho reconnects)"),
        ("INFO", "MQTT disconnected: Normal disconnection"),
    ]
