"""``forewarn demo`` (``stop``, ``show``) and ``forewarn drill``: the whole chain on the local stack.

Settings are read here (``FOREWARN_DEMO_*``, options override them) and passed inward.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import orjson
import typer

from forewarn.exits import ExitCode
from forewarn.settings import SettingsError, StackSettings, load

# no help= here: `forewarn demo --help` shows the docstring of `demo` below, which says what a run does
demo_app = typer.Typer(subcommand_metavar="[stop | show]")  # bare `forewarn demo` runs the demo


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
    drift: Annotated[
        bool,
        typer.Option(
            "--drift",
            help="The closed loop: one site changes mid-run (FOREWARN_DEMO_DRIFT_CHANGE), the watch sees"
            " the drift, retrains on the crews' labels and promotes; the fleet streams again and is"
            " judged against the first run. Real time, one reading a second per pump.",
        ),
    ] = False,
) -> None:
    """The whole chain on the local stack: train, start the pipeline, stream a fleet, raise work orders.

    Trains and promotes a model, starts the API, the alert engine, the scoring job and the gateway,
    streams a simulated fleet, and ends with a summary: readings ingested, dead letters, alerts,
    work orders with technician and parts, and where MLflow, the API and InfluxDB answer. The API
    keeps running for exploring; ``forewarn demo show`` prints the summary again, ``forewarn demo
    stop`` (or ``make down``) stops what the run left running.
    """
    if ctx.invoked_subcommand is not None:
        return
    from chain.demo import run_demo
    from chain.settings import DemoSettings

    overrides: dict[str, object] = {
        k: v for k, v in {"assets": assets, "steps": steps, "speed": speed}.items() if v is not None
    }
    if drift:  # crews' labels and readings on one clock: real time (chain.closed_loop)
        if speed not in (None, "1"):
            typer.echo("error: --drift runs in real time; leave --speed out", err=True)
            raise typer.Exit(ExitCode.USAGE)
        overrides |= {"drift": True, "speed": "1", "interval_s": 1.0}
    try:
        state_dir = load(StackSettings).state_dir
        settings = load(DemoSettings, state_dir, **overrides)
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(ExitCode.USAGE) from None
    rid = run_id or "demo-" + datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    result = run_demo(state_dir, settings, rid, _say)
    raise typer.Exit(ExitCode.OK if result else ExitCode.FAILED)


@demo_app.command("stop")
def stop() -> None:
    """Stop every pipeline process a demo, test or drill run left running."""
    from chain.demo import stop_runs

    for line in stop_runs(load(StackSettings).state_dir):
        typer.echo(line)


@demo_app.command("show")
def show(
    run: Annotated[
        str | None,
        typer.Argument(help="A run: its name under <state>/runs or its folder; default the latest demo."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="The summary as JSON, with the addresses.")] = False,
) -> None:
    """Show the summary of a finished run and where its services answer (MLflow, API, InfluxDB)."""
    from chain.demo import addresses
    from chain.plan import read_run_env
    from chain.summary import render

    state_dir = load(StackSettings).state_dir
    if run is None:
        finished = sorted((state_dir / "runs").glob("demo-*/summary.json"))
        run_dir = finished[-1].parent if finished else None
    else:
        run_dir = next((d for d in (Path(run), state_dir / "runs" / run) if d.is_dir()), None)
        if run_dir is None:
            typer.echo(f"error: no run {run!r} (a folder, or a name under {state_dir / 'runs'})", err=True)
            raise typer.Exit(ExitCode.USAGE)
    if run_dir is None or not (run_dir / "summary.json").is_file():
        which = "no finished demo run yet" if run_dir is None else f"{run_dir} has no summary (not finished)"
        typer.echo(f"error: {which}: `make demo` runs one", err=True)
        raise typer.Exit(ExitCode.FAILED)
    result = orjson.loads((run_dir / "summary.json").read_bytes())
    where = addresses(state_dir, run_dir, read_run_env(run_dir))
    if as_json:
        typer.echo(orjson.dumps({**result, "addresses": where}, option=orjson.OPT_INDENT_2).decode())
    else:
        typer.echo(render(result, where).lstrip("\n"))


def drill_command(
    assets: Annotated[int, typer.Option(min=1, help="Pumps in the fleet.")] = 40,
    steps: Annotated[int, typer.Option(min=30, help="Readings per pump.")] = 300,
    speed: Annotated[str, typer.Option(help="Simulated seconds per wall second.")] = "60",
    api_port: Annotated[int, typer.Option(min=1, max=65535, help="Port of the drill's API.")] = 8912,
) -> None:
    """Kill gateway, Kafka broker, scoring job, alert engine and InfluxDB in turn, restart each, then check.

    Exits 1 unless 0 readings were lost (published = telemetry + dead letters, all scored) and no
    work order was duplicated.
    """
    from chain.drill import run_drill
    from chain.settings import DemoSettings

    state_dir = load(StackSettings).state_dir
    try:
        settings = load(DemoSettings, state_dir, assets=assets, steps=steps, speed=speed, api_port=api_port)
        float(settings.speed)
    except (SettingsError, ValueError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(ExitCode.USAGE) from None
    raise typer.Exit(ExitCode.OK if run_drill(state_dir, settings, _say) else ExitCode.FAILED)
