"""``forewarn stack``: up, down, status, logs and credentials of the local stack."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Annotated

import typer

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


def _print_status(rows: list[stack_ops.Status]) -> bool:
    typer.echo(f"{'service':<12}{'state':<10}{'pid':<9}{'address':<42}detail")
    for row in rows:
        state = "healthy" if row.health.ok else "down"
        pid = str(row.pid) if row.pid else "-"
        typer.echo(f"{row.name:<12}{state:<10}{pid:<9}{row.address:<42}{row.health.detail}")
    return all(row.health.ok for row in rows)


@app.command()
def up() -> None:
    """Start every service that is not already healthy (idempotent), create topics and the database."""
    ctx = StackContext.prepared()
    try:
        rows = stack_ops.up(ctx, _say)
    except stack_ops.StackError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    _print_status(rows)


@app.command()
def down() -> None:
    """Stop every service of the stack and leave no process of it behind."""
    stack_ops.down(StackContext.from_env(), _say)


@app.command()
def status() -> None:
    """Every service with its address and health; exits 1 if any is not healthy."""
    if not _print_status(stack_ops.status(StackContext.from_env())):
        raise typer.Exit(1)


@app.command()
def logs(
    service: Annotated[
        str | None, typer.Argument(help="mosquitto, kafka, influxdb or mlflow; all if omitted")
    ] = None,
    lines: Annotated[int, typer.Option("--lines", "-n", help="Lines from the end of each log.")] = 40,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing as the logs grow.")] = False,
) -> None:
    """Show the services' logs (kept in <state>/logs)."""
    ctx = StackContext.from_env()
    names = [s.name for s in stack_ops.services(ctx)]
    if service is not None and service not in names:
        typer.echo(f"error: unknown service {service!r}; one of {', '.join(names)}", err=True)
        raise typer.Exit(2)
    files = [str(ctx.logs / f"{name}.log") for name in ([service] if service else names)]
    present = [f for f in files if (ctx.logs / f.rsplit("/", 1)[1]).is_file()]
    if not present:
        typer.echo(f"no logs yet in {ctx.logs}", err=True)
        return
    cmd = ["tail", "-n", str(lines), *(["-F"] if follow else []), *present]
    sys.exit(subprocess.call(cmd))


@app.command()
def credentials() -> None:
    """Generate local development credentials (keeps existing ones) and Mosquitto's passwd and ACL."""
    ctx = StackContext.prepared()
    broker = Mosquitto(ctx)
    broker.prepare()
    pid = broker.daemon().pid()
    if pid is not None:
        os.kill(pid, signal.SIGHUP)  # a running Mosquitto re-reads its password file and ACL
    sites = len(ctx.mqtt.site_passwords)
    typer.echo(f"credentials for the gateway and {sites} sites in {ctx.state / 'forewarn.env'}", err=True)


@app.command()
def provision() -> None:
    """Create the project's Kafka topics and InfluxDB database on the configured (maybe external) services."""
    ctx = StackContext.from_env()
    for svc in (Kafka(ctx), InfluxDB(ctx)):
        svc.after_start()
        typer.echo(f"{svc.name:<10} provisioned at {svc.address()}", err=True)
