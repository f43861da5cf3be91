"""``forewarn replay cmapss`` of the real test_FD001 through Mosquitto and the gateway: exactly one
reading per row on Kafka (records carry runs of an engine's readings), in cycle order per engine."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections import Counter
from pathlib import Path

import orjson
import pytest

from ingest.cmapss import read_run, subset_files
from tests.conftest import CMAPSS_DIR
from tests.integration.ingest.conftest import FOREWARN, IngestEnv, read_readings

pytestmark = [pytest.mark.integration, pytest.mark.slow]
DATA = CMAPSS_DIR


@pytest.mark.skipif(not (DATA / "test_FD001.txt.gz").exists(), reason="C-MAPSS FD001 not on this machine")
def test_replay_of_test_fd001_gives_one_reading_per_row(ingest_env: IngestEnv, tmp_path: Path) -> None:
    frame = read_run(subset_files(DATA, "FD001").test or DATA / "missing")
    prefix = f"r{uuid.uuid4().hex[:6]}-"
    units = sorted(frame["unit"].unique())
    ingest_env.assets = [f"{prefix}fd001-test-{u:03d}" for u in units]
    ingest_env.site = "cmapss"
    gateway = ingest_env.gateway(gateway_topic_filters=json.dumps(ingest_env.filters()))
    done = subprocess.run(
        [FOREWARN, "replay", "cmapss", "--data-dir", str(DATA), "--subset", "FD001", "--split", "test",
         "--speed", "max", "--asset-prefix", prefix, "--truth", str(tmp_path / "truth.jsonl")],
        capture_output=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode()
    report = json.loads(done.stdout)
    assert report["rows"] == report["messages"] == len(frame)
    records = read_readings(ingest_env.stack, ingest_env.telemetry, expected=len(frame), timeout_s=180)
    assert gateway.terminate() == 0

    seqs: dict[str, list[int]] = {}
    for record in records:
        for item in orjson.loads(record.value):
            assert record.key.decode() == item["asset_id"]
            seqs.setdefault(item["asset_id"], []).append(item["seq"])
    assert sum(len(s) for s in seqs.values()) == len(frame)  # exactly one reading per row
    expected = frame.groupby("unit")["cycle"].apply(list).to_dict()
    assert seqs == {f"{prefix}fd001-test-{u:03d}": cycles for u, cycles in expected.items()}
    truth = [orjson.loads(line) for line in (tmp_path / "truth.jsonl").read_bytes().splitlines()]
    assert Counter(e["event"] for e in truth) == {"cut": len(units)}
    print(f"replayed {len(frame)} rows in {report['elapsed_s']} s ({report['messages_per_s']} msg/s)")
