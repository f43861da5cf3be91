"""``forewarn dashboards``: build the boards as JSON, push them to Grafana, seed and verify InfluxDB.

Settings are read here and passed inward; the SDK and HTTP clients are imported inside commands so
``forewarn --help`` stays fast.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from forewarn import paths
from forewarn.exits import ExitCode
from forewarn.settings import InfluxRole, InfluxSettings, StackSettings, load

dashboards_app = typer.Typer(help="Grafana dashboards as code: build, push, seed and verify.")


def _fail(message: str, code: ExitCode = ExitCode.FAILED) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _write(path: Path, text: str) -> bool:
    """Write ``text`` unless the file already holds it; True when the file changed."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return True


@dashboards_app.command("build")
def build(
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for the board JSON files.", envvar="FOREWARN_GRAFANA_DASHBOARDS_DIR"),
    ] = None,
    provisioning_out: Annotated[
        Path | None,
        typer.Option(
            help="Folder for the provisioning YAML (default: <out>/provisioning with --out, "
            "else dashboards/provisioning)."
        ),
    ] = None,
) -> None:
    """Write every board as sorted, deterministic JSON (``<uid>.json``) and the provisioning files.

    Without options both go into the checkout (``dashboards/json``, ``dashboards/provisioning``);
    with ``--out DIR`` nothing is written outside DIR unless ``--provisioning-out`` says so.
    """
    from dashboards import provisioning_files as provisioning
    from dashboards.render import build_all, dumps

    root = paths.project_root()
    if provisioning_out is None:
        provisioning_out = out / "provisioning" if out else root / "dashboards" / "provisioning"
    out = out or root / "dashboards" / "json"
    for uid, doc in build_all().items():
        path = out / f"{uid}.json"
        typer.echo(f"{'wrote' if _write(path, dumps(doc)) else 'unchanged'} {path}")
    for relative, text in provisioning.files().items():
        path = provisioning_out / relative
        typer.echo(f"{'wrote' if _write(path, text) else 'unchanged'} {path}")


@dashboards_app.command("push")
def push(
    url: Annotated[str | None, typer.Option(help="Grafana base URL.", envvar="FOREWARN_GRAFANA_URL")] = None,
    token: Annotated[
        str | None, typer.Option(help="Service-account token.", envvar="FOREWARN_GRAFANA_TOKEN")
    ] = None,
    folder_uid: Annotated[
        str | None, typer.Option(help="Folder uid for the boards.", envvar="FOREWARN_GRAFANA_FOLDER_UID")
    ] = None,
    with_datasource: Annotated[
        bool, typer.Option(help="Also create/update the InfluxDB datasource from FOREWARN_INFLUX_*.")
    ] = True,
) -> None:
    """Provision the folder, the InfluxDB datasource and every board through Grafana's HTTP API."""
    from grafana_client.client import GrafanaException

    from dashboards.grafana_http import GrafanaHttp
    from dashboards.provisioning_files import datasource
    from dashboards.push import PushError
    from dashboards.push import push as push_boards
    from dashboards.render import build_all
    from dashboards.settings import GrafanaSettings

    overrides = {k: v for k, v in {"url": url, "token": token, "folder_uid": folder_uid}.items() if v}
    state_dir = load(StackSettings).state_dir
    settings = load(GrafanaSettings, state_dir, **overrides)
    influx = load(InfluxSettings, state_dir).for_role(InfluxRole.READER)  # Grafana only reads
    credential: str | tuple[str, str] | None = None
    if settings.token:
        credential = settings.token.get_secret_value()
    elif settings.username and settings.password:
        credential = (settings.username, settings.password.get_secret_value())
    api = GrafanaHttp.connect(settings.url, credential, settings.timeout_s)
    try:
        report = push_boards(
            api,
            build_all(),
            folder_uid=settings.folder_uid,
            folder_title=settings.folder_title,
            datasource=datasource(influx) if with_datasource else None,
        )
    except (PushError, GrafanaException) as exc:
        raise _fail(f"Grafana at {settings.url} refused the push: {exc}") from None
    except OSError as exc:
        raise _fail(f"cannot reach Grafana at {settings.url}: {exc}", ExitCode.UNREACHABLE) from None
    for name, outcome in report.outcomes.items():
        typer.echo(f"{outcome.value:9} {name}")


@dashboards_app.command("seed")
def seed(
    database: Annotated[str, typer.Option(help="InfluxDB database to fill (created if missing).")],
    hours: Annotated[float, typer.Option(help="Hours of history ending now.")] = 6.0,
) -> None:
    """Fill a database with a small fleet's history in the boards' shape (demo and tests)."""
    import httpx

    from dashboards.seed import seed as seed_database
    from forewarn.influx_admin import create_database

    admin = load(InfluxSettings, load(StackSettings).state_dir)
    influx = admin.for_role(InfluxRole.WRITER)
    try:
        create_database(admin, database)  # needs the admin; it grants the writer and the reader
        summary = seed_database(influx, database, datetime.now(UTC), hours=hours)
    except (httpx.HTTPError, RuntimeError) as exc:
        code = ExitCode.UNREACHABLE if isinstance(exc, httpx.TransportError) else ExitCode.FAILED
        raise _fail(f"seeding {database} at {influx.url} failed: {exc}", code) from None
    typer.echo(f"seeded {summary.lines} points into {database}: {summary.measurements}")


@dashboards_app.command("verify")
def verify(
    database: Annotated[
        str | None, typer.Option(help="InfluxDB database (default FOREWARN_INFLUX_DATABASE).")
    ] = None,
    hours: Annotated[float, typer.Option(help="Time range ending now, in hours.")] = 6.0,
) -> None:
    """Run every panel, annotation and variable query against InfluxDB; exit 1 if any is empty.

    A board with a single-value variable (the asset board's asset) passes a panel when it answers for
    some value an operator could pick (the first 25 are tried).
    """
    from dashboards.macros import TimeRange
    from dashboards.render import build_all
    from dashboards.verify import InfluxQL, check_board_any_choice

    influx = load(InfluxSettings, load(StackSettings).state_dir).for_role(InfluxRole.READER)
    now = datetime.now(UTC)
    time_range = TimeRange(now - timedelta(hours=hours), now)
    failures = 0
    with InfluxQL(influx, database or influx.database) as client:
        for uid, doc in build_all().items():
            try:
                results, _ = check_board_any_choice(doc, client, time_range)
            except ValueError as exc:
                typer.echo(f"FAIL {uid} variables: {exc}")
                failures += 1
                continue
            for result in results:
                failures += not result.ok
                status = "ok  " if result.ok else "FAIL"
                detail = f" ({result.error})" if result.error else ""
                typer.echo(f"{status} {result.rows:6d} rows  {result.query.label}{detail}")
    if failures:
        raise _fail(f"{failures} queries returned no rows or failed")
