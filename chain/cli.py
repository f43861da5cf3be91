"""The one ``forewarn`` command, with a subcommand per component (noun verb: ``forewarn stack up``).

Settings are read here, at the edge, and passed inward. Every command prints plain text for a
person by default; those that list or show print one JSON document with ``--json``. Errors are
one line on stderr that says what to do, never a traceback for an expected failure
(:mod:`chain.command`, :mod:`chain.failures`), and the exit status means the same everywhere
(:class:`forewarn.exits.ExitCode`):

- 0: done, or the thing checked is healthy;
- 1: the thing checked failed or is unhealthy (a gate refused, a process is down, a query is empty);
- 2: a bad option, argument or setting (nothing was attempted);
- 3: a service (Kafka, MLflow, InfluxDB, a database) did not answer.
"""

from __future__ import annotations

import importlib
import json
import os
from collections.abc import Callable
from typing import Annotated, Any

import typer

from chain.command import ForewarnGroup
from forewarn.exits import ExitCode
from forewarn.settings import ALL_SETTINGS, ForewarnSettings, SettingsError, load
from infra.stack.cli import app as stack_app

app = typer.Typer(
    name="forewarn",
    help="Predictive maintenance for equipment fleets: telemetry → risk and RUL → proactive work orders.",
    epilog="Exit status: 0 done or healthy, 1 failed or unhealthy, 2 bad option or setting, 3 a service did "
    "not answer. Commands that list or show take --json. `forewarn status` shows what runs.",
    cls=ForewarnGroup,
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(stack_app, name="stack")

# Each component's commands live in its own package (``<package>.cli``) and are mounted here: a
# command group as attribute ``<name>_app`` (a typer.Typer: ``forewarn stack up``), a single command
# as ``<name>_command`` (a function: ``forewarn simulate``); a component not built yet shows as a
# group that says so. Component CLIs import heavy libraries (pyspark, mlflow, sklearn) inside their
# commands, so `forewarn --help` stays fast.
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
    "users": ("alerts.users_cli", "Console and API users, roles and per-user API tokens."),
    "plan": ("alerts.plan_cli", "Service planning: crew schedules, parts inventory and demand."),
    "parts": ("alerts.plan_cli", "Parts inventory as movements: receive, issue, transfer, return."),
    "report": ("alerts.report_cli", "An asset's sensors, risk and RUL on one page (HTML/PNG)."),
    "dashboards": ("dashboards.cli", "Grafana dashboards as code."),
    "demo": ("chain.runs_cli", "The whole chain on the local stack."),
    "drill": ("chain.runs_cli", "Kill -9 drill of the whole chain."),
    "assets": ("ingest.assets_cli", "The asset register: every asset belongs to one site."),
}


def _planned(name: str, summary: str) -> typer.Typer:
    group = typer.Typer(help=f"{summary} (not in this build yet)")

    @group.callback(invoke_without_command=True)
    def _not_yet() -> None:
        typer.echo(f"error: `forewarn {name}` is not part of this build yet", err=True)
        raise typer.Exit(ExitCode.USAGE)

    return group


def _component(name: str, module: str, summary: str) -> typer.Typer | Callable[..., Any]:
    try:
        mod = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return _planned(name, summary)
    group = getattr(mod, f"{name}_app", None)
    command = getattr(mod, f"{name}_command", None)
    if isinstance(group, typer.Typer):
        return group
    return command if callable(command) else _planned(name, summary)


for _name, (_module, _summary) in COMPONENTS.items():
    _found = _component(_name, _module, _summary)
    if isinstance(_found, typer.Typer):
        app.add_typer(_found, name=_name)
    else:
        app.command(_name)(_found)


# Components keep their own settings classes next to their code; `forewarn settings` shows them all.
COMPONENT_SETTINGS = (
    "ingest.settings",
    "streaming.settings",
    "models.settings",
    "models.drift_job",
    "models.lifecycle.settings",
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
def show_settings(
    as_json: Annotated[
        bool, typer.Option("--json", help="One JSON object: section → variable → value.")
    ] = False,
    strict: Annotated[bool, typer.Option(help="Exit 2 when any section's settings are invalid.")] = False,
) -> None:
    """Print every setting with the variable that sets it (secrets redacted).

    A section whose settings are invalid shows its problem in one line instead (for example the API
    token, which only `forewarn api serve` needs); the command still exits 0 unless ``--strict``.
    """
    sections: dict[str, dict[str, Any]] = {}
    problems = 0
    for cls in _all_settings():
        try:
            sections[cls.__name__] = load(cls).redacted()
        except SettingsError as exc:
            sections[cls.__name__] = {"error": str(exc).removeprefix("invalid settings: ")}
            problems += 1
    if as_json:
        typer.echo(json.dumps(sections, indent=2, default=str))
    else:
        for title, values in sections.items():
            typer.echo(f"[{title}]")
            if set(values) == {"error"}:
                typer.echo(f"  invalid: {values['error']}")
                continue
            for key, value in values.items():
                typer.echo(f"  {key}={_as_set(value)}")
    if strict and problems:
        typer.echo(f"error: invalid settings in {problems} section(s), shown above", err=True)
        raise typer.Exit(ExitCode.USAGE)


def _as_set(value: Any) -> str:
    """A setting's value as one would write it in the variable (JSON for lists and maps)."""
    if value is None:
        return "(unset)"
    return json.dumps(value) if isinstance(value, list | dict) else str(value)


@app.command("status")
def status(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object instead of the tables.")] = False,
) -> None:
    """The stack's services and the pipeline processes of running runs, with their health and lag.

    Services as `forewarn stack status` shows them; then every run with a live process
    (gateway, scoring job, alert engine, API under ``.state/runs/<run>/``): alive or not, when its
    log last moved, the API's /health, the scoring job's and the alert engine's lag. Exits 1 if
    anything is unhealthy.
    """
    from chain import status as status_ops
    from infra.stack.service import StackContext

    report = status_ops.gather(StackContext.from_env())
    typer.echo(json.dumps(report.as_dict(), indent=2) if as_json else status_ops.render(report))
    if not report.healthy:
        raise typer.Exit(ExitCode.FAILED)


def main() -> None:
    """Console-script entry point (``forewarn``); errors and exit statuses: :class:`ForewarnGroup`.

    Everything forewarn writes (the generated credentials, work orders, logs naming assets and
    users, service data) is for the user who runs it alone: files mode 600, folders 700. The stack's
    services and the pipeline's processes inherit the mask.
    """
    os.umask(0o077)
    app(prog_name="forewarn")
