"""The ingest and scoring benchmarks run to the end on the secured stack and account for every reading.

Smallest sizes, as subprocesses (``python -m bench.ingest``, ``python -m bench.stream``); speed goals
live in the benchmarks, never here. ``bench.chain`` is left out: it trains the demo's model and warms
the whole pipeline up (over 3 minutes on 2 cores), and its accounting has its own e2e tests.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaAdminClient

from infra.stack.kafka import ensure_acls
from infra.stack.kafka_acls import all_grants
from infra.stack.service import StackContext

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _bench(module: str, args: list[str], out: Path, timeout_s: float) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", module, *args, "--out", str(out)],
        capture_output=True, text=True, timeout=timeout_s, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def _missing_stack_acls(stack: StackContext) -> int:
    """The stack's own ACLs the broker lacks (they are put back: the count is the finding)."""
    admin = KafkaAdminClient(**stack.kafka.client_config(), client_id="forewarn-tests")
    try:
        return ensure_acls(admin, all_grants(stack.kafka))
    finally:
        admin.close()


def test_ingest_bench_gets_every_reading_through_the_gateway_roles(
    stack: StackContext, tmp_path: Path
) -> None:
    if stack.kafka.users:
        _missing_stack_acls(stack)  # a baseline: whatever an earlier run took away is not this bench's
    args = ["--readings", "200", "--batches", "1,10", "--assets", "4"]
    result = _bench("bench.ingest", args, tmp_path / "ingest.json", 240)
    assert [r["readings_per_message"] for r in result["results"]] == [1, 10]
    for r in result["results"]:
        readings = r["readings"]
        assert readings == 200
        direct, live, drain = r["direct_kafka"], r["via_gateway"], r["drain_via_gateway"]
        assert direct["delivered"] == direct["records"] > 0
        messages = readings // r["readings_per_message"]
        assert live["acked"] == live["messages"] == drain["acked"] == drain["messages"] == messages
        for path in (direct, live, drain):
            assert path["readings_on_kafka"] == readings  # none lost, none twice
    if stack.kafka.users:
        # the bench's grants came and went on its own topics only: the running stack keeps all of its own
        assert _missing_stack_acls(stack) == 0


@pytest.mark.spark
def test_stream_bench_scores_every_reading_it_offered(stack: StackContext, tmp_path: Path) -> None:
    args = ["--shape", "pump", "--families", "ridge", "--assets", "20", "--rate", "400", "--seconds", "3",
            "--backlog-readings", "2000", "--fixed-samples", "1", "--warm-rounds", "1",
            "--idle-samples", "1", "--idle-s", "1", "--no-real-time"]  # fmt: skip
    result = _bench("bench.stream", args, tmp_path / "stream.json", 420)
    assert result["shape"] == "pump"
    assert result["model"]["family"] == "ridge"
    live, capacity = result["live"], result["capacity"]
    assert live["readings_offered"] > 0
    assert live["readings_scored"] == live["readings_offered"]
    assert capacity["readings_offered"] >= 2000
    assert capacity["readings_scored"] == capacity["readings_offered"]
    assert result["offline"]["rows"] == capacity["readings_offered"]  # the same records without Spark
    idle = result["after_idle"]  # a second's quiet: the workers stay, the phase's figures are there
    assert idle["samples"] >= 1
    assert len(idle["samples_taken"]) == 1
    assert idle["samples_taken"][0]["round_trip_s"] > 0
