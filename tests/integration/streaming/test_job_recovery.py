"""`forewarn stream run` as a real process: a new champion picked up live, kill -9 and restart lose nothing.

One scenario, in order: readings scored by version A; the champion alias moves to version B while the
query runs and later readings carry B; the job is killed with SIGKILL mid-stream; more readings arrive;
the job restarts from its checkpoint (``--once``). Every reading is then scored, and every score equals
what its model version computes offline on the same readings, which it would not if the per-asset state
had lost or double-counted a reading across the crash.
"""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pandas as pd
import pytest

from forewarn.contracts.telemetry import Reading, encode_run
from infra.stack.kafka import grant_roles
from infra.stack.service import StackContext
from tests.conftest import unique
from tests.integration.streaming.conftest import make_champion, train
from tests.integration.streaming.test_scoring_job import consume_all, fd001_test_readings, produce

pytestmark = [pytest.mark.integration, pytest.mark.spark, pytest.mark.slow]


def records(readings: list[Reading], run: int = 5) -> list[tuple[bytes, bytes]]:
    by_asset: dict[str, list[Reading]] = defaultdict(list)
    for r in readings:
        by_asset[r.asset_id].append(r)
    return [
        (asset.encode(), encode_run(rs[i : i + run]))
        for asset, rs in by_asset.items()
        for i in range(0, len(rs), run)
    ]


def split_by_cycle(readings: list[Reading], *cuts: int) -> list[list[Reading]]:
    bounds = [0, *cuts, 10**9]
    return [[r for r in readings if lo < r.seq <= hi] for lo, hi in itertools.pairwise(bounds)]


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1.0)


def test_hot_swap_then_kill9_and_restart(
    stack: StackContext, new_topic: Callable[..., str], influx_database: str, tmp_path: Path
) -> None:
    name = unique("stream-swap")
    version_a = train(stack, name, units=12)
    version_b = train(stack, name, units=20, family="extra_trees")
    make_champion(stack, version_a)
    telemetry, risk, dlq = new_topic("telemetry", 2), new_topic("risk", 2), new_topic("dlq", 1)
    readings = fd001_test_readings()
    first, second, third = split_by_cycle(readings, 40, 80)
    env = {
        **os.environ,
        "FOREWARN_KAFKA_TELEMETRY_TOPIC": telemetry,
        "FOREWARN_KAFKA_RISK_TOPIC": risk,
        "FOREWARN_KAFKA_DLQ_TOPIC": dlq,
        "FOREWARN_INFLUX_DATABASE": influx_database,
        "FOREWARN_MLFLOW_TRACKING_URI": stack.mlflow.tracking_uri,
        "FOREWARN_STREAM_MODEL_NAME": name,
        "FOREWARN_STREAM_ALIAS_REFRESH_S": "2",
        "FOREWARN_STREAM_CHECKPOINT_DIR": str(tmp_path / "checkpoints"),
        "FOREWARN_STREAM_TRIGGER_INTERVAL_S": "1",
        "FOREWARN_STREAM_MAX_OFFSETS_PER_TRIGGER": "20",
        "FOREWARN_SPARK_MASTER": "local[2]",
        "FOREWARN_SPARK_SHUFFLE_PARTITIONS": "2",
    }
    command = [sys.executable, "-m", "chain", "stream", "run"]
    # the job runs as forewarn-scoring: its ACLs on this test's topics, as on the stack's
    topics = {"telemetry_topic": telemetry, "risk_topic": risk, "dlq_topic": dlq}
    grant_roles(stack.kafka, stack.kafka.model_copy(update=topics))

    def scores() -> list[dict[str, Any]]:
        return [orjson.loads(r.value) for r in consume_all(stack, risk)]

    log = (tmp_path / "stream.log").open("w")
    job = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        produce(stack, telemetry, records(first))
        wait_for(lambda: len(scores()) >= len(first), 240, "scores of the first readings")
        make_champion(stack, version_b)
        time.sleep(4)  # > alias_refresh_s: every worker has looked again
        produce(stack, telemetry, records(second))
        wait_for(
            lambda: any(s["model_version"] == version_b.version for s in scores()),
            240,
            "a score by the new champion",
        )
        os.killpg(job.pid, signal.SIGKILL)
        job.wait(timeout=30)
    finally:
        if job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
    produce(stack, telemetry, records(third))
    restarted = subprocess.run(
        [*command, "--once"], env=env, stdout=log, stderr=subprocess.STDOUT, timeout=600
    )
    assert restarted.returncode == 0, (tmp_path / "stream.log").read_text()[-3000:]

    got = scores()
    scored = {(s["asset_id"], s["seq"]) for s in got}
    assert scored == {(r.asset_id, r.seq) for r in readings}, "every reading scored, none invented"
    versions = {s["model_version"] for s in got}
    assert versions == {version_a.version, version_b.version}
    assert all(s["model_version"] == version_b.version for s in got if s["seq"] > 80)

    import mlflow

    mlflow.set_tracking_uri(stack.mlflow.tracking_uri)
    frame = pd.DataFrame(
        [{"asset_id": r.asset_id, "cycle": r.seq, **r.settings, **r.sensors} for r in readings]
    )
    offline = {}
    for version in versions:
        model = mlflow.pyfunc.load_model(f"models:/{name}/{version}")
        predicted = model.predict(frame, params={"top_k": 0})
        keys = zip(predicted["asset_id"], predicted["cycle"].astype(int), strict=True)
        offline[version] = dict(zip(keys, predicted["rul"], strict=True))
    mismatched = [
        s
        for s in got
        if not np.isclose(s["rul_cycles"], offline[s["model_version"]][(s["asset_id"], s["seq"])], atol=1e-6)
    ]
    assert mismatched == [], f"{len(mismatched)} scores differ from offline, e.g. {mismatched[:2]}"
    letters = consume_all(stack, dlq)
    assert letters == [], "no reading was late or unscorable"
