"""The engine benchmark runs to completion on the real Kafka and reports sane numbers (no speed goal)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kafka import KafkaProducer

from bench.alerts import fleet_stream
from infra.stack.service import StackContext

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.mark.parametrize("run", [1, 2])  # twice: it used to hang on a later run
def test_bench_completes_and_reports_json(stack: StackContext, tmp_path: Path, run: int) -> None:
    out = tmp_path / "bench.json"
    cmd = [sys.executable, "-m", "bench.alerts"]
    args = ["--records", "300", "--assets", "10", "--incidents", "5", "--timeout-s", "60", "--out", str(out)]
    done = subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert json.loads(done.stdout) == result
    assert result["records"] == 300
    assert result["engine_records_per_s"] > 0
    latency = result["alert_to_work_order_ms"]
    assert 0 < latency["p50"] <= latency["p99"] <= latency["max"]
    assert result["alerts_changes"] > 0  # the fleet's incidents raised alerts


def test_replay_processes_every_record_of_a_topic(
    stack: StackContext, new_topic: Callable[..., str], tmp_path: Path
) -> None:
    """``--replay-topic``: the records already on a topic (here the bench's synthetic fleet, with
    incidents) go through a fresh engine run as ``forewarn alerts run`` runs it."""
    topic = new_topic("test-replay", partitions=2)
    stream = fleet_stream(400, 20, datetime(2026, 1, 1, tzinfo=UTC))
    producer = KafkaProducer(**stack.kafka.client_config(), acks="all")
    for record in stream:
        producer.send(topic, key=record.asset_id.encode(), value=record.encode())
    producer.send(topic, key=b"x", value=b"not json")  # a rejected record counts too
    producer.flush(timeout=60)
    producer.close()
    out = tmp_path / "replay.json"
    args = ["--replay-topic", topic, "--timeout-s", "120", "--out", str(out)]
    done = subprocess.run(
        [sys.executable, "-m", "bench.alerts", *args],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert (result["records"], result["rejected"]) == (len(stream), 1)
    assert result["alert_changes"] > 0  # the incidents raised alerts under the demo's rules
    assert result["cpu_s"] > 0
    assert result["engine_records_per_s"] > 0
