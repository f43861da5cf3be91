"""A Spark standalone cluster on loopback: one master and N workers from pyspark's own launcher.

Why: the scoring job must run unchanged on a real cluster (``--master spark://…``), not only in
``local[*]``; this starts one from the installed pyspark (``<pyspark>/bin/spark-class``), so a test
or a person can try that on one machine. Each daemon runs in its own process group with its log in
the given folder; a stop reaches the executors and Python workers the daemon started.

``python -m infra.spark_cluster up --state-dir DIR`` starts one and prints its master URL;
``python -m infra.spark_cluster down --state-dir DIR`` stops it (``DIR/cluster.json`` records it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import httpx

from infra.stack.process import group_alive, is_alive, signal_group

MASTER_CLASS = "org.apache.spark.deploy.master.Master"
WORKER_CLASS = "org.apache.spark.deploy.worker.Worker"
STATE_FILE = "cluster.json"


class ClusterError(RuntimeError):
    """The cluster did not come up in time, or a daemon exited: the message carries its log's tail."""


@dataclass(frozen=True)
class ClusterSpec:
    """What to start. Ports 0 = a free one picked at start; workers are small on purpose (2 cores here)."""

    workers: int = 2
    worker_cores: int = 1
    worker_memory: str = "1g"  # what a worker offers executors: spark.executor.memory (1g) fits once
    daemon_memory: str = "512m"  # heap of the master and worker JVMs themselves (Spark's default: 1g)
    host: str = "127.0.0.1"
    master_port: int = 0
    master_ui_port: int = 0
    start_timeout_s: float = 120.0
    stop_timeout_s: float = 20.0
    python: str = field(default_factory=lambda: sys.executable)  # PYSPARK_PYTHON of the executors


@dataclass(frozen=True)
class Daemon:
    """One running JVM of the cluster."""

    role: str  # "master" | "worker-1" …
    pid: int
    log: Path
    work_dir: Path | None = None  # a worker's: one folder per application, executor logs inside


@dataclass(frozen=True)
class SparkCluster:
    """A running cluster: where to submit, where its UI answers, and its processes."""

    master_url: str  # spark://127.0.0.1:PORT
    ui_url: str  # http://127.0.0.1:PORT (``/json/``: workers, applications)
    master: Daemon
    workers: tuple[Daemon, ...]

    @property
    def daemons(self) -> tuple[Daemon, ...]:
        return (self.master, *self.workers)

    @property
    def pids(self) -> tuple[int, ...]:
        return tuple(d.pid for d in self.daemons)

    @property
    def logs(self) -> tuple[Path, ...]:
        return tuple(d.log for d in self.daemons)

    def to_json(self) -> str:
        return json.dumps(asdict(self), default=str, indent=2)

    @classmethod
    def from_json(cls, text: str) -> SparkCluster:
        raw = json.loads(text)

        def daemon(d: dict[str, Any]) -> Daemon:
            work = d.get("work_dir")
            return Daemon(d["role"], int(d["pid"]), Path(d["log"]), Path(work) if work else None)

        return cls(
            raw["master_url"], raw["ui_url"], daemon(raw["master"]), tuple(map(daemon, raw["workers"]))
        )


def spark_home() -> Path:
    """The pyspark package folder: it holds ``bin/spark-class`` and ``jars/`` like a Spark distribution."""
    import pyspark

    return Path(pyspark.__file__).resolve().parent


def master_argv(home: Path, host: str, port: int, ui_port: int) -> list[str]:
    return [str(home / "bin" / "spark-class"), MASTER_CLASS,
            "--host", host, "--port", str(port), "--webui-port", str(ui_port)]  # fmt: skip


def worker_argv(
    home: Path, master_url: str, host: str, ui_port: int, cores: int, memory: str, work_dir: Path
) -> list[str]:
    # --port 0: the worker's RPC port is only used by the master, which learns it at registration.
    return [str(home / "bin" / "spark-class"), WORKER_CLASS,
            "--host", host, "--port", "0", "--webui-port", str(ui_port),
            "--cores", str(cores), "--memory", memory, "--work-dir", str(work_dir), master_url]  # fmt: skip


def daemon_env(base: Mapping[str, str], home: Path, spec: ClusterSpec, folder: Path) -> dict[str, str]:
    """The environment of every daemon (and so of the executors and Python workers they start).

    ``SPARK_CONF_DIR`` is an empty folder of ours, so no ``spark-defaults.conf`` or ``spark-env.sh``
    found elsewhere changes the cluster; a driver's own ``SPARK_*`` settings are not passed on.
    Java comes from the machine (``JAVA_HOME`` or ``java`` on PATH, as ``spark-class`` looks).
    """
    kept = {k: v for k, v in base.items() if not k.startswith(("SPARK_", "PYSPARK_"))}
    return {
        **kept,
        "SPARK_HOME": str(home),
        "SPARK_CONF_DIR": str(folder / "conf"),
        "SPARK_LOCAL_IP": spec.host,
        "SPARK_LOCAL_DIRS": str(folder / "local"),
        "SPARK_DAEMON_MEMORY": spec.daemon_memory,
        "PYSPARK_PYTHON": spec.python,
    }


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def start(spec: ClusterSpec, folder: Path) -> SparkCluster:
    """Start the master, then the workers; return once the master lists every worker ALIVE.

    Raises ClusterError (after stopping what it started) if that takes longer than
    ``spec.start_timeout_s`` or a daemon exits first.
    """
    home = spark_home()
    for sub in ("conf", "local", "logs", "work"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    env = daemon_env(os.environ, home, spec, folder)
    port = spec.master_port or free_port(spec.host)
    ui_port = spec.master_ui_port or free_port(spec.host)
    master_url, ui_url = f"spark://{spec.host}:{port}", f"http://{spec.host}:{ui_port}"
    started: list[Daemon] = []
    try:
        started.append(_launch("master", master_argv(home, spec.host, port, ui_port), env, folder))
        for n in range(1, spec.workers + 1):
            work = folder / "work" / f"worker-{n}"
            argv = worker_argv(
                home, master_url, spec.host, free_port(spec.host), spec.worker_cores, spec.worker_memory, work
            )
            started.append(_launch(f"worker-{n}", argv, env, folder, work))
        cluster = SparkCluster(master_url, ui_url, started[0], tuple(started[1:]))
        _wait_ready(cluster, spec.workers, spec.start_timeout_s)
    except BaseException:
        for daemon in reversed(started):
            _stop_daemon(daemon, spec.stop_timeout_s)
        raise
    return cluster


def stop(cluster: SparkCluster, timeout_s: float = 20.0) -> None:
    """Workers first (their executors with them), then the master: SIGTERM, then SIGKILL the group."""
    for daemon in (*cluster.workers, cluster.master):
        _stop_daemon(daemon, timeout_s)


@contextlib.contextmanager
def running(spec: ClusterSpec, folder: Path) -> Iterator[SparkCluster]:
    """A cluster for the ``with`` block, stopped after it whatever happened."""
    cluster = start(spec, folder)
    try:
        yield cluster
    finally:
        stop(cluster, spec.stop_timeout_s)


def master_state(ui_url: str) -> dict[str, Any]:
    """The master's own view (``/json/``): ``status``, ``aliveworkers``, ``activeapps``, ``completedapps``…"""
    response = httpx.get(f"{ui_url}/json/", timeout=5.0)
    response.raise_for_status()
    state: dict[str, Any] = response.json()
    return state


def _launch(
    role: str, argv: list[str], env: dict[str, str], folder: Path, work_dir: Path | None = None
) -> Daemon:
    log = folder / "logs" / f"{role}.log"
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            cwd=folder,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: a stop reaches executors and Python workers
        )
    return Daemon(role, proc.pid, log, work_dir)


def _wait_ready(cluster: SparkCluster, workers: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    seen = "no answer"
    while True:
        dead = [d for d in cluster.daemons if not is_alive(d.pid)]
        if dead:
            raise ClusterError(f"spark {dead[0].role} exited at start:\n{_tail(dead[0].log)}")
        try:
            state = master_state(cluster.ui_url)
        except httpx.HTTPError as exc:
            seen = f"master UI not answering ({type(exc).__name__})"
        else:
            alive = int(state.get("aliveworkers", 0))
            if state.get("status") == "ALIVE" and alive >= workers:
                return
            seen = f"master {state.get('status')}, {alive}/{workers} workers alive"
        if time.monotonic() > deadline:
            logs = "\n".join(f"--- {d.role}\n{_tail(d.log)}" for d in cluster.daemons)
            raise ClusterError(f"spark cluster not ready after {timeout_s:.0f} s: {seen}\n{logs}")
        time.sleep(0.5)


def _stop_daemon(daemon: Daemon, timeout_s: float) -> None:
    if not _runs_spark(daemon.pid):
        return  # gone already, or a recorded pid now reused by another program: not ours to signal
    signal_group(daemon.pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and (is_alive(daemon.pid) or group_alive(daemon.pid)):
        time.sleep(0.2)
    if is_alive(daemon.pid) or group_alive(daemon.pid):
        signal_group(daemon.pid, signal.SIGKILL)
        while is_alive(daemon.pid):
            time.sleep(0.1)


def _runs_spark(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"org.apache.spark.deploy." in cmdline and is_alive(pid)


def _tail(log: Path, lines: int = 30) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


def main(argv: list[str] | None = None) -> int:
    """``up`` / ``down`` a cluster whose state lives in ``--state-dir`` (logs, work dirs, cluster.json)."""
    parser = argparse.ArgumentParser(prog="python -m infra.spark_cluster", description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=["up", "down"])
    parser.add_argument(
        "--state-dir", type=Path, required=True, help="folder for logs, work dirs, cluster.json"
    )
    parser.add_argument("--workers", type=int, default=ClusterSpec.workers)
    parser.add_argument("--worker-cores", type=int, default=ClusterSpec.worker_cores)
    parser.add_argument("--worker-memory", default=ClusterSpec.worker_memory)
    args = parser.parse_args(argv)
    record = args.state_dir / STATE_FILE
    if args.action == "down":
        if not record.is_file():
            print(f"no cluster recorded in {record}", file=sys.stderr)
            return 1
        stop(SparkCluster.from_json(record.read_text()))
        record.unlink()
        print("spark cluster stopped")
        return 0
    if record.is_file():
        print(f"a cluster is recorded in {record}: `down` it first", file=sys.stderr)
        return 1
    spec = ClusterSpec(workers=args.workers, worker_cores=args.worker_cores, worker_memory=args.worker_memory)
    try:
        cluster = start(spec, args.state_dir)
    except ClusterError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    record.write_text(cluster.to_json())
    print(f"{cluster.master_url}  (UI {cluster.ui_url}, logs in {args.state_dir / 'logs'})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
