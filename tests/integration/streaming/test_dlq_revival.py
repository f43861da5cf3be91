"""A dead letter of the scoring job, fixed, revived by ``forewarn dlq replay`` and then scored.

Readings reach ``telemetry`` without the sensors the champion needs: the real job dead-letters them
as ``unscorable`` (stage ``scoring``, their canonical run as the payload). ``forewarn dlq replay``
with a rewrite hook that puts the sensors back re-validates them as canonical telemetry (not as MQTT
messages: their source is a Kafka coordinate) and sends them to ``telemetry``; the job, run again
from its checkpoint, scores every one of them.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from chain.cli import app
from forewarn.contracts.dead_letter import ScoringReason, Stage
from forewarn.contracts.dead_letter import decode as decode_dead_letter
from forewarn.contracts.telemetry import Reading, encode_run
from infra.stack.service import StackContext
from streaming.job import JobConfig, start
from streaming.settings import StreamSettings
from streaming.sinks import DEAD_LETTER_SAMPLES
from tests.integration.streaming.conftest import TrainedModel
from tests.integration.streaming.test_scoring_job import consume_all, fd001_test_readings, produce

pytestmark = [pytest.mark.integration, pytest.mark.spark]

ENGINE = "-004"
READINGS = 6


@functools.cache
def _originals() -> dict[tuple[str, int], dict[str, float]]:
    return {
        (r.asset_id, r.seq): dict(r.sensors) for r in fd001_test_readings() if r.asset_id.endswith(ENGINE)
    }


def restore_sensors(payload: bytes) -> bytes:
    """The ``--rewrite`` fix: each reading of the run gets the sensors its site forgot to send."""
    run = orjson.loads(payload)
    return orjson.dumps([{**r, "sensors": _originals()[r["asset_id"], r["seq"]]} for r in run])


def run_job_once(spark: Any, config: JobConfig) -> None:
    for query in start(spark, config, once=True):
        query.awaitTermination(timeout=600)
        assert query.exception() is None, query.exception()


def test_an_unscorable_reading_fixed_is_revived_and_scored(
    stack: StackContext,
    spark: Any,
    champion_model: TrainedModel,
    new_topic: Callable[..., str],
    influx_database: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    telemetry, risk, dlq = new_topic("telemetry", 1), new_topic("risk", 1), new_topic("dlq", 1)
    engine = [r for r in fd001_test_readings() if r.asset_id.endswith(ENGINE)][:READINGS]
    stripped = [Reading(r.asset_id, r.site, r.ts_ms, r.seq, r.settings, {"probe": 1.0}) for r in engine]
    produce(stack, telemetry, [(engine[0].asset_id.encode(), encode_run(stripped))])
    config = JobConfig(
        stream=StreamSettings(model_name=champion_model.name, alias_refresh_s=3600, top_features=2),
        kafka=stack.kafka.model_copy(
            update={"telemetry_topic": telemetry, "risk_topic": risk, "dlq_topic": dlq}
        ),
        influx=stack.influx.model_copy(update={"database": influx_database}),
        mlflow=stack.mlflow,
        checkpoint_dir=tmp_path / "checkpoints",
    )
    with caplog.at_level(logging.INFO, logger="streaming"):
        run_job_once(spark, config)
    assert consume_all(stack, risk) == []
    letters = [decode_dead_letter(r.value) for r in consume_all(stack, dlq)]
    assert {(d.stage, d.reason) for d in letters} == {(Stage.SCORING, ScoringReason.UNSCORABLE)}
    assert len(letters) == READINGS
    # the log names the reason and source of the first few, and counts them per batch
    logged = [
        r.getMessage() for r in caplog.records if r.name == "streaming.sinks" and r.levelno == logging.WARNING
    ]
    sources = {d.source for d in letters}
    assert len(logged) == min(DEAD_LETTER_SAMPLES, READINGS)  # one micro-batch: its first few letters
    assert all(
        m.split(" from ")[0] == "dead letter unscorable" and m.split(" from ")[1] in sources for m in logged
    )
    batches = [r.getMessage() for r in caplog.records if r.getMessage().startswith("batch ")]
    assert any(f"dead letters {READINGS} (unscorable {READINGS})" in b for b in batches), batches

    def replay(*args: str) -> dict[str, Any]:
        result = CliRunner().invoke(
            app,
            ["dlq", "replay", "--topic", dlq, *args],
            env={"FOREWARN_KAFKA_TELEMETRY_TOPIC": telemetry, "FOREWARN_KAFKA_RISK_TOPIC": risk},
        )
        assert result.exit_code == 0, result.output
        report: dict[str, Any] = orjson.loads(result.stdout)
        return report

    rewrite = f"{__name__}:restore_sensors"
    report = replay("--dry-run", "--stage", "gateway")
    assert (report["selected"], report["records_sent"]) == (0, 0)
    report = replay("--reason", "unscorable", "--rewrite", rewrite)
    assert (report["selected"], report["revived"], report["readings_sent"]) == (READINGS, READINGS, READINGS)
    assert report["by_reason"] == {
        "scoring/unscorable": {"selected": READINGS, "revived": READINGS, "still_dead": {}}
    }
    assert report["send_failures"] == 0

    run_job_once(spark, config)
    scores = [orjson.loads(r.value) for r in consume_all(stack, risk)]
    assert sorted((s["asset_id"], s["seq"]) for s in scores) == [(r.asset_id, r.seq) for r in engine]
    assert len(consume_all(stack, dlq)) == READINGS, (
        "no new dead letters; the old ones stay (the audit trail)"
    )
