"""The kill drill, short, in CI: its own stack (state folder and ports), auth on, a small fleet.

``forewarn drill`` kills -9 the gateway, the Kafka broker, the scoring job, the alert engine and
InfluxDB once each while the fleet streams, brings each back with the project's own scripts, and
exits 1 on any lost or unscored reading or any duplicate work order. The long drill stays
``make drill``; this one runs the same code on 8 pumps for about two minutes of stream.

The drill gets a stack of its own (a temporary state folder, ports 5xxxx) because it kills Kafka
and InfluxDB: the session's shared stack, which other tests use, is never touched.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from forewarn import paths

pytestmark = [pytest.mark.e2e, pytest.mark.integration, pytest.mark.spark, pytest.mark.slow]

VICTIMS = ("gateway", "kafka", "stream", "engine", "influxdb")
FOREWARN = [sys.executable, "-m", "chain"]


def _drill_env(state: Path) -> dict[str, str]:
    """The environment of a stack that shares nothing with the session's: folder and every port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FOREWARN_", "MLFLOW_"))}
    env.update(
        FOREWARN_STATE_DIR=str(state),
        FOREWARN_MQTT_PORT="51883",
        FOREWARN_KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:59092",
        FOREWARN_STACK_KAFKA_CONTROLLER_PORT="59093",
        FOREWARN_INFLUX_URL="http://127.0.0.1:58086",
        FOREWARN_STACK_INFLUX_RPC_PORT="58088",
        FOREWARN_MLFLOW_TRACKING_URI="http://127.0.0.1:55000",
        FOREWARN_STACK_KAFKA_HEAP_MB="512",
    )
    return env


def _forewarn(env: dict[str, str], *args: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FOREWARN, *args],
        env=env,
        cwd=paths.project_root(),
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@pytest.fixture(scope="module")
def drill_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """A second stack for the drill; the jars `make setup` resolved are shared, not copied."""
    state = tmp_path_factory.mktemp("drill-state")
    (state / "jars").symlink_to(paths.default_state_dir() / "jars")
    env = _drill_env(state)
    up = _forewarn(env, "stack", "up", timeout_s=300)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        yield env
    finally:
        _forewarn(env, "demo", "stop", timeout_s=120)
        _forewarn(env, "stack", "down", timeout_s=120)


def test_stack_of_the_drill_runs_with_auth_on_every_service(drill_stack: dict[str, str]) -> None:
    status = _forewarn(drill_stack, "stack", "status", "--json", timeout_s=120)
    assert status.returncode == 0, status.stdout + status.stderr
    auth = {row["service"]: row["auth"] for row in json.loads(status.stdout)}
    assert "SCRAM" in auth["kafka"]
    assert auth["influxdb"] != "none"
    assert auth["mlflow"] != "none"
    assert auth["mosquitto"] != "none"


def test_short_drill_loses_nothing_with_auth_on(drill_stack: dict[str, str]) -> None:
    drill = _forewarn(
        drill_stack, "drill", "--assets", "8", "--steps", "120", "--api-port", "58912", timeout_s=1500
    )
    out = drill.stdout + drill.stderr
    assert drill.returncode == 0, out[-6000:]
    assert "drill passed" in out
    killed = re.findall(r"^killed (\w+)\s", out, flags=re.MULTILINE)
    assert sorted(killed) == sorted(VICTIMS), out[-3000:]
    assert re.search(r"^lost\s+0$", out, flags=re.MULTILINE), out[-3000:]
    assert re.search(r"^unscored\s+0$", out, flags=re.MULTILINE), out[-3000:]
    assert re.search(r"^work orders\s+\d+, duplicates 0$", out, flags=re.MULTILINE), out[-3000:]


def test_nothing_the_drill_wrote_is_readable_by_others(drill_stack: dict[str, str]) -> None:
    """Credentials, work orders, logs and service data: the owner's alone (after the drill wrote them)."""
    state = Path(drill_stack["FOREWARN_STATE_DIR"])
    exposed = []
    for folder, dirs, files in os.walk(state):  # the jars symlink is not followed
        for name in [*dirs, *files]:
            path = Path(folder) / name
            if path.is_symlink():
                continue
            mode = path.stat().st_mode & 0o777
            if mode & 0o077:
                exposed.append(f"{oct(mode)} {path.relative_to(state)}")
    assert (state / "forewarn.env").is_file()
    assert list(state.glob("runs/*/work_orders.db"))
    assert not exposed, exposed[:40]
