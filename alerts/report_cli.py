"""``forewarn report asset``: one page (HTML or PNG) of an asset's sensors, risk and RUL over time.

Mounted by ``chain/cli.py`` as ``forewarn report``. Reads InfluxDB (``FOREWARN_INFLUX_*``), the
work-order store (``FOREWARN_ALERTS_DATABASE_URL``) and the model registry (``FOREWARN_MLFLOW_*``,
for the unit the model's RUL counts in). Heavy imports (matplotlib, SQLAlchemy) happen inside.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

report_app = typer.Typer(
    help="Reports for people without Grafana: an asset's sensors, risk and RUL with alerts and work orders.",
    no_args_is_help=True,
)

_AGO = re.compile(r"^(\d+(?:\.\d+)?)\s*([smhdw])$")
_UNIT_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
_DB_VARIABLE = "FOREWARN_ALERTS_DATABASE_URL"


@report_app.callback()
def _report() -> None:
    """Reports for people without Grafana: an asset's sensors, risk and RUL with alerts and work orders."""


def parse_time(value: str, option: str, now: datetime) -> datetime:
    """An ISO 8601 time with a UTC offset, or a span before ``now`` (``90m``, ``12h``, ``7d``, ``2w``).

    Raises:
        typer.BadParameter: neither (the message shows both forms).
    """
    ago = _AGO.match(value.strip())
    if ago:
        return now - timedelta(seconds=float(ago.group(1)) * _UNIT_S[ago.group(2)])
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise typer.BadParameter(
            f"{value!r} is neither a time with a UTC offset (2026-12-01T00:00:00Z) nor a span ago (7d, 12h)",
            param_hint=option,
        )
    return parsed.astimezone(UTC)


@report_app.command("asset")
def asset_report(
    asset_id: Annotated[str, typer.Argument(metavar="ASSET", help="The asset's id, e.g. pump-0007.")],
    out: Annotated[
        Path | None,
        typer.Option(
            help="File to write: .html (figure and tables) or .png (the figure). [default: ASSET.html]"
        ),
    ] = None,
    since: Annotated[
        str, typer.Option(help="Start (event time): ISO 8601 with offset, or a span ago such as 7d or 12h.")
    ] = "30d",
    until: Annotated[str | None, typer.Option(help="End (event time), as --since. [default: now]")] = None,
    database_url: Annotated[
        str | None, typer.Option(help="The work-order store.", envvar="FOREWARN_ALERTS_DATABASE_URL")
    ] = None,
) -> None:
    """Write one page of ASSET's sensors, risk and RUL over time, its alerts and work orders marked."""
    from sqlalchemy.exc import SQLAlchemyError

    from alerts.report import MarkerKind, ReportError, SourceUnreachableError, Window, build, mlflow_unit_of
    from alerts.report_render import ReportFormat, write
    from alerts.settings import EngineSettings, sqlite_file
    from alerts.store.db import make_engine, migrate, session_factory, transaction
    from forewarn import logs
    from forewarn.exits import ExitCode
    from forewarn.settings import InfluxRole, InfluxSettings, MlflowRole, MlflowSettings, load

    logs.setup("report")
    target = out or Path(f"{asset_id}.html")
    now = datetime.now(UTC)
    try:
        ReportFormat.of(target)
        window = Window(
            parse_time(since, "--since", now), parse_time(until, "--until", now) if until else now
        )
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    db_override: dict[str, Any] = {"database_url": database_url} if database_url else {}
    settings = load(EngineSettings, **db_override)
    store = sqlite_file(settings.database_url)
    if store is not None and not store.is_file():  # a wrong path should say so, not draw no alerts
        _fail(f"no alert store at {store}; set {_DB_VARIABLE} or --database-url", ExitCode.USAGE)
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
        with transaction(session_factory(engine)) as session:
            influx = load(InfluxSettings).for_role(InfluxRole.READER)
            unit_of = mlflow_unit_of(load(MlflowSettings).for_role(MlflowRole.READER))
            data = build(asset_id, window, influx, session, unit_of)
    except SourceUnreachableError as exc:
        _fail(str(exc), ExitCode.UNREACHABLE)
    except ReportError as exc:
        _fail(str(exc), ExitCode.FAILED)
    except SQLAlchemyError as exc:
        problem = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        _fail(f"the work-order store did not answer ({problem}); check {_DB_VARIABLE}", ExitCode.UNREACHABLE)
    finally:
        engine.dispose()
    write(data, target)
    scores = sum(len(s.times_ms) for s in data.scores)
    models = ", ".join(sorted({f"{s.model_name} v{s.model_version}" for s in data.scores})) or "no model"
    alerts = sum(1 for m in data.markers if m.kind is MarkerKind.ALERT)
    typer.echo(
        f"wrote {target}: {asset_id}, {len(data.sensors)} sensors, {scores:,} scores by {models} "
        f"(RUL in {data.unit.label()}), {alerts} alerts, {len(data.markers) - alerts} work orders"
    )


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)
