"""The command line against the real stack: `forewarn status` judges a run's processes and measures their lag
on real Kafka; `models list` of an unknown model names the models MLflow has.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata
from mlflow import MlflowClient
from typer.testing import CliRunner

from chain.cli import app
from forewarn.exits import ExitCode
from infra.stack.service import StackContext
from tests.conftest import unique
from tests.integration.streaming.test_scoring_job import produce
from tests.unit.streaming.test_progress import write_batch

pytestmark = [pytest.mark.integration]


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(["sleep", "300"])  # stands in for the run's scoring job and alert engine
    yield proc
    proc.kill()
    proc.wait()


def test_status_shows_a_runs_processes_with_their_lag(
    stack: StackContext, new_topic: Callable[..., str], tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    telemetry, risk = new_topic("telemetry", 2), new_topic("risk", 1)
    produce(stack, telemetry, [(b"a", b"1"), (b"b", b"2"), (b"c", b"3"), (b"d", b"4"), (b"e", b"5")])
    produce(stack, risk, [(b"a", b"1"), (b"a", b"2"), (b"a", b"3")])
    group = unique("alerts")
    committer = KafkaConsumer(**stack.kafka.client_config(), group_id=group, enable_auto_commit=False)
    committer.commit({TopicPartition(risk, 0): OffsetAndMetadata(1, "", -1)})  # the engine did 1 of 3
    committer.close()
    # a state folder of our own (only this run in it) that shares the stack's credentials and jars
    for name in ("forewarn.env", "jars"):
        (tmp_path / name).symlink_to(stack.state / name)
    run_dir = tmp_path / "runs" / "test-run"
    write_batch(run_dir / "checkpoints" / "scoring", 0, json.dumps({telemetry: {"0": 1}}), committed=True)
    (run_dir / "run").mkdir(parents=True)
    for process in ("stream", "engine"):
        (run_dir / "run" / f"{process}.pid").write_text(f"{sleeper.pid}\n")
    run_env = {
        "FOREWARN_KAFKA_TELEMETRY_TOPIC": telemetry,
        "FOREWARN_KAFKA_RISK_TOPIC": risk,
        "FOREWARN_STREAM_CHECKPOINT_DIR": str(run_dir / "checkpoints"),
        "FOREWARN_ALERTS_GROUP_ID": group,
    }
    (run_dir / "run.env").write_text("".join(f"export {k}={v}\n" for k, v in run_env.items()))

    result = CliRunner().invoke(app, ["status", "--json"], env={"FOREWARN_STATE_DIR": str(tmp_path)})

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["healthy"] is True
    assert {s["service"] for s in report["services"]} >= {"mosquitto", "kafka", "influxdb", "mlflow"}
    processes = {p["name"]: p for p in report["processes"]}
    assert processes["stream"]["lag"] == 4, processes["stream"]  # 5 records, the committed batch read 1
    assert processes["engine"]["lag"] == 2, processes["engine"]
    assert processes["engine"]["detail"] == f"group {group} on {risk}"
    assert {p["run"] for p in report["processes"]} == {"test-run"}

    text = CliRunner().invoke(app, ["status"], env={"FOREWARN_STATE_DIR": str(tmp_path)})
    assert text.exit_code == 0
    assert "test-run  stream   healthy" in text.stdout
    assert text.stdout.rstrip().endswith("all healthy")

    sleeper.kill()  # both die without being stopped: their pid files stay
    sleeper.wait()
    down = CliRunner().invoke(app, ["status", "--json"], env={"FOREWARN_STATE_DIR": str(tmp_path)})
    assert down.exit_code == ExitCode.FAILED
    assert {p["name"]: p["health"] for p in json.loads(down.stdout)["processes"]} == {
        "stream": "down",
        "engine": "down",
    }


def test_models_list_of_an_unknown_model_names_the_ones_there(stack: StackContext) -> None:
    client = MlflowClient(tracking_uri=stack.mlflow.tracking_uri)
    there = unique("test-listed")
    client.create_registered_model(there)
    try:
        result = CliRunner().invoke(
            app,
            ["models", "list", "--name", "no-such-model"],
            env={"FOREWARN_MLFLOW_TRACKING_URI": stack.mlflow.tracking_uri},
        )
        assert result.exit_code == ExitCode.USAGE, result.output
        (line,) = result.stderr.strip().splitlines()
        assert line.startswith("error: MLflow at http")
        assert "no registered model 'no-such-model'" in line
        assert there in line
        assert "Traceback" not in result.output
    finally:
        client.delete_registered_model(there)
