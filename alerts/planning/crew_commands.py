"""``forewarn plan crew|shifts|exception|travel|duration|pin|seed``: the crew schedule and what it
is planned from.

``plan crew`` proposes (prints the plan, writes nothing); ``--apply`` writes it, as the dispatcher.
Every other command changes one thing in one transaction, through ``alerts.planning.crew_admin``:
bad input (an overlapping shift, negative minutes, an unknown technician) is one ``error:`` line
and exit 2, and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated

import typer

from alerts.cli import By, DatabaseUrl, JsonOut, _fail, _load, _operator, _store
from alerts.plan_cli import plan_app
from alerts.planning.crew_solvers import SolverName, solver_of

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from alerts.store.tables import ShiftRow

shifts_app = typer.Typer(help="Technicians' weekly shifts (UTC or a timezone).", no_args_is_help=True)
exception_app = typer.Typer(help="Exceptions to the weekly shifts: leave, extra hours.", no_args_is_help=True)
travel_app = typer.Typer(help="Travel minutes between sites.", no_args_is_help=True)
duration_app = typer.Typer(help="Repair minutes per failure mode.", no_args_is_help=True)
plan_app.add_typer(shifts_app, name="shifts")
plan_app.add_typer(exception_app, name="exception")
plan_app.add_typer(travel_app, name="travel")
plan_app.add_typer(duration_app, name="duration")


@contextmanager
def _change(database_url: str | None) -> Iterator[Session]:
    """One transaction on the store; a refused change is exit 2 (bad input) or 1, and rolls back."""
    from alerts.store.db import transaction
    from alerts.workorders.errors import ErrorCode, WorkOrderError

    with _store(database_url) as sessions:
        try:
            with transaction(sessions) as session:
                yield session
        except WorkOrderError as exc:
            bad_input = exc.code in (ErrorCode.INVALID, ErrorCode.NOT_FOUND)
            raise _fail(exc.detail, 2 if bad_input else 1) from None


def _now() -> datetime:
    return datetime.now(UTC)


@plan_app.command("crew")
def plan_crew(
    apply: Annotated[bool, typer.Option("--apply", help="Write the plan (default: propose only).")] = False,
    horizon_days: Annotated[
        int | None,
        typer.Option(min=1, max=92, help="Plan this many days ahead. [default: FOREWARN_PLAN_HORIZON_DAYS]"),
    ] = None,
    solver: Annotated[SolverName, typer.Option(help="CP-SAT, or the greedy baseline.")] = SolverName.CP_SAT,
    time_limit_s: Annotated[
        float | None, typer.Option(min=0.5, help="The solver's budget. [default: FOREWARN_PLAN_TIME_LIMIT_S]")
    ] = None,
    json_out: JsonOut = False,
    by: By = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Schedule the open work orders: technicians and start times within shifts, skills, travel,
    parts dates and pins; print the plan's figures and each technician's timeline."""
    from alerts.planning import crew_kpis, crew_render, crew_store
    from alerts.planning.settings import PlanSettings

    settings = _load(PlanSettings)
    actor = _operator(by)
    solve = solver_of(solver, time_limit_s or settings.time_limit_s, settings.workers)
    step_of = _registry_step_of() if settings.rul_step_from_registry else None
    now = _now()
    with _change(database_url) as session:
        run = crew_store.plan_crew(
            session,
            settings,
            solve,
            now=now,
            actor=actor,
            apply_plan=apply,
            horizon_days=horizon_days,
            step_of=step_of,
        )
        kpis = crew_kpis.crew_kpis(
            crew_store.facts(session, settings, step_of=step_of), run.problem, run.plan
        )
    doc = crew_render.document(run.problem, run.plan, kpis, run.applied)
    typer.echo(doc.model_dump_json(indent=2) if json_out else crew_render.text(doc))


def _registry_step_of() -> Callable[[str | None, str | None], float | None]:
    """The RUL step of a model version from its registry tags; None when MLflow cannot tell."""
    from alerts.report import ReportError, mlflow_unit_of
    from forewarn.settings import MlflowRole, MlflowSettings

    unit_of = mlflow_unit_of(_load(MlflowSettings).for_role(MlflowRole.READER))

    def step_of(name: str | None, version: str | None) -> float | None:
        if not name or not version:
            return None
        try:
            return unit_of(name, version).step_s
        except ReportError:
            return None

    return step_of


Tech = Annotated[str, typer.Argument(metavar="TECH", help="The technician's id or exact name.")]


@shifts_app.command("set")
def shifts_set(
    tech: Tech,
    weekday: Annotated[str, typer.Option(help="mon..sun, a range (mon-fri) or a list (sat,sun).")],
    from_: Annotated[str, typer.Option("--from", help="Start, HH:MM.")],
    to: Annotated[str, typer.Option("--to", help="End, HH:MM (24:00 for midnight).")],
    timezone: Annotated[str, typer.Option(help="IANA timezone of the times.")] = "UTC",
    replace: Annotated[bool, typer.Option(help="Replace those weekdays' shifts instead of adding.")] = False,
    by: By = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add a shift to a technician's weekly calendar (refused when it overlaps one of the same day)."""
    from alerts.planning import crew_admin
    from alerts.planning.crew_calendar import CalendarError, WeeklyShift, parse_clock, parse_weekdays

    try:
        days = parse_weekdays(weekday)
        start, end = parse_clock(from_), parse_clock(to, end=True)
    except CalendarError as exc:
        raise _fail(str(exc), 2) from None
    actor = _operator(by)
    with _change(database_url) as session:
        rows = crew_admin.set_shifts(
            session,
            tech,
            [WeeklyShift(d, start, end, timezone) for d in days],
            replace=replace,
            actor=actor,
            now=_now(),
        )
        typer.echo(_calendar_text(rows))


@shifts_app.command("clear")
def shifts_clear(
    tech: Tech,
    weekday: Annotated[str | None, typer.Option(help="Only these weekdays (default: all).")] = None,
    by: By = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Remove a technician's weekly shifts."""
    from alerts.planning import crew_admin
    from alerts.planning.crew_calendar import CalendarError, parse_weekdays

    try:
        days = parse_weekdays(weekday) if weekday else None
    except CalendarError as exc:
        raise _fail(str(exc), 2) from None
    actor = _operator(by)
    with _change(database_url) as session:
        gone = crew_admin.clear_shifts(session, tech, days, actor=actor, now=_now())
    typer.echo(f"removed {gone} shift(s)")


@shifts_app.command("list")
def shifts_list(
    tech: Annotated[
        str | None, typer.Argument(metavar="[TECH]", help="One technician (default: all).")
    ] = None,
    json_out: JsonOut = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Every technician's weekly calendar."""
    from sqlalchemy import select

    from alerts.planning import crew_admin
    from alerts.store.tables import TechnicianRow

    with _change(database_url) as session:
        techs = (
            [crew_admin.technician(session, tech)] if tech else list(session.scalars(select(TechnicianRow)))
        )
        out = {t.id: (t.name, crew_admin.weekly_of(session, t.id)) for t in techs}
    if json_out:
        typer.echo(json.dumps({str(k): _calendar_data(rows) for k, (_, rows) in out.items()}, indent=2))
        return
    for tech_id, (name, rows) in out.items():
        typer.echo(f"{name} [#{tech_id}]: {_calendar_text(rows) or 'no shifts'}")


def _calendar_data(rows: Sequence[ShiftRow]) -> list[dict[str, object]]:
    from alerts.planning.crew_calendar import WEEKDAYS, clock_text

    return [
        {
            "weekday": WEEKDAYS[r.weekday],
            "from": clock_text(r.start_min),
            "to": clock_text(r.end_min),
            "timezone": r.timezone,
        }
        for r in rows
    ]


def _calendar_text(rows: Sequence[ShiftRow]) -> str:
    return ", ".join(f"{d['weekday']} {d['from']}-{d['to']} {d['timezone']}" for d in _calendar_data(rows))


class Kind(StrEnum):
    """An exception's kind (``alerts.planning.crew_calendar.ExceptionKind``)."""

    UNAVAILABLE = "unavailable"
    EXTRA = "extra"


def _instant(text: str, option: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise _fail(f"{option} {text!r}: give an ISO 8601 time, e.g. 2026-12-01T08:00Z", 2) from None
    return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)


@exception_app.command("add")
def exception_add(
    tech: Tech,
    reason: Annotated[str, typer.Option(help="Why (leave, training, call-out…).")],
    kind: Annotated[Kind, typer.Option(help="Unavailable, or extra hours.")] = Kind.UNAVAILABLE,
    on: Annotated[str | None, typer.Option("--date", help="A whole day (UTC), YYYY-MM-DD.")] = None,
    from_: Annotated[str | None, typer.Option("--from", help="Start (ISO 8601; UTC when no offset).")] = None,
    to: Annotated[str | None, typer.Option("--to", help="End (ISO 8601; UTC when no offset).")] = None,
    by: By = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Add an exception to a technician's calendar: a day (--date) or an interval (--from/--to)."""
    from alerts.planning import crew_admin
    from alerts.planning.crew_calendar import ExceptionKind

    if (on is None) == (from_ is None and to is None) or (on is None and (from_ is None or to is None)):
        raise _fail("give either --date, or both --from and --to", 2)
    if on is not None:
        try:
            day = date.fromisoformat(on)
        except ValueError:
            raise _fail(f"--date {on!r}: give YYYY-MM-DD", 2) from None
        start = datetime.combine(day, time(0), tzinfo=UTC)
        end = start + timedelta(days=1)
    else:
        start, end = _instant(from_ or "", "--from"), _instant(to or "", "--to")
    actor = _operator(by)
    new = crew_admin.NewException(ExceptionKind(kind.value), start, end, reason)
    with _change(database_url) as session:
        row = crew_admin.add_exception(session, tech, new, actor=actor, now=_now())
        typer.echo(
            f"exception {row.id}: technician {row.technician_id} {row.kind} {row.start:%Y-%m-%d %H:%M}"
            f" to {row.end:%Y-%m-%d %H:%M} UTC ({row.reason})"
        )


@exception_app.command("list")
def exception_list(
    tech: Annotated[
        str | None, typer.Argument(metavar="[TECH]", help="One technician (default: all).")
    ] = None,
    json_out: JsonOut = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Calendar exceptions, by start."""
    from alerts.planning import crew_admin

    with _change(database_url) as session:
        tech_id = crew_admin.technician(session, tech).id if tech else None
        rows = crew_admin.exceptions_of(session, tech_id)
        if json_out:
            fields = ("id", "technician_id", "kind", "start", "end", "reason")
            items = [{f: getattr(r, f) for f in fields} for r in rows]
            typer.echo(json.dumps(items, indent=2, default=lambda t: t.isoformat()))
            return
        for r in rows:
            typer.echo(
                f"{r.id}\t#{r.technician_id}\t{r.kind}\t{r.start:%Y-%m-%d %H:%M}\t"
                f"{r.end:%Y-%m-%d %H:%M}\t{r.reason}"
            )


@exception_app.command("remove")
def exception_remove(
    exception_id: Annotated[int, typer.Argument(metavar="ID")],
    by: By = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Remove an exception."""
    from alerts.planning import crew_admin

    actor = _operator(by)
    with _change(database_url) as session:
        crew_admin.remove_exception(session, exception_id, actor=actor, now=_now())
    typer.echo(f"removed exception {exception_id}")


@travel_app.command("set")
def travel_set(
    site_a: Annotated[str, typer.Argument(metavar="A")],
    site_b: Annotated[str, typer.Argument(metavar="B")],
    minutes: Annotated[int, typer.Argument(metavar="MIN", help="Minutes either way (0 or more).")],
    by: By = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Set the travel minutes between two sites (both ways)."""
    from alerts.planning import crew_admin

    actor = _operator(by)
    with _change(database_url) as session:
        row = crew_admin.set_travel(session, site_a, site_b, minutes, actor=actor, now=_now())
        typer.echo(f"{row.site_a} <-> {row.site_b}: {row.minutes} min")


@travel_app.command("list")
def travel_list(json_out: JsonOut = False, database_url: DatabaseUrl = None) -> None:
    """Every travel time."""
    from alerts.planning import crew_admin

    with _change(database_url) as session:
        table = crew_admin.travel_table(session)
    if json_out:
        typer.echo(
            json.dumps([{"a": a, "b": b, "minutes": m} for (a, b), m in sorted(table.items())], indent=2)
        )
        return
    for (a, b), m in sorted(table.items()):
        typer.echo(f"{a} <-> {b}: {m} min")


@duration_app.command("set")
def duration_set(
    failure_mode: Annotated[str, typer.Argument(metavar="MODE")],
    minutes: Annotated[int, typer.Argument(metavar="MIN", help="Minutes on site (1 or more).")],
    by: By = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Set how long a repair of a failure mode takes."""
    from alerts.planning import crew_admin

    actor = _operator(by)
    with _change(database_url) as session:
        row = crew_admin.set_duration(session, failure_mode, minutes, actor=actor, now=_now())
        typer.echo(f"{row.failure_mode}: {row.minutes} min")


@duration_app.command("list")
def duration_list(json_out: JsonOut = False, database_url: DatabaseUrl = None) -> None:
    """Every repair duration."""
    from alerts.planning import crew_admin

    with _change(database_url) as session:
        table = crew_admin.durations(session)
    if json_out:
        typer.echo(json.dumps(table, indent=2, sort_keys=True))
        return
    for mode, m in sorted(table.items()):
        typer.echo(f"{mode}: {m} min")


@plan_app.command("pin")
def pin(
    work_order_id: Annotated[int, typer.Argument(metavar="WORK_ORDER")],
    off: Annotated[bool, typer.Option("--off", help="Unpin: let the planner move it again.")] = False,
    by: By = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Pin a scheduled work order where it is: re-planning never moves it."""
    from alerts.planning import crew_admin

    actor = _operator(by)
    with _change(database_url) as session:
        row = crew_admin.pin(session, work_order_id, not off, actor=actor, now=_now())
    typer.echo(f"work order {row.id} {'pinned' if row.pinned else 'unpinned'}")
