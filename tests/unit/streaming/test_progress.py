"""Lag from a checkpoint: the newest *committed* batch's offsets against the topic's end offsets."""

from __future__ import annotations

from pathlib import Path

import pytest

from streaming.progress import CheckpointError, Lag, committed_offsets, lag_from

META = '{"batchWatermarkMs":0,"batchTimestampMs":1795384989304,"conf":{"spark.sql.shuffle.partitions":"2"}}'


def write_batch(checkpoint: Path, batch: int, offsets: str, committed: bool) -> None:
    (checkpoint / "offsets").mkdir(parents=True, exist_ok=True)
    (checkpoint / "commits").mkdir(parents=True, exist_ok=True)
    (checkpoint / "offsets" / str(batch)).write_text(f"v1\n{META}\n{offsets}")
    (checkpoint / "offsets" / f".{batch}.crc").write_bytes(b"\x00")
    if committed:
        (checkpoint / "commits" / str(batch)).write_text('v1\n{"nextBatchWatermarkMs":0}')


def test_offsets_of_the_newest_committed_batch_not_the_planned_one(tmp_path: Path) -> None:
    write_batch(tmp_path, 0, '{"telemetry":{"0":6,"1":31}}', committed=True)
    write_batch(tmp_path, 1, '{"telemetry":{"0":10,"1":40}}', committed=True)
    write_batch(tmp_path, 2, '{"telemetry":{"0":90,"1":95}}', committed=False)  # planned, still running
    batch, offsets = committed_offsets(tmp_path)
    assert batch == 1
    assert offsets == {("telemetry", 0): 10, ("telemetry", 1): 40}


def test_no_committed_batch_yet(tmp_path: Path) -> None:
    write_batch(tmp_path, 0, '{"telemetry":{"0":6}}', committed=False)
    assert committed_offsets(tmp_path) == (None, {})
    assert committed_offsets(tmp_path / "absent") == (None, {})


def test_lag_per_partition_counts_unseen_partitions_from_their_beginning() -> None:
    committed = {("t", 0): 10, ("t", 1): 40}
    end = {("t", 0): 10, ("t", 1): 47, ("t", 2): 12}
    beginning = {("t", 0): 0, ("t", 1): 0, ("t", 2): 5}
    assert lag_from(committed, end, beginning) == {("t", 0): 0, ("t", 1): 7, ("t", 2): 7}
    result = Lag("scoring", 3, lag_from(committed, end, beginning))
    assert result.total == 14
    assert result.as_dict()["lag"] == {"t/0": 0, "t/1": 7, "t/2": 7}


def test_lag_is_never_negative_after_a_topic_was_truncated() -> None:
    assert lag_from({("t", 0): 50}, {("t", 0): 20}) == {("t", 0): 0}


def test_a_file_that_is_not_an_offset_log_is_an_error(tmp_path: Path) -> None:
    write_batch(tmp_path, 0, "{}", committed=True)
    (tmp_path / "offsets" / "0").write_text("garbage")
    with pytest.raises(CheckpointError, match="not a Spark offset log"):
        committed_offsets(tmp_path)
    (tmp_path / "offsets" / "0").write_text(f"v1\n{META}\n{{not json")
    with pytest.raises(CheckpointError, match="not JSON"):
        committed_offsets(tmp_path)
