"""`forewarn stream lag` against real Kafka: a checkpoint's committed offsets vs the topic's end offsets."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.cli import app
from infra.stack.service import StackContext
from streaming.progress import mark_job
from tests.integration.streaming.test_scoring_job import produce
from tests.unit.streaming.test_progress import write_batch

pytestmark = [pytest.mark.integration]


def test_lag_command_reports_records_beyond_the_committed_batch(
    stack: StackContext, new_topic: Callable[..., str], tmp_path: Path
) -> None:
    topic = new_topic("telemetry", 2)
    produce(stack, topic, [(b"a", b"1"), (b"b", b"2"), (b"c", b"3"), (b"d", b"4"), (b"e", b"5")])
    checkpoint = tmp_path / "checkpoints"
    # The job committed batch 0, which read partition 0 up to offset 1 and nothing of partition 1;
    # batch 1 is planned (all of it) but not committed: it does not count.
    write_batch(checkpoint / "scoring", 0, json.dumps({topic: {"0": 1}}), committed=True)
    write_batch(checkpoint / "scoring", 1, json.dumps({topic: {"0": 99, "1": 99}}), committed=False)
    env = {"FOREWARN_STREAM_CHECKPOINT_DIR": str(checkpoint), "FOREWARN_KAFKA_TELEMETRY_TOPIC": topic}

    result = CliRunner().invoke(app, ["stream", "lag", "--json"], env=env)

    assert result.exit_code == 1, result.output  # no job works on this checkpoint: that is said, not hidden
    report = json.loads(result.stdout)
    assert report["job"] == {"running": False, "pid": None}
    assert report["committed_batch"] == 0
    assert report["lag_total"] == 4, report
    assert sum(report["lag"].values()) == 4
    assert set(report["lag"]) == {f"{topic}/0", f"{topic}/1"}

    mark_job(checkpoint, os.getpid())  # this process stands in for a running job
    running = CliRunner().invoke(app, ["stream", "lag"], env=env)
    assert running.exit_code == 0, running.output
    assert f"job         running (pid {os.getpid()})" in running.stdout
    assert "lag         4 records not yet fully processed" in running.stdout
    assert f"  {topic}/1  " in running.stdout


def test_lag_command_fails_clearly_on_a_broken_checkpoint(stack: StackContext, tmp_path: Path) -> None:
    write_batch(tmp_path / "scoring", 0, "{}", committed=True)
    (tmp_path / "scoring" / "offsets" / "0").write_text("garbage")
    result = CliRunner().invoke(app, ["stream", "lag"], env={"FOREWARN_STREAM_CHECKPOINT_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert "not a Spark offset log" in result.stderr
    assert "Traceback" not in result.output
