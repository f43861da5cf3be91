"""``forewarn plan parts``: expected parts demand from the latest predictions, safety stock and
purchase suggestions (``alerts.planning.parts_demand``), as a table, JSON, or ``parts_plan`` points.

Reads InfluxDB ``risk`` (``FOREWARN_INFLUX_*``), the work-order store (``FOREWARN_ALERTS_DATABASE_URL``)
and the planning settings (``FOREWARN_PLAN_*``). Heavy imports happen inside the command.
"""

from __future__ import annotations

from typing import Annotated, Any, NoReturn

import orjson
import typer

from alerts.plan_cli import plan_app

_DB_VARIABLE = "FOREWARN_ALERTS_DATABASE_URL"


@plan_app.command("parts")
def plan_parts_command(
    json_out: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    service_level: Annotated[
        float | None,
        typer.Option(
            min=0.5,
            max=0.9999,
            help="P(no stock-out over a lead time), e.g. 0.95. [default: FOREWARN_PLAN_PARTS_SERVICE_LEVEL]",
        ),
    ] = None,
    all_lines: Annotated[
        bool, typer.Option("--all", help="List every SKU and site, not only those to order.")
    ] = False,
    write_influx: Annotated[
        bool, typer.Option(help="Write one `parts_plan` point per SKU and site to InfluxDB.")
    ] = False,
    database_url: Annotated[
        str | None, typer.Option(help="The work-order store.", envvar=_DB_VARIABLE)
    ] = None,
) -> None:
    """Plan parts from predicted failures: demand over each lead time, safety stock, what to order by when."""
    from datetime import UTC, datetime

    from sqlalchemy.exc import SQLAlchemyError

    from alerts.planning.parts_inputs import build, parts_points, report_json
    from alerts.planning.settings import PlanSettings
    from alerts.settings import EngineSettings, sqlite_file
    from alerts.store.db import make_engine, migrate, session_factory, transaction
    from forewarn.exits import ExitCode
    from forewarn.influx import InfluxQueryError, InfluxWriteError, InfluxWriter
    from forewarn.settings import InfluxRole, InfluxSettings, SettingsError, load

    try:
        overrides: dict[str, Any] = {"database_url": database_url} if database_url else {}
        settings = load(EngineSettings, **overrides)
        plan_settings = load(PlanSettings)
        influx = load(InfluxSettings).for_role(InfluxRole.WRITER)  # reads risk, writes parts_plan
    except SettingsError as exc:
        _fail(str(exc), ExitCode.USAGE)
    store = sqlite_file(settings.database_url)
    if store is not None and not store.is_file():
        _fail(f"no work-order store at {store}; set {_DB_VARIABLE} or --database-url", ExitCode.USAGE)
    engine = make_engine(settings.database_url)
    try:
        migrate(engine)
        with transaction(session_factory(engine)) as session:
            report = build(session, influx, plan_settings, datetime.now(UTC), service_level)
    except InfluxQueryError as exc:
        _fail(f"{exc}; check FOREWARN_INFLUX_*", ExitCode.UNREACHABLE)
    except SQLAlchemyError as exc:
        problem = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        _fail(f"the work-order store did not answer ({problem}); check {_DB_VARIABLE}", ExitCode.UNREACHABLE)
    finally:
        engine.dispose()
    if write_influx:
        try:
            with InfluxWriter(influx, retry_budget_s=10.0) as writer:
                written = writer.write(parts_points(report.plan))
        except InfluxWriteError as exc:
            _fail(f"{exc}; check FOREWARN_INFLUX_*", ExitCode.UNREACHABLE)
        typer.echo(f"wrote {written} parts_plan points", err=json_out)
    data = report_json(report)
    if json_out:
        typer.echo(orjson.dumps(data, option=orjson.OPT_INDENT_2).decode())
        return
    typer.echo(render(data, all_lines))


def render(data: dict[str, Any], all_lines: bool = False) -> str:
    """The plan as a summary line and a table of the lines to order (every line with ``all_lines``)."""
    from forewarn.table import table

    lines = [x for x in data["lines"] if all_lines or x["suggested_qty"] > 0]
    head = (
        f"parts plan at {data['now']}: {data['predictions']} predictions, service level "
        f"{data['service_level']:.3g} (z {data['z']:.2f}), review {data['review_days']:g} d; "
        f"{sum(1 for x in data['lines'] if x['suggested_qty'] > 0)} of {len(data['lines'])} SKU/site to order"
    )
    notes = []
    if data["skipped_assets"]:
        notes.append(f"assets without risk or horizon, left out: {', '.join(data['skipped_assets'][:10])}")
    if data["unkitted_modes"]:
        notes.append(f"failure modes without a kit (no parts planned): {', '.join(data['unkitted_modes'])}")
    header = ("site", "sku", "lead_d", "demand", "sd", "safety", "free", "on_order", "order_qty", "order_by")
    rows = [
        (x["site"], x["sku"], f"{x['lead_time_days']:g}", f"{x['expected_demand']:.2f}",
         f"{x['demand_sd']:.2f}", f"{x['safety_stock']:.2f}", str(x["free_stock"]), str(x["on_order"]),
         str(x["suggested_qty"]), x["order_by"] or "-")
        for x in lines
    ]  # fmt: skip
    body = table(header, rows) if rows else "nothing to order"
    return "\n".join([head, *notes, body])


def _fail(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)
