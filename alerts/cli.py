"""``forewarn alerts``, ``forewarn api serve``, ``forewarn labels export``.

Settings are read here and passed inward; heavy imports happen inside the commands. Operators'
actions (``alerts ack|snooze``) call the same functions, in one transaction, as the REST API, so a
change is audited and published through the outbox exactly as an API action is. Errors are one
line on stderr: exit 2 for bad input (a bad option, an unknown alert), 1 for a refused action or a
store that cannot be opened.
"""

from __future__ import annotations

import getpass
import json
import logging
import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from forewarn.contracts.alert import AlertState, Severity
from forewarn.settings import ForewarnSettings, InfluxRole, InfluxSettings, KafkaSettings, SettingsError, load

if TYPE_CHECKING:
    from pydantic import ValidationError
    from sqlalchemy.orm import Session, sessionmaker

    from alerts.api.schemas import AlertOut

S = TypeVar("S", bound=ForewarnSettings)

alerts_app = typer.Typer(
    help="Alerts: the engine that raises them; list, show, ack and snooze for the people who act on them.",
    no_args_is_help=True,
)
api_app = typer.Typer(help="The work-order REST service.", no_args_is_help=True)
labels_app = typer.Typer(help="Training labels from work-order outcomes.", no_args_is_help=True)


@alerts_app.callback()
def _alerts() -> None:
    """Alerts: the engine that raises them; list, show, ack and snooze for the people who act on them."""


@api_app.callback()
def _api() -> None:
    """The work-order REST service."""


@labels_app.callback()
def _labels() -> None:
    """Training labels from work-order outcomes."""


def _echo_settings(title: str, redacted: dict[str, object]) -> None:
    logging.getLogger("alerts").info(
        "settings %s: %s", title, " ".join(f"{key}={value}" for key, value in redacted.items())
    )


def _fail(message: str, code: int = 1) -> typer.Exit:
    """Print one ``error:`` line on stderr; the exit to raise (2: bad input, 1: refused or unavailable)."""
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _load(cls: type[S], **overrides: Any) -> S:
    """The settings, or one line naming the bad variable and its rule (never a secret's value), exit 2."""
    try:
        return load(cls, **overrides)
    except SettingsError as exc:
        raise _fail(str(exc), 2) from None


def _shown_url(url: str) -> str:
    """A database URL fit to print (a password in it masked)."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _invalid(exc: ValidationError) -> str:
    """A request model's errors as one line of ``--option: problem`` (the API's rules, the CLI's words)."""
    return "; ".join(f"--{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())


def _operator(by: str | None) -> str:
    """``--by``, else the OS user: an operator's action always names who took it.

    (The API takes the actor from the user's identity; the CLI works on the store, as its OS user.)
    """
    from pydantic import TypeAdapter, ValidationError

    from alerts.api.schemas import Name

    if by is not None:
        try:
            return TypeAdapter(Name).validate_python(by)
        except ValidationError as exc:
            raise _fail(f"--by: {exc.errors()[0]['msg']}", 2) from None
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        raise _fail("cannot tell who you are from the OS user; give --by NAME", 2) from None


@contextmanager
def _store(database_url: str | None) -> Iterator[sessionmaker[Session]]:
    """Sessions on the existing alert store (schema upgraded), or one line and exit 1.

    Never creates the store: a person pointing at the wrong place should hear so, not see an empty list.
    """
    from sqlalchemy.exc import SQLAlchemyError

    from alerts.settings import EngineSettings, sqlite_file
    from alerts.store.db import make_engine, migrate, session_factory

    settings = _load(EngineSettings, **({"database_url": database_url} if database_url else {}))
    url = settings.database_url
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        raise _fail(
            f"no alert store at {path}; set FOREWARN_ALERTS_DATABASE_URL or --database-url "
            "(after a demo: `. .state/runs/<run>/run.env`)"
        )
    engine = make_engine(url)
    try:
        migrate(engine)
        yield session_factory(engine)
    except SQLAlchemyError as exc:
        first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
        raise _fail(f"the alert store {_shown_url(url)} failed: {first}") from None
    finally:
        engine.dispose()


DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        help="The alert and work-order store (sqlite:///path or postgresql+psycopg://…).",
        envvar="FOREWARN_ALERTS_DATABASE_URL",
        show_default=False,
    ),
]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON (the REST API's shapes) instead of text.")]
By = Annotated[
    str | None, typer.Option("--by", help="Who takes the action; default: your OS user.", show_default=False)
]


@alerts_app.command("run")
def run_engine(
    rules_file: Annotated[
        Path | None, typer.Option(help="TOML rules file.", envvar="FOREWARN_ALERTS_RULES_FILE")
    ] = None,
) -> None:
    """Consume ``risk``, raise and clear alerts, open work orders, publish ``alerts``, until Ctrl-C."""
    from alerts.clock import SystemClock
    from alerts.config import RuleConfig, RuleConfigError, load_rules
    from alerts.engine.service import AlertEngine, EngineStartError
    from alerts.notify import WebhookNotifier
    from alerts.settings import EngineSettings
    from forewarn import cpu_share, logs
    from forewarn.settings import KafkaRole

    logs.setup("alerts")
    log = logging.getLogger("alerts")
    overrides = {"rules_file": rules_file} if rules_file else {}
    settings = _load(EngineSettings, **overrides)
    kafka = _load(KafkaSettings).for_role(KafkaRole.ALERTS)  # its own user and ACLs
    _echo_settings("EngineSettings", settings.redacted())
    try:
        rules = load_rules(settings.rules_file) if settings.rules_file else RuleConfig()
    except RuleConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    # once its configuration holds, before any thread starts (a thread takes its creator's value)
    cpu = cpu_share.yield_cpu(settings.nice)
    log.info("CPU: %s (FOREWARN_ALERTS_NICE=%d)", cpu.describe(), settings.nice)
    notifier = WebhookNotifier(
        rules,
        default_url=settings.webhook_url,
        min_interval_s=settings.webhook_min_interval_s,
        timeout_s=settings.webhook_timeout_s,
    )
    try:
        influx = _load(InfluxSettings).for_role(InfluxRole.WRITER)  # writes alerts; reads nothing back
        engine = AlertEngine(settings, kafka, rules, SystemClock(), notifier, influx)
    except EngineStartError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("signal %s: finishing the batch in hand and stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    log.info(
        "alert engine %s: consuming %r, publishing %r, dead letters to %r",
        engine.lease.holder, engine.risk_topic, engine.alerts_topic, engine.dlq_topic,
    )  # fmt: skip
    try:
        engine.run(stop)
    finally:
        engine.close()
        log.info("alert engine stopped: %s", engine.stats.summary())


@alerts_app.command("kpis")
def show_kpis(
    write_influx: Annotated[
        bool, typer.Option(help="Also write `service_kpis` per site and `model_quality` to InfluxDB.")
    ] = False,
) -> None:
    """Print the KPIs of the work-order store as JSON (and write the boards' KPI gauges to InfluxDB)."""
    from alerts import gauges, kpis
    from alerts.clock import SystemClock
    from alerts.settings import EngineSettings, ensure_sqlite_dir
    from alerts.store.db import make_engine, migrate, session_factory, transaction
    from forewarn.influx import InfluxWriteError, InfluxWriter

    settings = _load(EngineSettings)
    ensure_sqlite_dir(settings.database_url)
    engine = make_engine(settings.database_url)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        snapshot = kpis.from_store(session)
        points = gauges.kpi_snapshot_lines(session, SystemClock().now()) if write_influx else []
    engine.dispose()
    typer.echo(snapshot.model_dump_json(indent=2))
    if points:
        try:
            with InfluxWriter(_load(InfluxSettings).for_role(InfluxRole.WRITER), retry_budget_s=10) as writer:
                writer.write(points)
        except InfluxWriteError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(1) from None


@alerts_app.command("seed")
def seed_catalog(
    site: Annotated[list[str], typer.Option("--site", help="A site to seed (repeat for several).")],
    catalog: Annotated[
        Path | None, typer.Option(help="TOML catalogue; default: alerts/catalog.default.toml.")
    ] = None,
    database_url: Annotated[
        str | None, typer.Option(help="The work-order store.", envvar="FOREWARN_ALERTS_DATABASE_URL")
    ] = None,
) -> None:
    """Add the catalogue's technicians, kits and stock for the sites (idempotent), print what changed."""
    from alerts.catalog import DEFAULT_CATALOG, CatalogError, load_catalog, seed
    from alerts.clock import SystemClock
    from alerts.settings import EngineSettings, ensure_sqlite_dir
    from alerts.store.db import make_engine, migrate, session_factory, transaction

    try:
        spec = load_catalog(catalog or DEFAULT_CATALOG)
    except CatalogError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    db_override: dict[str, Any] = {"database_url": database_url} if database_url else {}
    settings = _load(EngineSettings, **db_override)
    ensure_sqlite_dir(settings.database_url)
    engine = make_engine(settings.database_url)
    migrate(engine)
    try:
        with transaction(session_factory(engine)) as session:
            report = seed(session, spec, site, actor="forewarn-seed", now=SystemClock().now())
    finally:
        engine.dispose()
    typer.echo(report.model_dump_json(indent=2))


@alerts_app.command("list")
def list_alerts(
    site: Annotated[str | None, typer.Option(help="Only this site.", show_default=False)] = None,
    asset: Annotated[str | None, typer.Option(help="Only this asset.", show_default=False)] = None,
    severity: Annotated[Severity | None, typer.Option(help="Only this severity.", show_default=False)] = None,
    state: Annotated[AlertState | None, typer.Option(help="Only this state.", show_default=False)] = None,
    all_: Annotated[bool, typer.Option("--all", help="Include cleared alerts (default: open ones).")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000, help="Show at most this many.")] = 50,
    json_out: JsonOut = False,
    database_url: DatabaseUrl = None,
) -> None:
    """List alerts, most severe first, then newest: open ones unless --all or --state says otherwise."""
    from sqlalchemy import func, select

    from alerts.api.schemas import AlertOut, Page
    from alerts.store.alert_repo import most_severe_first, select_alerts
    from alerts.store.db import transaction
    from alerts.views import alert_table

    open_only = not all_ and state is None
    q = select_alerts(asset_id=asset, site=site, state=state, severity=severity, open_only=open_only)
    with _store(database_url) as sessions, transaction(sessions) as session:
        total = session.scalar(select(func.count()).select_from(q.subquery())) or 0
        alerts = [AlertOut.model_validate(r) for r in session.scalars(most_severe_first(q).limit(limit))]
    if json_out:
        typer.echo(Page[AlertOut](items=alerts, total=total, limit=limit, offset=0).model_dump_json(indent=2))
        return
    which = "open alerts" if open_only else "alerts"
    if not alerts:
        hint = " (--all includes cleared ones)" if open_only else ""
        typer.echo(f"no {which} match{hint}", err=True)
        return
    typer.echo(alert_table(alerts))
    more = f"; --limit {total} shows all" if total > len(alerts) else ""
    typer.echo(f"{len(alerts)} of {total} {which}{more}; `forewarn alerts show ALERT` for one", err=True)


AlertIdArg = Annotated[
    str, typer.Argument(metavar="ALERT_ID", help="The alert's id (first column of `forewarn alerts list`).")
]


@alerts_app.command("show")
def show_alert(alert_id: AlertIdArg, json_out: JsonOut = False, database_url: DatabaseUrl = None) -> None:
    """Show every field of an alert, its work order, and its history of changes (who, when, published)."""
    from alerts.api.schemas import AlertOut, PartLineOut, WorkOrderOut
    from alerts.store.alert_repo import alert_history
    from alerts.store.db import transaction
    from alerts.store.tables import AlertRow, WorkOrderRow
    from alerts.views import describe
    from alerts.workorders.service import part_lines

    with _store(database_url) as sessions, transaction(sessions) as session:
        row = session.get(AlertRow, alert_id)
        if row is None:
            raise _fail(f"alert {alert_id} does not exist; `forewarn alerts list --all` shows the ids", 2)
        alert = AlertOut.model_validate(row)
        order = session.get(WorkOrderRow, row.work_order_id) if row.work_order_id is not None else None
        work_order = None
        if order is not None:
            work_order = WorkOrderOut.model_validate(order)
            work_order.parts = [PartLineOut.model_validate(p) for p in part_lines(session, order.id)]
        history = alert_history(session, alert_id)
    if json_out:
        document = {
            "alert": alert.model_dump(mode="json"),
            "work_order": work_order.model_dump(mode="json") if work_order else None,
            "history": [h.model_dump(mode="json") for h in history],
        }
        typer.echo(json.dumps(document, indent=2))
        return
    typer.echo(describe(alert, work_order, history))


def _act(
    database_url: str | None, alert_id: str, action: Callable[[Session, datetime], Any], json_out: bool
) -> AlertOut:
    """Run an operator action in one transaction, as the API route does; refusals become one line.

    Exit 2 for an unknown alert or a snooze that ends in the past or past its severity's maximum (bad
    input), 1 for an alert already cleared or changed by someone else meanwhile (refused: look again
    and retry).
    """
    from sqlalchemy.orm.exc import StaleDataError

    from alerts.api.schemas import AlertOut
    from alerts.clock import SystemClock
    from alerts.effects import AlertActionError
    from alerts.state import ActionError
    from alerts.store.db import transaction
    from alerts.workorders.errors import ErrorCode, WorkOrderError

    now = SystemClock().now()
    with _store(database_url) as sessions:
        try:
            with transaction(sessions) as session:
                alert = AlertOut.model_validate(action(session, now))
        except AlertActionError as exc:
            if exc.reason is ActionError.SNOOZE_IN_PAST:
                ends = f"the snooze must end after now ({now:%Y-%m-%dT%H:%M:%SZ}); give a later time"
                raise _fail(ends, 2) from None
            raise _fail(f"alert {alert_id} is already cleared; only open alerts can be acted on") from None
        except WorkOrderError as exc:
            hint = "; `forewarn alerts list` shows the ids" if exc.code is ErrorCode.NOT_FOUND else ""
            bad_input = exc.code in (ErrorCode.NOT_FOUND, ErrorCode.INVALID)  # unknown alert, snooze too long
            raise _fail(f"{exc.detail}{hint}", 2 if bad_input else 1) from None
        except StaleDataError:
            raced = f"alert {alert_id} changed at the same time (the engine?); look again and retry"
            raise _fail(raced) from None
    if json_out:
        typer.echo(alert.model_dump_json(indent=2))
    return alert


@alerts_app.command("ack")
def ack_alert(
    alert_id: AlertIdArg,
    comment: Annotated[str, typer.Option(help="What you are doing about it (published with the change).")],
    by: By = None,
    json_out: JsonOut = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Acknowledge an open alert: escalation stops; it stays open until the rules clear it."""
    from pydantic import ValidationError

    from alerts.api.schemas import AckIn
    from alerts.effects import acknowledge_alert

    actor = _operator(by)
    try:
        body = AckIn(comment=comment)
    except ValidationError as exc:
        raise _fail(_invalid(exc), 2) from None
    alert = _act(
        database_url,
        alert_id,
        lambda session, now: acknowledge_alert(session, alert_id, by=actor, comment=body.comment, now=now),
        json_out,
    )
    if not json_out:
        what = f"{alert.asset_id} {alert.failure_mode} {alert.severity}"
        typer.echo(f"acknowledged {alert.alert_id} ({what}) as {actor}")


@alerts_app.command("snooze")
def snooze_alert(
    alert_id: AlertIdArg,
    reason: Annotated[str, typer.Option(help="Why (published with the change).")],
    until: Annotated[
        str | None, typer.Option(help="Until this time (ISO 8601 with offset, e.g. 2026-01-01T08:00:00Z).")
    ] = None,
    for_: Annotated[
        str | None,
        typer.Option("--for", help="For this long from now: 90m, 2h, 1h30m, 3d.", show_default=False),
    ] = None,
    by: By = None,
    json_out: JsonOut = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Snooze an open alert until a time or for a while: no escalation meanwhile; it wakes up active."""
    from pydantic import ValidationError

    from alerts.api.schemas import SnoozeIn
    from alerts.effects import snooze_alert as snooze_stored
    from alerts.settings import SnoozeSettings
    from alerts.views import parse_duration

    if (until is None) == (for_ is None):
        raise _fail("give --until TIME or --for DURATION (one of them)", 2)
    end: datetime | str
    if for_ is not None:
        try:
            end = datetime.now(UTC).replace(microsecond=0) + parse_duration(for_)  # whole seconds
        except ValueError as exc:
            raise _fail(f"--for {exc}", 2) from None
    else:
        end = str(until)
    actor = _operator(by)
    try:
        body = SnoozeIn(until=end, reason=reason)
    except ValidationError as exc:
        raise _fail(_invalid(exc) + " (e.g. 2026-01-01T08:00:00Z)", 2) from None
    limits = _load(SnoozeSettings)  # the API's maximum per severity (FOREWARN_API_MAX_SNOOZE_H)
    alert = _act(
        database_url,
        alert_id,
        lambda session, now: snooze_stored(
            session,
            alert_id,
            by=actor,
            until=body.until,
            reason=body.reason,
            now=now,
            max_snooze_h=limits.max_snooze_h,
        ),
        json_out,
    )
    if not json_out:
        typer.echo(
            f"snoozed {alert.alert_id} ({alert.asset_id} {alert.failure_mode} {alert.severity}) "
            f"until {alert.snoozed_until:%Y-%m-%dT%H:%M:%SZ} as {actor}"
        )


@api_app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address.", envvar="FOREWARN_API_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port.", envvar="FOREWARN_API_PORT")] = None,
) -> None:
    """Serve the REST API and the console (docs at /docs); the schema is migrated at start.

    Nobody gets in without a user: create them with `forewarn users add` (warned at start when none is).
    """
    import uvicorn

    from alerts.api.app import create_app
    from alerts.settings import ApiSettings
    from forewarn import logs
    from forewarn.settings import MlflowSettings

    logs.setup("api")
    overrides: dict[str, Any] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    settings = _load(ApiSettings, **overrides)
    _echo_settings("ApiSettings", settings.redacted())
    app = create_app(settings, influx=_load(InfluxSettings), mlflow=_load(MlflowSettings))
    logging.getLogger("alerts").info(
        "serving the work-order API on http://%s:%d (docs at /docs; reports at each work order's report_url)",
        settings.host, settings.port,
    )  # fmt: skip
    # our logging (forewarn.logs), not uvicorn's: its access log would be a line per request
    uvicorn.run(app, host=settings.host, port=settings.port, log_config=None, log_level=None)


@labels_app.command("export")
def export(
    out: Annotated[Path, typer.Option(help="Output file: .csv, or .parquet.")],
    database_url: Annotated[
        str | None, typer.Option(help="The work-order store.", envvar="FOREWARN_ALERTS_DATABASE_URL")
    ] = None,
) -> None:
    """Write labels (asset_id, ts, failure_mode|none, source) from completed work orders."""
    from sqlalchemy import func, select

    from alerts import labels
    from alerts.settings import EngineSettings, ensure_sqlite_dir
    from alerts.store.db import make_engine, migrate, session_factory, transaction
    from alerts.store.tables import WorkOrderRow
    from forewarn.contracts.labels import LabelSource, write_label_file

    db_override: dict[str, Any] = {"database_url": database_url} if database_url else {}
    settings = _load(EngineSettings, **db_override)
    ensure_sqlite_dir(settings.database_url)
    engine = make_engine(settings.database_url)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        rows = labels.from_store(session)
        orders = session.scalar(select(func.count()).select_from(WorkOrderRow)) or 0
    engine.dispose()
    write_label_file(rows, out)
    if not rows:
        typer.echo(
            f"wrote 0 labels to {out} (the header only): no completed work order has an outcome yet "
            f"({orders} work orders in {_shown_url(settings.database_url)})",
            err=True,
        )
        return
    found = sum(1 for r in rows if r.source is LabelSource.WORK_ORDER)
    typer.echo(
        f"wrote {len(rows)} labels ({found} faults, {len(rows) - found} false alarms) to {out}", err=True
    )
