"""`forewarn status`, `stack logs` of a run's processes, `stream lag`'s job and `demo show`, on real files and
real processes (a `sleep` stands in for a pipeline program, a tiny HTTP server for the API's /health).
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from chain.cli import app
from chain.plan import read_run_env
from chain.status import Health, Report, render, run_processes, runs_with_processes
from infra.stack.service import Health as ServiceHealth
from infra.stack.stack import Status
from streaming.progress import mark_job, running_job, unmark_job


@pytest.fixture
def sleeper() -> Iterator[int]:
    proc = subprocess.Popen(["sleep", "120"])
    yield proc.pid
    proc.kill()
    proc.wait()


@pytest.fixture
def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


@pytest.fixture
def health_server() -> Iterator[int]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            """Silent: the test's output stays readable."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()


def make_run(state: Path, name: str, pids: dict[str, int], env: dict[str, str] | None = None) -> Path:
    run_dir = state / "runs" / name
    (run_dir / "run").mkdir(parents=True)
    (run_dir / "logs").mkdir()
    for process, pid in pids.items():
        (run_dir / "run" / f"{process}.pid").write_text(f"{pid}\n")
        (run_dir / "logs" / f"{process}.log").write_text(f"{process} started\n")
    (run_dir / "run.env").write_text("".join(f"export {k}={v}\n" for k, v in (env or {}).items()))
    return run_dir


def test_a_run_env_reads_back_what_the_plan_wrote(tmp_path: Path) -> None:
    (tmp_path / "run.env").write_text("export A=plain\nexport B='with space'\nexport C='it'\\''s'\n")
    assert read_run_env(tmp_path) == {"A": "plain", "B": "with space", "C": "it's"}
    assert read_run_env(tmp_path / "nowhere") == {}


def test_processes_of_runs_are_judged(
    tmp_path: Path, sleeper: int, dead_pid: int, health_server: int
) -> None:
    run_dir = make_run(
        tmp_path, "demo-1", {"gateway": sleeper, "api": sleeper, "engine": sleeper, "stream": dead_pid},
        {"FOREWARN_API_PORT": str(health_server), "FOREWARN_ALERTS_GROUP_ID": "alerts-demo-1"},
    )  # fmt: skip
    crashed = make_run(tmp_path, "crashed", {"gateway": dead_pid})  # died without being stopped: shown
    stopped = make_run(tmp_path, "stopped", {})  # stopped on purpose: no pid file left, not shown
    assert runs_with_processes(tmp_path) == [crashed, run_dir]
    assert stopped not in runs_with_processes(tmp_path)

    found = {p.name: p for p in run_processes(tmp_path, run_dir, kafka_up=False, now_s=0.0)}

    assert found["gateway"].health is Health.HEALTHY
    assert found["api"].health is Health.HEALTHY
    assert f"127.0.0.1:{health_server}/health 200" in found["api"].detail
    assert found["engine"].health is Health.HEALTHY
    assert found["engine"].detail == "lag unknown: Kafka is down"
    assert found["stream"].health is Health.DOWN
    assert found["stream"].pid == dead_pid
    assert found["stream"].log.endswith("demo-1/logs/stream.log")


def test_an_api_that_does_not_answer_is_unhealthy(tmp_path: Path, sleeper: int) -> None:
    run_dir = make_run(tmp_path, "r", {"api": sleeper}, {"FOREWARN_API_PORT": "1"})
    (api,) = run_processes(tmp_path, run_dir, kafka_up=True, now_s=0.0)
    assert api.health is Health.UNHEALTHY
    assert "ConnectError" in api.detail


def test_the_report_is_unhealthy_when_a_service_or_a_process_is(
    tmp_path: Path, sleeper: int, dead_pid: int
) -> None:
    up = Status("kafka", "127.0.0.1:9092", 1, ServiceHealth(True, "ok"))
    down = Status("mlflow", "http://127.0.0.1:5000", None, ServiceHealth(False, "not reachable"))
    run_dir = make_run(tmp_path, "r", {"gateway": sleeper, "stream": dead_pid})
    processes = run_processes(tmp_path, run_dir, kafka_up=False, now_s=1e12)
    assert Report([up]).healthy
    assert not Report([up, down]).healthy
    assert not Report([up], processes).healthy

    text = render(Report([up], processes))
    assert "gateway  healthy" in text
    assert "stream   down" in text
    assert text.endswith("NOT all healthy")
    as_dict = Report([up], processes).as_dict()
    assert as_dict["healthy"] is False
    assert {p["name"]: p["health"] for p in as_dict["processes"]} == {"gateway": "healthy", "stream": "down"}
    assert json.loads(json.dumps(as_dict)) == as_dict  # plain JSON all the way down
    assert "no run has a live process" in render(Report([up]))


def test_stack_logs_shows_a_process_of_the_latest_run(
    tmp_path: Path, dead_pid: int, capfd: pytest.CaptureFixture[str]
) -> None:
    old = make_run(tmp_path, "run-a", {"gateway": dead_pid})
    new = make_run(tmp_path, "run-b", {"gateway": dead_pid, "train": dead_pid})
    (old / "logs" / "gateway.log").write_text("old gateway line\n")
    (new / "logs" / "gateway.log").write_text("new gateway line\n")
    os.utime(old / "logs" / "gateway.log", (1, 1))
    env = {"FOREWARN_STATE_DIR": str(tmp_path)}
    runner = CliRunner()

    # `tail` writes to the process's own stdout, past the runner's capture: read it from the descriptor
    latest = runner.invoke(app, ["stack", "logs", "gateway"], env=env)
    assert latest.exit_code == 0, latest.output
    assert capfd.readouterr().out == "new gateway line\n"
    assert "run-b" in latest.stderr

    chosen = runner.invoke(app, ["stack", "logs", "gateway", "--run", "run-a"], env=env)
    assert chosen.exit_code == 0, chosen.output
    assert capfd.readouterr().out == "old gateway line\n"

    unknown = runner.invoke(app, ["stack", "logs", "nope"], env=env)
    assert unknown.exit_code == 2
    assert "processes of run run-b: gateway, train" in unknown.stderr
    assert runner.invoke(app, ["stack", "logs", "--run", "run-z"], env=env).exit_code == 2


def test_the_job_pid_file_tells_a_running_job_from_none(tmp_path: Path, sleeper: int, dead_pid: int) -> None:
    assert running_job(tmp_path) is None
    mark_job(tmp_path, sleeper)
    assert running_job(tmp_path) == sleeper
    unmark_job(tmp_path, 12345)  # another job's pid: left alone
    assert running_job(tmp_path) == sleeper
    unmark_job(tmp_path, sleeper)
    assert running_job(tmp_path) is None
    mark_job(tmp_path, dead_pid)  # killed -9: its file stays, but it is not running
    assert running_job(tmp_path) is None


ACCOUNTING = {
    "published_readings": 120, "published_distinct_readings": 118, "published_malformed_messages": 1,
    "telemetry_readings": 119, "telemetry_duplicate_readings": 1, "scored_distinct_readings": 118,
    "risk_records": 118, "ok": True, "failures": [],
}  # fmt: skip
OUTCOMES = {
    "failures": 2, "warned": 2, "warned_in_time": 1, "missed": 0, "mode_right": 2, "lead_s_median": 1800,
    "repeat_work_orders": 0, "false_alarms": 0, "warnings_of_failures_ahead": 0,
}  # fmt: skip
SUMMARY = {
    "accounting": ACCOUNTING,
    "dead_letters": {"gateway": {"malformed_json": 1}, "stream": {}},
    "alerts_raised": 2,
    "work_orders": [],
    "outcomes": OUTCOMES,
}


def test_demo_show_prints_the_summary_with_the_addresses(tmp_path: Path) -> None:
    env_of_run = {
        "FOREWARN_API_PORT": "8907",
        "FOREWARN_MODELS_REGISTERED_MODEL": "forewarn-pumps",
        "FOREWARN_INFLUX_DATABASE": "demo_db",
    }
    run_dir = make_run(tmp_path, "demo-20260101-000000", {}, env_of_run)
    (run_dir / "summary.json").write_text(json.dumps(SUMMARY))
    env = {"FOREWARN_STATE_DIR": str(tmp_path), "FOREWARN_MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"}

    text = CliRunner().invoke(app, ["demo", "show"], env=env)
    assert text.exit_code == 0, text.output
    assert "readings ingested   119 on telemetry" in text.stdout
    assert "http://127.0.0.1:5000/#/models/forewarn-pumps" in text.stdout
    assert "http://127.0.0.1:8907/docs" in text.stdout
    assert "database demo_db" in text.stdout

    as_json = json.loads(CliRunner().invoke(app, ["demo", "show", "--json", run_dir.name], env=env).stdout)
    assert as_json["alerts_raised"] == 2
    assert as_json["addresses"]["work-order API"].startswith("http://127.0.0.1:8907/docs")

    missing = CliRunner().invoke(app, ["demo", "show", "no-such-run"], env=env)
    assert missing.exit_code == 2
    assert "no run 'no-such-run'" in missing.stderr
