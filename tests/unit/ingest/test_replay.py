"""C-MAPSS rows to contract readings: one per row, event-time order, valid under the contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import orjson
import pytest

from ingest.cmapss import COLUMNS, read_run
from ingest.contract import ContractPolicy, decode, telemetry_topic
from ingest.messages import batches
from ingest.replay import ReplayConfig, readings, truth

START = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture
def run_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(3)
    rows = []
    for unit, length in ((1, 5), (2, 3)):
        for cycle in range(1, length + 1):
            rows.append([unit, cycle, *rng.normal(0, 1, 3).round(4), *rng.normal(500, 10, 21).round(2)])
    path = tmp_path / "test_FD009.txt"
    path.write_text("\n".join(" ".join(str(v) for v in row) + " " for row in rows) + "\n")
    assert len(rows[0]) == len(COLUMNS)
    return path


def test_each_row_becomes_one_valid_reading_in_event_time_order(run_file: Path) -> None:
    frame = read_run(run_file)
    config = ReplayConfig("FD009", "test", "cmapss", START, cycle_s=30.0, asset_prefix="x-")
    out = list(readings(frame, config))
    assert len(out) == len(frame) == 8
    assert [(r["asset_id"], r["seq"]) for _, r in out[:4]] == [
        ("x-fd009-test-001", 1), ("x-fd009-test-002", 1), ("x-fd009-test-001", 2), ("x-fd009-test-002", 2),
    ]  # fmt: skip
    assert [r["ts"] for _, r in out] == sorted(r["ts"] for _, r in out)
    first = out[0][1]
    assert first["sensors"]["sensor_1"] == frame.loc[0, "sensor_1"]
    assert set(first["settings"]) == {"setting_1", "setting_2", "setting_3"}
    assert out[2][1]["ts"] - first["ts"] == 30_000
    for message in batches(out, 2):
        decoded = decode(message.payload, telemetry_topic(message.site, message.asset_id),
                         START + timedelta(hours=1), ContractPolicy())  # fmt: skip
        assert decoded.dead_letters == []
        assert len(decoded.readings) == message.readings


def test_truth_gives_failure_time_from_the_rul_file(run_file: Path) -> None:
    frame = read_run(run_file)
    config = ReplayConfig("FD009", "test", "cmapss", START, cycle_s=60.0)
    events = truth(frame, config, np.array([10, 0]))
    assert [(e["asset_id"], e["last_cycle"], e["rul_after_last_cycles"]) for e in events] == [
        ("fd009-test-001", 5, 10), ("fd009-test-002", 3, 0),
    ]  # fmt: skip
    assert events[0]["failure_ts"] == int(START.timestamp() * 1000) + 14 * 60_000
    assert orjson.dumps(truth(frame, ReplayConfig("FD009", "train", "cmapss", START), None))
