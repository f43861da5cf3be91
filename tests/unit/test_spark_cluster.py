"""The standalone-cluster launcher's pure parts: command lines, environment, the recorded cluster.

The cluster itself runs in tests/integration/streaming/test_standalone_cluster.py.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from infra.spark_cluster import (
    MASTER_CLASS,
    WORKER_CLASS,
    ClusterSpec,
    Daemon,
    SparkCluster,
    daemon_env,
    master_argv,
    spark_home,
    stop,
    worker_argv,
)
from infra.stack.process import is_alive


def test_daemons_start_from_the_pyspark_installation_on_loopback(tmp_path: Path) -> None:
    home = spark_home()
    assert (home / "bin" / "spark-class").is_file()
    assert (home / "jars").is_dir()
    assert master_argv(home, "127.0.0.1", 7077, 8080) == [
        str(home / "bin" / "spark-class"), MASTER_CLASS,
        "--host", "127.0.0.1", "--port", "7077", "--webui-port", "8080",
    ]  # fmt: skip
    worker = worker_argv(home, "spark://127.0.0.1:7077", "127.0.0.1", 8081, 1, "1g", tmp_path)
    assert worker[:2] == [str(home / "bin" / "spark-class"), WORKER_CLASS]
    assert worker[-1] == "spark://127.0.0.1:7077", "the master URL is the worker's one argument"
    options = dict(zip(worker[2:-1:2], worker[3:-1:2], strict=True))
    assert options == {
        "--host": "127.0.0.1",
        "--port": "0",
        "--webui-port": "8081",
        "--cores": "1",
        "--memory": "1g",
        "--work-dir": str(tmp_path),
    }


def test_executors_run_the_given_python_and_ignore_the_callers_spark_settings(tmp_path: Path) -> None:
    spec = ClusterSpec(python="/venv/bin/python", daemon_memory="256m")
    base = {"PATH": "/usr/bin", "SPARK_CONF_DIR": "/etc/spark", "PYSPARK_PYTHON": "python3", "HOME": "/root"}
    env = daemon_env(base, Path("/opt/pyspark"), spec, tmp_path)
    assert env["PYSPARK_PYTHON"] == "/venv/bin/python"
    assert env["SPARK_CONF_DIR"] == str(tmp_path / "conf")
    assert env["SPARK_HOME"] == "/opt/pyspark"
    assert env["SPARK_LOCAL_IP"] == "127.0.0.1"
    assert env["SPARK_DAEMON_MEMORY"] == "256m"
    assert env["PATH"] == "/usr/bin"
    assert env["HOME"] == "/root"


def test_recorded_cluster_round_trips(tmp_path: Path) -> None:
    cluster = SparkCluster(
        "spark://127.0.0.1:7077",
        "http://127.0.0.1:8080",
        Daemon("master", 10, tmp_path / "master.log"),
        (Daemon("worker-1", 11, tmp_path / "w1.log", tmp_path / "work" / "worker-1"),),
    )
    assert SparkCluster.from_json(cluster.to_json()) == cluster
    assert cluster.pids == (10, 11)
    assert cluster.logs == (tmp_path / "master.log", tmp_path / "w1.log")


def test_stop_leaves_a_recorded_pid_alone_once_another_program_holds_it(tmp_path: Path) -> None:
    """A stale cluster.json must not signal whatever reuses its pids."""
    other = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        stale = SparkCluster("spark://x:1", "http://x:2", Daemon("master", other.pid, tmp_path / "m.log"), ())
        stop(stale, timeout_s=1.0)
        assert is_alive(other.pid)
    finally:
        other.kill()
        other.wait()
