"""Bring the whole local stack up, report on it, and take it down."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from forewarn.paths import connector_jars, spark_jars_dir
from infra.stack.influxdb import InfluxDB
from infra.stack.kafka import Kafka
from infra.stack.mlflow_server import MlflowServer
from infra.stack.mosquitto import Mosquitto
from infra.stack.process import processes_mentioning, signal_group
from infra.stack.service import Health, Service, StackContext

Say = Callable[[str], None]


def services(ctx: StackContext) -> list[Service]:
    """The services in start order (stop runs in reverse)."""
    return [Mosquitto(ctx), InfluxDB(ctx), Kafka(ctx), MlflowServer(ctx)]


@dataclass(frozen=True)
class Status:
    name: str
    address: str
    pid: int | None
    health: Health
    auth: str = "-"


class StackError(RuntimeError):
    """A service could not be started; the message says which and shows its log's tail."""


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _log_tail(svc: Service, lines: int = 25) -> str:
    log = svc.daemon().log_file
    if not log.is_file():
        return "(no log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def up(ctx: StackContext, say: Say) -> list[Status]:
    """Start every service that is not already healthy, wait until all are, then provision them."""
    started: list[Service] = []
    for svc in services(ctx):
        daemon = svc.daemon()
        if svc.check().ok:
            say(f"{svc.name:<10} already up at {svc.address()}")
            continue
        if daemon.pid() is None:
            host, port = svc.listen()
            if not _port_free(host, port):
                raise StackError(
                    f"{svc.name}: {host}:{port} is taken by another program that does not answer as "
                    f"forewarn's {svc.name}; stop it or point forewarn at another port "
                    "(see `forewarn settings`)"
                )
            try:
                svc.prepare()
            except (RuntimeError, OSError) as exc:  # e.g. Kafka storage formatted before auth
                raise StackError(f"{svc.name}: {exc}") from None
            pid = svc.daemon().start()
            say(f"{svc.name:<10} starting (pid {pid}) at {svc.address()}")
        started.append(svc)

    deadline = time.monotonic() + ctx.stack.start_timeout_s
    for svc in started:
        while not (health := svc.check()).ok:
            if svc.daemon().pid() is None:
                raise StackError(f"{svc.name} exited during start; last log lines:\n{_log_tail(svc)}")
            if time.monotonic() > deadline:
                raise StackError(
                    f"{svc.name} not healthy after {ctx.stack.start_timeout_s}s ({health.detail}); "
                    f"last log lines:\n{_log_tail(svc)}"
                )
            time.sleep(0.5)
        say(f"{svc.name:<10} healthy: {health.detail}")
    for svc in services(ctx):
        svc.after_start()
    return status(ctx)


def status(ctx: StackContext) -> list[Status]:
    """Every service with its address, pid (None if not ours or not running) and a live probe."""
    rows = [Status(s.name, s.address(), s.daemon().pid(), s.check(), s.auth()) for s in services(ctx)]
    try:
        jars = connector_jars(ctx.state, ctx.spark.jars_dir)
        connector = Health(True, f"{len(jars)} jars ready")
    except RuntimeError as exc:
        connector = Health(False, str(exc))
    rows.append(Status("spark-kafka", str(spark_jars_dir(ctx.state, ctx.spark.jars_dir)), None, connector))
    return rows


# What a stack process's command line names (a streaming job that merely reads jars from the state
# folder is not part of the stack and is left alone).
STACK_PROGRAMS = ("mosquitto", "influxd", "kafka.Kafka", "StorageTool", "mlflow", "uvicorn", "gunicorn")


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def down(ctx: StackContext, say: Say) -> list[int]:
    """Stop every service (reverse order), then kill any process still naming the state folder.

    Returns the pids of leftovers that needed the sweep (normally none).
    """
    for svc in reversed(services(ctx)):
        if svc.daemon().stop(ctx.stack.stop_timeout_s):
            say(f"{svc.name:<10} stopped")
    leftovers = [
        pid
        for pid in processes_mentioning(str(ctx.state))
        if any(mark in _cmdline(pid) for mark in STACK_PROGRAMS)
    ]
    for pid in leftovers:
        signal_group(pid, signal.SIGKILL)
        say(f"killed leftover process {pid}")
    return leftovers
