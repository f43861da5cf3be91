"""Expected failures reach a person as one line and an exit status that means something, never a traceback.

The "missing service" cases point the settings at a closed loopback port (nothing listens on port 1),
with short client timeouts, so they run without any service and stay fast.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.main import get_command
from typer.testing import CliRunner, Result

from chain.cli import app
from chain.command import plain, walk
from chain.failures import expected, reason
from forewarn.exits import ExitCode
from forewarn.paths import default_state_dir, project_root
from forewarn.settings import SettingsError

CLOSED = {
    "FOREWARN_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
    "FOREWARN_KAFKA_BOOTSTRAP_TIMEOUT_S": "1",
    "FOREWARN_MLFLOW_TRACKING_URI": "http://127.0.0.1:1",
    "FOREWARN_MLFLOW_HTTP_MAX_RETRIES": "0",
    "FOREWARN_INFLUX_URL": "http://127.0.0.1:1",
    "FOREWARN_INFLUX_TIMEOUT_S": "2",
    "FOREWARN_MQTT_PORT": "1",
    "FOREWARN_ALERTS_DATABASE_URL": "postgresql+psycopg://forewarn@127.0.0.1:1/forewarn",
}
PATHS = {" ".join(path) for path, _ in walk(get_command(app))}


def error_line(result: Result) -> str:
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


# Commands that only read and need a service; a command another engineer has not added yet is skipped.
READERS = [
    (["models", "list"], ExitCode.UNREACHABLE, "MLflow"),
    (["stream", "lag"], ExitCode.UNREACHABLE, "Kafka"),
    (["dashboards", "verify"], ExitCode.UNREACHABLE, "127.0.0.1:1"),
    (["alerts", "kpis"], ExitCode.UNREACHABLE, "database"),
    (["dlq", "list"], None, "Kafka"),
    (["alerts", "list"], None, "127.0.0.1"),
]


@pytest.mark.parametrize(
    ("args", "code", "names"), READERS, ids=lambda v: " ".join(v) if isinstance(v, list) else ""
)
def test_a_reader_without_its_service_says_so_in_one_line(
    args: list[str], code: ExitCode | None, names: str, tmp_path: Path
) -> None:
    if " ".join(args) not in PATHS:
        pytest.skip(f"`forewarn {' '.join(args)}` is not in this build yet")
    env = {
        **CLOSED,
        "FOREWARN_STATE_DIR": str(tmp_path),
        "FOREWARN_STREAM_CHECKPOINT_DIR": str(tmp_path / "cp"),
    }
    started = time.monotonic()
    result = CliRunner().invoke(app, args, env=env)
    assert time.monotonic() - started < 20  # the settings' short timeouts are what the clients use
    assert result.exit_code != 0
    if code is not None:
        assert result.exit_code == code, result.output
    line = error_line(result)
    assert names in line


def test_status_without_services_reports_them_down_and_exits_1(tmp_path: Path) -> None:
    (tmp_path / "jars").symlink_to(default_state_dir() / "jars")  # what `make setup` resolved
    result = CliRunner().invoke(
        app, ["status", "--json"], env={**CLOSED, "FOREWARN_STATE_DIR": str(tmp_path)}
    )
    assert result.exit_code == ExitCode.FAILED, result.output
    assert "Traceback" not in result.output
    report = json.loads(result.stdout)
    assert report["healthy"] is False
    down = {s["service"] for s in report["services"] if not s["healthy"]}
    assert {"kafka", "mlflow", "influxdb", "mosquitto"} <= down
    assert report["processes"] == []


def test_the_installed_command_prints_one_line_and_the_status(tmp_path: Path) -> None:
    # the process as a person runs it: the real stderr, the real exit status, the console entry point
    done = subprocess.run(
        [sys.executable, "-m", "chain", "models", "list"],
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), **CLOSED, "FOREWARN_STATE_DIR": str(tmp_path)},
        cwd=project_root(), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == ExitCode.UNREACHABLE, done.stderr
    assert done.stderr.strip().count("\n") == 0, done.stderr
    assert done.stderr.startswith("error: cannot reach MLflow at http://127.0.0.1:1 (Connection refused)")
    assert "FOREWARN_MLFLOW_TRACKING_URI" in done.stderr


def test_a_bad_setting_is_one_line_with_the_variable_and_exit_2(tmp_path: Path) -> None:
    env = {"FOREWARN_STATE_DIR": str(tmp_path), "FOREWARN_KAFKA_BOOTSTRAP_SERVERS": "no-port-here"}
    result = CliRunner().invoke(app, ["stream", "lag"], env=env)
    assert result.exit_code == ExitCode.USAGE
    assert "FOREWARN_KAFKA_BOOTSTRAP_SERVERS" in error_line(result)


def test_settings_shows_every_section_even_when_one_is_invalid(tmp_path: Path) -> None:
    env = {
        "FOREWARN_STATE_DIR": str(tmp_path),
        "FOREWARN_API_SESSION_TTL_H": "-5",
        "FOREWARN_KAFKA_RISK_TOPIC": "r1",
    }
    result = CliRunner().invoke(app, ["settings"], env=env)
    assert result.exit_code == 0, result.output
    assert "[ApiSettings]\n  invalid: FOREWARN_API_SESSION_TTL_H" in result.stdout
    assert "FOREWARN_KAFKA_RISK_TOPIC=r1" in result.stdout
    assert "[EngineSettings]" in result.stdout  # the sections after the invalid one are there
    assert result.stderr == ""

    strict = CliRunner().invoke(app, ["settings", "--strict"], env=env)
    assert strict.exit_code == ExitCode.USAGE
    assert "invalid settings in 1 section" in error_line(strict)

    as_json = json.loads(CliRunner().invoke(app, ["settings", "--json"], env=env).stdout)
    assert set(as_json["ApiSettings"]) == {"error"}
    assert as_json["KafkaSettings"]["FOREWARN_KAFKA_RISK_TOPIC"] == "r1"
    assert as_json["KafkaSettings"]["FOREWARN_KAFKA_SASL_PASSWORD"] is None


def test_settings_lists_json_values_as_one_would_set_them(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["settings"], env={"FOREWARN_STATE_DIR": str(tmp_path)})
    assert 'FOREWARN_DEMO_SITES=["site-1", "site-2"]' in result.stdout
    assert "FOREWARN_KAFKA_SASL_MECHANISM=(unset)" in result.stdout


# -- the classifier on its own ------------------------------------------------------------------------


def test_expected_failures_map_to_their_exit_status() -> None:
    request = httpx.Request("GET", "http://127.0.0.1:1/query?u=admin&p=secret")
    unreachable = expected(httpx.ConnectError("[Errno 111] Connection refused", request=request))
    assert unreachable is not None
    assert unreachable.code is ExitCode.UNREACHABLE
    assert "http://127.0.0.1:1/query (Connection refused)" in unreachable.message
    assert "secret" not in unreachable.message  # credentials in a query string never reach the screen

    setting = expected(SettingsError("invalid settings: FOREWARN_X: bad"))
    assert setting is not None
    assert setting.code is ExitCode.USAGE
    assert expected(ConnectionRefusedError(111, "Connection refused")) is not None
    assert expected(ValueError("a bug")) is None  # unexpected errors keep their traceback
    assert expected(KeyError("x")) is None


def test_kafka_and_mlflow_errors_are_recognised() -> None:
    from kafka.errors import KafkaConnectionError, KafkaTimeoutError
    from mlflow.exceptions import MlflowException, RestException

    for exc in (KafkaConnectionError(), KafkaTimeoutError("Unable to bootstrap from ['127.0.0.1:1']")):
        failure = expected(exc)
        assert failure is not None
        assert failure.code is ExitCode.UNREACHABLE
        assert "Kafka" in failure.message
        assert "FOREWARN_KAFKA_BOOTSTRAP_SERVERS" in failure.message
    down = expected(MlflowException("API request to http://x/api failed with exception HTTPConnectionPool("
                                    "host='x', port=1): Max retries exceeded with url: /api (Caused by "
                                    "NewConnectionError('<obj>: Failed to establish a new connection: "
                                    "[Errno 111] Connection refused'))"))  # fmt: skip
    assert down is not None
    assert down.code is ExitCode.UNREACHABLE
    assert "(Connection refused)" in down.message
    missing = expected(
        RestException({"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Model 'm' not found"})  # type: ignore[no-untyped-call]
    )
    assert missing is not None
    assert missing.code is ExitCode.FAILED
    assert missing.message == "MLflow: RESOURCE_DOES_NOT_EXIST: Model 'm' not found"


def test_a_database_outage_is_unreachable_but_a_bad_query_is_a_failure() -> None:
    from sqlalchemy.exc import OperationalError

    down = expected(OperationalError("SELECT 1", {}, Exception('connection to server at "h", port 1 failed')))
    assert down is not None
    assert down.code is ExitCode.UNREACHABLE
    locked = expected(OperationalError("UPDATE x", {}, Exception("database is locked")))
    assert locked is not None
    assert locked.code is ExitCode.FAILED


def test_reason_keeps_the_operating_systems_words() -> None:
    assert reason("HTTPConnectionPool(...): [Errno 111] Connection refused'))") == "Connection refused"
    assert reason("no errno\nhere") == "no errno here"


def test_plain_help_drops_sphinx_markup() -> None:
    assert (
        plain("reads ``risk`` via :func:`streaming.progress.lag`")
        == "reads `risk` via `streaming.progress.lag`"
    )
    assert plain(None) is None
