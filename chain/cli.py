"""The one ``forewarn`` command, with a subcommand per component.

Settings are read here, at the edge, and passed inward. A bad setting or a failed service prints
one actionable line on stderr and exits non-zero.
"""

from __future__ import annotations

import importlib
import sys

import typer

from forewarn.settings import ALL_SETTINGS, ForewarnSettings, SettingsError, load
from infra.stack.cli import app as stack_app

app = typer.Typer(
    name="forewarn",
    help="Predictive maintenance for equipment fleets: telemetry → risk and RUL → proactive work orders.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(stack_app, name="stack")

# Each component's command group lives in its own package (``<package>.cli``, attribute ``<name>_app``)
# and is mounted here; a component not built yet shows as a group that says so. Component CLIs import
# heavy libraries (pyspark, mlflow, sklearn) inside their commands, so `forewarn --help` stays fast.
COMPONENTS: dict[str, tuple[str, str]] = {
    "gateway": ("ingest.cli", "MQTT → Kafka gateway with validation, dead letters and store-and-forward."),
    "simulate": ("ingest.cli", "Fleet simulator publishing over MQTT."),
    "replay": ("ingest.cli", "Replay recorded run-to-failure data (C-MAPSS) over MQTT."),
    "dlq": ("chain.dlq_cli", "Inspect and replay dead letters of every stage."),
    "stream": ("streaming.cli", "The Spark Structured Streaming scoring job."),
    "train": ("models.cli", "Train RUL and failure-risk models and register them in MLflow."),
    "models": ("models.cli", "Promote and roll back registered models."),
    "benchmark": ("models.cli", "Benchmarks on recorded datasets."),
    "alerts": ("alerts.cli", "The alert engine."),
    "api": ("alerts.cli", "The work-order service (REST)."),
    "labels": ("alerts.cli", "Training labels from work-order outcomes."),
    "dashboards": ("dashboards.cli", "Grafana dashboards as code."),
    "demo": ("chain.runs_cli", "The whole chain on the local stack."),
    "drill": ("chain.runs_cli", "Kill -9 drill of the whole chain."),
}


def _planned(name: str, summary: str) -> typer.Typer:
    group = typer.Typer(help=f"{summary} (not in this build yet)")

    @group.callback(invoke_without_command=True)
    def _not_yet() -> None:
        typer.echo(f"error: `forewarn {name}` is not part of this build yet", err=True)
        raise typer.Exit(2)

    return group


def _component(name: str, module: str, summary: str) -> typer.Typer:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return _planned(name, summary)
    group = getattr(mod, f"{name}_app", None)
    return group if isinstance(group, typer.Typer) else _planned(name, summary)


for _name, (_module, _summary) in COMPONENTS.items():
    app.add_typer(_component(_name, _module, _summary), name=_name)


# Components keep their own settings classes next to their code; `forewarn settings` shows them all.
COMPONENT_SETTINGS = (
    "ingest.settings",
    "streaming.settings",
    "models.settings",
    "alerts.settings",
    "dashboards.settings",
    "chain.settings",
)


def _all_settings() -> list[type[ForewarnSettings]]:
    found: list[type[ForewarnSettings]] = list(ALL_SETTINGS)
    for module in COMPONENT_SETTINGS:
        try:
            mod = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
            continue
        found += [
            obj
            for obj in vars(mod).values()
            if isinstance(obj, type) and issubclass(obj, ForewarnSettings) and obj.__module__ == module
        ]
    return found


@app.command("settings")
def show_settings() -> None:
    """Print every setting with the variable that sets it (secrets redacted)."""
    for cls in _all_settings():
        typer.echo(f"[{cls.__name__}]")
        for key, value in load(cls).redacted().items():
            typer.echo(f"  {key}={value}")


def main() -> None:
    """Console-script entry point: settings errors become one line on stderr and exit code 2."""
    try:
        app(prog_name="forewarn")
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
