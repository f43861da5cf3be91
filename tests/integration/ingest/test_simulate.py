"""``forewarn simulate`` through the real broker and gateway: every reading arrives, every injected
malformed message is a dead letter with the reason the ground truth announces."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections import Counter
from pathlib import Path

import orjson
import pytest

from tests.integration.ingest.conftest import (
    FOREWARN,
    IngestEnv,
    read_readings,
    read_topic,
    telemetry_readings,
)

pytestmark = pytest.mark.integration


def test_simulated_fleet_reaches_kafka_with_faults_accounted_for(
    ingest_env: IngestEnv, tmp_path: Path
) -> None:
    prefix = f"sim{uuid.uuid4().hex[:6]}"
    assets, steps = 4, 30
    ingest_env.assets = [f"{prefix}-{i:04d}" for i in range(1, assets + 1)]
    filters = json.dumps([f"forewarn/+/{a}/telemetry" for a in ingest_env.assets])
    gateway = ingest_env.gateway(gateway_topic_filters=filters)
    truth = tmp_path / "truth.jsonl"
    done = subprocess.run(
        [FOREWARN, "simulate", "--assets", str(assets), "--site", "site-1", "--site", "site-2",
         "--steps", str(steps), "--batch", "4", "--seed", "11", "--asset-prefix", prefix,
         "--malformed", "0.2", "--duplicates", "0.1", "--out-of-order", "0.1", "--truth", str(truth)],
        capture_output=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    report = json.loads(done.stdout)
    lines = [orjson.loads(line) for line in truth.read_bytes().splitlines()]
    injected: dict[str, int] = lines[-1]["counts"]
    malformed = {k.split(":", 1)[1]: v for k, v in injected.items() if k.startswith("malformed:")}
    assert sum(malformed.values()) > 0
    assert injected.get("duplicate", 0) > 0

    readings_expected = report["readings"]  # published valid readings, duplicates included
    assert readings_expected > assets * steps
    records = read_readings(ingest_env.stack, ingest_env.telemetry, expected=readings_expected, timeout_s=60)
    readings = telemetry_readings(records)
    dead = read_topic(ingest_env.stack, ingest_env.dlq, expected=sum(malformed.values()))
    assert gateway.terminate() == 0

    assert len(readings) == report["readings"]
    keys = Counter((r["asset_id"], r["seq"]) for r in readings)
    assert set(keys) == {(a, s) for a in ingest_env.assets for s in range(steps)}
    assert Counter(orjson.loads(r.value)["reason"] for r in dead) == Counter(malformed)
    sites = {r["asset_id"]: r["site"] for r in readings}
    assert sorted(set(sites.values())) == ["site-1", "site-2"]
    assert {e["asset_id"] for e in lines if e["event"] == "censored"} == set(ingest_env.assets)
