"""``forewarn stack``: up, down, status, logs and credentials of the local stack."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from forewarn.exits import ExitCode
from forewarn.table import table
from infra.stack import stack as stack_ops
from infra.stack.influxdb import InfluxDB
from infra.stack.kafka import Kafka
from infra.stack.mosquitto import Mosquitto
from infra.stack.service import StackContext

app = typer.Typer(
    help="The local stack of real services (Mosquitto, Kafka, InfluxDB, MLflow).", no_args_is_help=True
)


def _say(line: str) -> None:
    typer.echo(line, err=True)


def status_dict(row: stack_ops.Status) -> dict[str, Any]:
    """One service's status as JSON-able data (``--json`` of `stack status` and `forewarn status`)."""
    return {"service": row.name, "healthy": row.health.ok, "pid": row.pid, "address": row.address,
            "auth": row.auth, "detail": row.health.detail}  # fmt: skip


def _print_status(rows: list[stack_ops.Status], as_json: bool = False) -> bool:
    if as_json:
        typer.echo(json.dumps([status_dict(row) for row in rows], indent=2))
    else:
        cells = [
            [
                row.name,
                "healthy" if row.health.ok else "down",
                str(row.pid or "-"),
                row.address,
                row.auth,
                row.health.detail,
            ]
            for row in rows
        ]
        typer.echo(table(["service", "state", "pid", "address", "auth", "detail"], cells))
    return all(row.health.ok for row in rows)


@app.command()
def up() -> None:
    """Start every service that is not already healthy (idempotent), create topics and the database."""
    ctx = StackContext.prepared()
    try:
        rows = stack_ops.up(ctx, _say)
    except stack_ops.StackError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(ExitCode.FAILED) from None
    _print_status(rows)


@app.command()
def down() -> None:
    """Stop every service of the stack and leave no process of it behind."""
    stack_ops.down(StackContext.from_env(), _say)


@app.command()
def status(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON list instead of the table.")] = False,
) -> None:
    """Every service with its address and health; exits 1 if any is not healthy.

    `forewarn status` shows the pipeline processes of running runs as well.
    """
    if not _print_status(stack_ops.status(StackContext.from_env()), as_json):
        raise typer.Exit(ExitCode.FAILED)


@app.command()
def logs(
    name: Annotated[
        str | None,
        typer.Argument(
            help="A service (mosquitto, kafka, influxdb, mlflow) or a process of a run (gateway, stream, "
            "engine, api, train, …); every service if omitted."
        ),
    ] = None,
    run: Annotated[
        str | None,
        typer.Option(
            "--run", help="The run (folder under <state>/runs) whose processes to show; default the latest."
        ),
    ] = None,
    lines: Annotated[int, typer.Option("--lines", "-n", min=1, help="Lines from the end of each log.")] = 40,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing as the logs grow.")] = False,
) -> None:
    """Show the logs of the stack's services (<state>/logs) or of a run's processes (<state>/runs/<run>/logs).

    Without a name: every service's log, or with `--run` every log of that run.
    """
    ctx = StackContext.from_env()
    services = {s.name: ctx.logs / f"{s.name}.log" for s in stack_ops.services(ctx)}
    run_dir = _run_dir(ctx.state / "runs", run)
    processes = {p.stem: p for p in sorted(run_dir.glob("logs/*.log"))} if run_dir else {}
    if name is None:
        files = list(processes.values()) if run else list(services.values())
    elif name in services and not run:
        files = [services[name]]
    elif name in processes:
        files = [processes[name]]
    else:
        where = f"; processes of run {run_dir.name}: {', '.join(processes) or 'none'}" if run_dir else ""
        typer.echo(f"error: no log named {name!r}; services: {', '.join(services)}{where}", err=True)
        raise typer.Exit(ExitCode.USAGE)
    present = [str(f) for f in files if f.is_file()]
    if not present:
        typer.echo(f"no logs yet in {files[0].parent if files else ctx.logs}", err=True)
        return
    if run_dir is not None and len(present) == 1 and Path(present[0]).is_relative_to(run_dir):
        typer.echo(f"==> run {run_dir.name}: {present[0]} <==", err=True)
    cmd = ["tail", "-n", str(lines), *(["-F"] if follow else []), *present]
    sys.exit(subprocess.call(cmd))


def _run_dir(runs: Path, run: str | None) -> Path | None:
    """The run folder named ``run``, or the one whose logs moved last; None when there is no run."""
    if run is not None:
        if not (runs / run).is_dir():
            known = sorted((p.name for p in runs.glob("*") if p.is_dir()), reverse=True)[:8]
            typer.echo(f"error: no run {run!r} in {runs}; recent: {', '.join(known) or 'none'}", err=True)
            raise typer.Exit(ExitCode.USAGE)
        return runs / run
    logged = [
        (max(f.stat().st_mtime for f in logs), p)
        for p in runs.glob("*")
        if (logs := list(p.glob("logs/*.log")))
    ]
    return max(logged)[1] if logged else None


@app.command()
def credentials() -> None:
    """Generate local development credentials (keeps existing ones) and Mosquitto's passwd and ACL.

    The passwords (MQTT sites and gateway; a Kafka, InfluxDB and MLflow user per component role)
    go to the mode-600 env file only; they are never printed. Kafka, InfluxDB and MLflow take new
    users at the next `forewarn stack up`.
    """
    ctx = StackContext.prepared()
    broker = Mosquitto(ctx)
    broker.prepare()
    pid = broker.daemon().pid()
    if pid is not None:
        os.kill(pid, signal.SIGHUP)  # a running Mosquitto re-reads its password file and ACL
    sites = len(ctx.mqtt.site_passwords)
    roles = len(ctx.kafka.users) + len(ctx.influx.users) + len(ctx.mlflow.users)
    typer.echo(
        f"credentials for the gateway, {sites} sites and {roles} Kafka/InfluxDB/MLflow users"
        f" in {ctx.state / 'forewarn.env'} (mode 600)",
        err=True,
    )


@app.command()
def provision() -> None:
    """Create the project's Kafka topics and InfluxDB database on the configured (maybe external) services."""
    ctx = StackContext.from_env()
    for svc in (Kafka(ctx), InfluxDB(ctx)):
        svc.after_start()
        typer.echo(f"{svc.name:<10} provisioned at {svc.address()}", err=True)
