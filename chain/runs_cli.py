"""``forewarn demo`` (and ``forewarn demo stop``): the main job on the local stack.

Settings are read here (``FOREWARN_DEMO_*``, options override them) and passed inward.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer

from forewarn.settings import SettingsError, StackSettings, load

demo_app = typer.Typer(help="The whole chain on the local stack: train, stream a fleet, raise work orders.")


def _say(text: str) -> None:
    typer.echo(text)
    sys.stdout.flush()


@demo_app.callback(invoke_without_command=True)
def demo(
    ctx: typer.Context,
    assets: Annotated[int | None, typer.Option(min=1, help="Pumps in the fleet.")] = None,
    steps: Annotated[int | None, typer.Option(min=30, help="Readings per pump.")] = None,
    speed: Annotated[str | None, typer.Option(help="Simulated seconds per wall second, or 'max'.")] = None,
    run_id: Annotated[str | None, typer.Option(help="Names the run's topics and folder.")] = None,
) -> None:
    """Train and promote a model, start gateway, scoring job, alert engine and API, stream the fleet.

    Ends with a summary: readings ingested, dead letters, alerts, work orders with technician and
    parts, and where MLflow, the API and the boards answer. The API keeps running for exploring;
    ``forewarn demo stop`` (or ``make down``) stops it.
    """
    if ctx.invoked_subcommand is not None:
        return
    from chain.demo import run_demo
    from chain.settings import DemoSettings

    overrides = {k: v for k, v in {"assets": assets, "steps": steps, "speed": speed}.items() if v is not None}
    try:
        state_dir = load(StackSettings).state_dir
        settings = load(DemoSettings, state_dir, **overrides)
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    rid = run_id or "demo-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    result = run_demo(state_dir, settings, rid, _say)
    raise typer.Exit(0 if result else 1)


@demo_app.command("stop")
def stop() -> None:
    """Stop every pipeline process a demo, test or drill run left running."""
    from chain.demo import stop_runs

    for line in stop_runs(load(StackSettings).state_dir):
        typer.echo(line)


@demo_app.command("show")
def show(
    run_dir: Annotated[Path | None, typer.Argument(help="A run folder; default the latest demo.")] = None,
) -> None:
    """Print the summary JSON of a finished run."""
    state_dir = load(StackSettings).state_dir
    runs = sorted((state_dir / "runs").glob("demo-*/summary.json"))
    path = run_dir / "summary.json" if run_dir else (runs[-1] if runs else None)
    if path is None or not path.exists():
        typer.echo("error: no finished demo run yet (make demo)", err=True)
        raise typer.Exit(1)
    typer.echo(orjson.dumps(orjson.loads(path.read_bytes()), option=orjson.OPT_INDENT_2).decode())


drill_app = typer.Typer(
    help="Kill -9 each part of the chain in turn while a fleet streams; check nothing is lost."
)


@drill_app.callback(invoke_without_command=True)
def drill(
    assets: Annotated[int, typer.Option(min=1, help="Pumps in the fleet.")] = 40,
    steps: Annotated[int, typer.Option(min=30, help="Readings per pump.")] = 300,
    speed: Annotated[str, typer.Option(help="Simulated seconds per wall second.")] = "60",
) -> None:
    """Kill gateway, Kafka broker, scoring job, alert engine and InfluxDB in turn, restart each, then check.

    Exits 1 unless 0 readings were lost (published = telemetry + dead letters, all scored) and no
    work order was duplicated.
    """
    from chain.drill import run_drill
    from chain.settings import DemoSettings

    state_dir = load(StackSettings).state_dir
    try:
        settings = load(DemoSettings, state_dir, assets=assets, steps=steps, speed=speed, api_port=8912)
        float(settings.speed)
    except (SettingsError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    raise typer.Exit(0 if run_drill(state_dir, settings, _say) else 1)
