"""`forewarn stack up` is idempotent and `down` leaves no process behind.

Runs a second, throw-away stack (own state folder, free ports) so the session's shared stack is
untouched, through the same CLI `make up` / `make down` call.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from infra.stack.process import port_open, processes_mentioning
from infra.stack.service import StackContext

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FOREWARN = [sys.executable, "-m", "chain"]


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*FOREWARN, *args], env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_up_twice_is_harmless_and_down_leaves_nothing(stack: StackContext, tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "jars").symlink_to(stack.state / "jars")  # reuse what `make setup` resolved
    mqtt, kafka, controller, influx, influx_rpc, mlflow = _free_ports(6)
    env = {
        **os.environ,
        "FOREWARN_STATE_DIR": str(state),
        "FOREWARN_MQTT_PORT": str(mqtt),
        "FOREWARN_KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{kafka}",
        "FOREWARN_STACK_KAFKA_CONTROLLER_PORT": str(controller),
        "FOREWARN_STACK_KAFKA_HEAP_MB": "384",
        "FOREWARN_INFLUX_URL": f"http://127.0.0.1:{influx}",
        "FOREWARN_STACK_INFLUX_RPC_PORT": str(influx_rpc),
        "FOREWARN_MLFLOW_TRACKING_URI": f"http://127.0.0.1:{mlflow}",
    }
    env.pop("FOREWARN_MQTT_PASSWORD", None)
    env.pop("FOREWARN_MQTT_SITE_PASSWORDS", None)
    try:
        first = _run(["stack", "up"], env)
        assert first.returncode == 0, first.stderr
        assert first.stderr.count("starting") == 4
        pids_before = {p.name: p.read_text() for p in (state / "run").glob("*.pid")}
        assert set(pids_before) == {"mosquitto.pid", "kafka.pid", "influxdb.pid", "mlflow.pid"}

        second = _run(["stack", "up"], env)
        assert second.returncode == 0, second.stderr
        assert second.stderr.count("already up") == 4
        assert "starting" not in second.stderr
        assert {p.name: p.read_text() for p in (state / "run").glob("*.pid")} == pids_before

        status = _run(["stack", "status"], env)
        assert status.returncode == 0, status.stdout
        for port in (mqtt, kafka, influx, mlflow):
            assert f":{port}" in status.stdout
    finally:
        down = _run(["stack", "down"], env)
    assert down.returncode == 0, down.stderr
    assert processes_mentioning(str(state)) == []
    assert not any(port_open("127.0.0.1", p) for p in (mqtt, kafka, controller, influx, mlflow))
    assert list((state / "run").glob("*.pid")) == []
    after = _run(["stack", "status"], env)
    assert after.returncode == 1
    assert after.stdout.count(" down ") == 4
