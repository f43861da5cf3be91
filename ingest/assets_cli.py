"""``forewarn assets``: the asset register (every asset belongs to one site): add, list, show, move, remove.

Mounted by ``chain/cli.py`` as ``forewarn assets``. Works on the register's store directly
(``FOREWARN_ASSETS_DATABASE_URL``, default ``<state>/ingest/assets.sqlite``, created when new), the
same one the gateways read. A gateway picks a move or a removal up within ``assets_refresh_s``.
Listing commands print a table, JSON with ``--json``. Errors are one line on stderr: exit 2 for
bad input or a refused change (an unknown asset, an id taken, a parent on another site), 1 for a
store that fails.

:func:`register_before_publishing` is the simulator's and the replay's edge: their fleets are in
the register before their first reading, so a gateway under the ``dead_letter`` policy takes them.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import orjson
import typer

from forewarn.exits import ExitCode
from forewarn.settings import SettingsError, StackSettings, load
from forewarn.table import table, utc_text

if TYPE_CHECKING:
    from ingest.asset_store import AssetStore
    from ingest.assets import Asset

assets_app = typer.Typer(
    help="The asset register: every asset belongs to one site (type, parent, who registered it).",
    no_args_is_help=True,
)


@assets_app.callback()
def _assets() -> None:
    """The asset register: every asset belongs to one site (type, parent, who registered it)."""


DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        help="The register (sqlite:///path or postgresql+psycopg://…); default <state>/ingest/assets.sqlite.",
        envvar="FOREWARN_ASSETS_DATABASE_URL",
        show_default=False,
    ),
]
AssetArg = Annotated[str, typer.Argument(metavar="ASSET", help="The asset id (as its readings carry it).")]
JsonOut = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _fail(message: str, code: ExitCode = ExitCode.USAGE) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def as_json(asset: Asset) -> dict[str, Any]:
    """An asset's JSON shape (the CLI's ``--json`` and the API's body)."""
    return {
        "asset_id": asset.asset_id,
        "site": asset.site,
        "type": asset.asset_type,
        "parent_id": asset.parent_id,
        "created_at": asset.created_at.isoformat(timespec="milliseconds"),
        "created_by": asset.created_by,
    }


def open_register(state_dir: Path | None = None, database_url: str | None = None) -> AssetStore:
    """The register ``FOREWARN_ASSETS_*`` (or ``database_url``) names, created when new."""
    from ingest.asset_store import AssetStore
    from ingest.settings import AssetSettings

    state = state_dir or load(StackSettings).state_dir
    return AssetStore(database_url or load(AssetSettings, state).url(state))


class RegisterError(RuntimeError):
    """A publisher's fleet could not be registered (one line for the person running it)."""


def register_before_publishing(state_dir: Path, assets: Sequence[Asset]) -> None:
    """Register a publisher's fleet (missing ones only) before its first reading.

    Raises:
        RegisterError: the register failed, refused a name, or holds some of these assets for another
            site (the gateway would dead-letter their readings as ``foreign_asset``).
    """
    from sqlalchemy.exc import SQLAlchemyError

    from ingest.asset_store import AssetError

    try:
        store = open_register(state_dir)
        try:
            foreign = store.ensure(assets)
        finally:
            store.close()
    except AssetError as exc:
        raise RegisterError(f"asset register: {exc.detail}") from None
    except (SQLAlchemyError, OSError) as exc:
        raise RegisterError(f"asset register failed: {_first_line(exc)}") from None
    if foreign:
        shown = ", ".join(f"{a.asset_id} ({a.site})" for a in foreign[:5])
        raise RegisterError(
            f"{len(foreign)} assets are registered to another site: {shown}; "
            "`forewarn assets move` them or use another --asset-prefix"
        )


@contextmanager
def _register(database_url: str | None) -> Iterator[AssetStore]:
    """The store; refusals (AssetError) and store failures become one line on stderr."""
    from sqlalchemy.exc import SQLAlchemyError

    from ingest.asset_store import AssetError

    try:
        store = open_register(database_url=database_url)
    except SettingsError as exc:
        raise _fail(str(exc)) from None
    except (SQLAlchemyError, OSError) as exc:
        raise _fail(f"the register failed: {_first_line(exc)}", ExitCode.FAILED) from None
    try:
        yield store
    except AssetError as exc:
        raise _fail(exc.detail) from None
    except SQLAlchemyError as exc:
        raise _fail(f"the register failed: {_first_line(exc)}", ExitCode.FAILED) from None
    finally:
        store.close()


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip() or type(exc).__name__).splitlines()[0]


def _echo(asset: Asset, json_out: bool) -> None:
    if json_out:
        typer.echo(orjson.dumps(as_json(asset), option=orjson.OPT_INDENT_2).decode())
    else:
        _print_table([asset])


def _print_table(assets: Sequence[Asset]) -> None:
    rows = [
        [a.asset_id, a.site, a.asset_type or "-", a.parent_id or "-", utc_text(a.created_at), a.created_by]
        for a in assets
    ]
    typer.echo(table(["ASSET", "SITE", "TYPE", "PARENT", "CREATED", "BY"], rows))


@assets_app.command("add")
def add(
    asset_id: AssetArg,
    site: Annotated[str, typer.Option(help="The site whose readings of it are accepted.")],
    asset_type: Annotated[str | None, typer.Option("--type", help="What it is (pump, turbofan…).")] = None,
    parent: Annotated[str | None, typer.Option(help="The asset it is part of (same site).")] = None,
    json_out: JsonOut = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Register an asset to a site (refused if its id is registered already)."""
    from ingest.assets import Asset

    with _register(database_url) as store:
        asset = store.add(Asset(asset_id, site, asset_type, parent, datetime.now(UTC), _actor()))
    _echo(asset, json_out)


@assets_app.command("list")
def list_assets(
    site: Annotated[str | None, typer.Option(help="Only this site's assets.")] = None,
    asset_type: Annotated[str | None, typer.Option("--type", help="Only assets of this type.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many.")] = 1000,
    offset: Annotated[int, typer.Option(min=0, help="Skip this many first (ordered by id).")] = 0,
    json_out: JsonOut = False,
    database_url: DatabaseUrl = None,
) -> None:
    """The registered assets, ordered by id."""
    with _register(database_url) as store:
        found, total = store.find(site, asset_type, limit, offset)
    if json_out:
        body = {"items": [as_json(a) for a in found], "total": total, "limit": limit, "offset": offset}
        typer.echo(orjson.dumps(body, option=orjson.OPT_INDENT_2).decode())
        return
    if not found:
        typer.echo("no assets registered (yet): `forewarn assets add ASSET --site SITE`", err=True)
        return
    _print_table(found)
    if total > offset + len(found):
        typer.echo(f"… {total - offset - len(found)} more: --offset {offset + len(found)}", err=True)


@assets_app.command("show")
def show(asset_id: AssetArg, json_out: JsonOut = False, database_url: DatabaseUrl = None) -> None:
    """One asset: its site, type, parent and who registered it when."""
    with _register(database_url) as store:
        asset = store.get(asset_id)
    _echo(asset, json_out)


@assets_app.command("move")
def move(
    asset_id: AssetArg,
    site: Annotated[str, typer.Option(help="The site it belongs to from now on.")],
    parent: Annotated[str | None, typer.Option(help="Its parent on the new site (default: none).")] = None,
    json_out: JsonOut = False,
    database_url: DatabaseUrl = None,
) -> None:
    """Move an asset to another site (gateways take it within their refresh interval)."""
    with _register(database_url) as store:
        asset = store.update(asset_id, site=site, parent_id=parent)
    _echo(asset, json_out)


@assets_app.command("remove")
def remove(asset_id: AssetArg, database_url: DatabaseUrl = None) -> None:
    """Unregister an asset (refused while it has parts); the next reading is unknown again."""
    with _register(database_url) as store:
        asset = store.remove(asset_id)
    typer.echo(f"removed {asset.asset_id} (site {asset.site})", err=True)
