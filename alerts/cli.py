"""``forewarn alerts run``, ``forewarn api serve``, ``forewarn labels export``.

Settings are read here and passed inward; heavy imports happen inside the commands.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import Annotated, Any

import typer

from forewarn.settings import InfluxSettings, KafkaSettings, load

alerts_app = typer.Typer(
    help="The alert engine: risk → rules → alerts and work orders.", no_args_is_help=True
)
api_app = typer.Typer(help="The work-order REST service.", no_args_is_help=True)
labels_app = typer.Typer(help="Training labels from work-order outcomes.", no_args_is_help=True)


@alerts_app.callback()
def _alerts() -> None:
    """The alert engine: risk → rules → alerts and work orders."""


@api_app.callback()
def _api() -> None:
    """The work-order REST service."""


@labels_app.callback()
def _labels() -> None:
    """Training labels from work-order outcomes."""


def _echo_settings(title: str, redacted: dict[str, object]) -> None:
    typer.echo(f"[{title}]", err=True)
    for key, value in redacted.items():
        typer.echo(f"  {key}={value}", err=True)


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

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    overrides = {"rules_file": rules_file} if rules_file else {}
    settings = load(EngineSettings, **overrides)
    kafka = load(KafkaSettings)
    _echo_settings("EngineSettings", settings.redacted())
    try:
        rules = load_rules(settings.rules_file) if settings.rules_file else RuleConfig()
    except RuleConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    notifier = WebhookNotifier(
        rules,
        default_url=settings.webhook_url,
        min_interval_s=settings.webhook_min_interval_s,
        timeout_s=settings.webhook_timeout_s,
    )
    try:
        engine = AlertEngine(settings, kafka, rules, SystemClock(), notifier, load(InfluxSettings))
    except EngineStartError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    typer.echo(
        f"alert engine {engine.lease.holder}: consuming {engine.risk_topic!r}, publishing "
        f"{engine.alerts_topic!r}, dead letters to {engine.dlq_topic!r}",
        err=True,
    )
    try:
        engine.run(stop)
    finally:
        engine.close()
        typer.echo(f"alert engine stopped: {engine.stats}", err=True)


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

    settings = load(EngineSettings)
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
            with InfluxWriter(load(InfluxSettings), retry_budget_s=10) as writer:
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
    settings = load(EngineSettings, **db_override)
    ensure_sqlite_dir(settings.database_url)
    engine = make_engine(settings.database_url)
    migrate(engine)
    try:
        with transaction(session_factory(engine)) as session:
            report = seed(session, spec, site, actor="forewarn-seed", now=SystemClock().now())
    finally:
        engine.dispose()
    typer.echo(report.model_dump_json(indent=2))


@api_app.command("serve")
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address.", envvar="FOREWARN_API_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port.", envvar="FOREWARN_API_PORT")] = None,
) -> None:
    """Serve the REST API (docs at /docs); the schema is migrated at start."""
    import uvicorn

    from alerts.api.app import create_app
    from alerts.settings import ApiSettings

    overrides: dict[str, Any] = {}
    if host:
        overrides["host"] = host
    if port:
        overrides["port"] = port
    settings = load(ApiSettings, **overrides)
    _echo_settings("ApiSettings", settings.redacted())
    app = create_app(settings, influx=load(InfluxSettings))
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="info")


@labels_app.command("export")
def export(
    out: Annotated[Path, typer.Option(help="Output file: .csv, or .parquet.")],
    database_url: Annotated[
        str | None, typer.Option(help="The work-order store.", envvar="FOREWARN_ALERTS_DATABASE_URL")
    ] = None,
) -> None:
    """Write labels (asset_id, ts, failure_mode|none, source) from completed work orders."""
    from alerts import labels
    from alerts.settings import EngineSettings, ensure_sqlite_dir
    from alerts.store.db import make_engine, migrate, session_factory, transaction
    from forewarn.contracts.labels import LabelSource, write_label_file

    db_override: dict[str, Any] = {"database_url": database_url} if database_url else {}
    settings = load(EngineSettings, **db_override)
    ensure_sqlite_dir(settings.database_url)
    engine = make_engine(settings.database_url)
    migrate(engine)
    with transaction(session_factory(engine)) as session:
        rows = labels.from_store(session)
    engine.dispose()
    write_label_file(rows, out)
    found = sum(1 for r in rows if r.source is LabelSource.WORK_ORDER)
    typer.echo(f"wrote {len(rows)} labels ({found} faults, {len(rows) - found} false alarms) to {out}")
