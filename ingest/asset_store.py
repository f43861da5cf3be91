"""The asset register's store: one SQL table, SQLite under the state folder or any SQLAlchemy URL.

Why its own database and not the work-order store (``alerts.store``): the gateway is in ``ingest``,
which may not import ``alerts`` (the import rules: dependencies follow the data, and nothing
imports ``alerts``), and the front door must keep taking readings while the work-order service is
migrated, locked or down. The register is the ingest edge's data; the API (``alerts``, above
``ingest``) imports this module to serve it. Default ``sqlite:///<state>/ingest/assets.sqlite``,
shared by every gateway, simulator and API of that state folder; in production several gateways
point ``FOREWARN_ASSETS_DATABASE_URL`` at one PostgreSQL.

The one table is created when missing (``create_all``); a change to it gets an Alembic revision
like ``alerts/migrations``. Races are the database's: ``asset_id`` is the primary key, so of two
gateways registering one asset on first sight the first insert wins and the other reads the winner
back (:meth:`AssetStore.claim`). Refusals are :class:`AssetError` with a code (errors as data for
the CLI and the API).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    MetaData,
    String,
    Table,
    func,
    select,
)
from sqlalchemy.exc import IntegrityError

from forewarn import sql as forewarn_sql
from ingest.assets import Asset, name_error, parent_error, type_error

metadata = MetaData()
assets_table = Table(
    "assets",
    metadata,
    Column("asset_id", String(128), primary_key=True),
    Column("site", String(128), nullable=False),
    Column("asset_type", String(64), nullable=True),
    Column("parent_id", String(128), nullable=True),
    Column("created_at_ms", BigInteger, nullable=False),  # epoch ms: the same in SQLite and PostgreSQL
    Column("created_by", String(200), nullable=False),
    Index("ix_assets_site", "site"),
    Index("ix_assets_parent", "parent_id"),
)
_CHUNK = 500  # ids per IN (...): under SQLite's bound-parameter limit


class AssetErrorCode(StrEnum):
    """Why the register refused a change; each maps to an HTTP status and a CLI exit."""

    NOT_FOUND = "asset_not_found"
    EXISTS = "asset_exists"
    INVALID = "invalid_asset"
    CONFLICT = "asset_conflict"

    @property
    def http_status(self) -> int:
        return {"asset_not_found": 404, "asset_exists": 409, "invalid_asset": 422}.get(self.value, 409)


class AssetError(Exception):
    """A refused register change: ``code`` and a ``detail`` for a person."""

    def __init__(self, code: AssetErrorCode, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def make_engine(url: str, busy_timeout_s: float = 30.0) -> Engine:
    """The shared engine (:func:`forewarn.sql.make_engine`) with the SQLite file's folder created;
    the register checks its parents itself, so SQLite does not enforce foreign keys here."""
    if url.startswith("sqlite:///") and ":memory:" not in url:
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    return forewarn_sql.make_engine(url, busy_timeout_s=busy_timeout_s, foreign_keys=False)


def _ms(moment: datetime) -> int:
    return round(moment.timestamp() * 1000)


def _asset(row: Any) -> Asset:
    created = datetime.fromtimestamp(row.created_at_ms / 1000, UTC)
    return Asset(row.asset_id, row.site, row.asset_type, row.parent_id, created, row.created_by)


def _row(asset: Asset) -> dict[str, Any]:
    return {
        "asset_id": asset.asset_id,
        "site": asset.site,
        "asset_type": asset.asset_type,
        "parent_id": asset.parent_id,
        "created_at_ms": _ms(asset.created_at),
        "created_by": asset.created_by,
    }


def _chunks(ids: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(ids), _CHUNK):
        yield ids[i : i + _CHUNK]


@dataclass(frozen=True, slots=True)
class Unset:
    """A PATCH field left out (distinct from None, which clears a parent)."""


UNSET = Unset()


class AssetStore:
    """The register on one database (``url``); the table is created when missing."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        metadata.create_all(self.engine, checkfirst=True)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    # -- the gateway's reads and first-sight writes --------------------------------------------

    def owners(self) -> dict[str, str]:
        """Every asset → its site (the gateway's in-memory map)."""
        with self._tx() as conn:
            rows = conn.execute(select(assets_table.c.asset_id, assets_table.c.site))
            return {asset_id: site for asset_id, site in rows}

    def lookup(self, asset_ids: Iterable[str]) -> dict[str, str]:
        """The sites of those of ``asset_ids`` that are registered."""
        found: dict[str, str] = {}
        with self._tx() as conn:
            for chunk in _chunks(sorted(set(asset_ids))):
                q = select(assets_table.c.asset_id, assets_table.c.site).where(
                    assets_table.c.asset_id.in_(chunk)
                )
                found.update((r[0], r[1]) for r in conn.execute(q))
        return found

    def claim(self, claims: Mapping[str, str], now: datetime, created_by: str) -> dict[str, str]:
        """Register each asset → site of ``claims`` unless registered already; every claimed asset's
        site afterwards (the winner's, where another writer got there first). One transaction."""
        ids = sorted(claims)
        rows = [
            {"asset_id": a, "site": claims[a], "asset_type": None, "parent_id": None,
             "created_at_ms": _ms(now), "created_by": created_by}
            for a in ids
        ]  # fmt: skip
        with self._tx() as conn:
            insert = _insert_ignoring_duplicates(conn)
            if insert is not None:
                for chunk in range(0, len(rows), _CHUNK):
                    conn.execute(insert, rows[chunk : chunk + _CHUNK])
            else:  # another database: one savepoint per row, the unique key refuses the loser
                for row in rows:
                    try:
                        with conn.begin_nested():
                            conn.execute(assets_table.insert(), row)
                    except IntegrityError:
                        pass
        return self.lookup(ids)

    # -- management (CLI, API, simulator, replay) ------------------------------------------------

    def get(self, asset_id: str) -> Asset:
        """One asset; AssetError ``asset_not_found``."""
        with self._tx() as conn:
            return self._get(conn, asset_id)

    def find(
        self, site: str | None = None, asset_type: str | None = None, limit: int = 1000, offset: int = 0
    ) -> tuple[list[Asset], int]:
        """A page of assets ordered by id, and how many match in all."""
        q = select(assets_table)
        if site is not None:
            q = q.where(assets_table.c.site == site)
        if asset_type is not None:
            q = q.where(assets_table.c.asset_type == asset_type)
        with self._tx() as conn:
            total = conn.scalar(select(func.count()).select_from(q.subquery())) or 0
            rows = conn.execute(q.order_by(assets_table.c.asset_id).limit(limit).offset(offset)).all()
        return [_asset(r) for r in rows], total

    def add(self, asset: Asset) -> Asset:
        """Register a new asset; ``asset_exists`` if its id is taken, ``invalid_asset`` for bad values."""
        with self._tx() as conn:
            self._validate(conn, asset)
            try:
                with conn.begin_nested():
                    conn.execute(assets_table.insert(), _row(asset))
            except IntegrityError:
                owner = self._get(conn, asset.asset_id)
                raise AssetError(
                    AssetErrorCode.EXISTS, f"asset {asset.asset_id!r} is registered to site {owner.site!r}"
                ) from None
        return asset

    def ensure(self, assets: Iterable[Asset]) -> list[Asset]:
        """Register the missing ones of ``assets`` (simulator, replay); the ones registered to another
        site are returned (nothing is changed for them: moving an asset is a deliberate act)."""
        wanted = {a.asset_id: a for a in assets}
        with self._tx() as conn:
            present: dict[str, Asset] = {}
            for chunk in _chunks(sorted(wanted)):
                q = select(assets_table).where(assets_table.c.asset_id.in_(chunk))
                present.update((r.asset_id, _asset(r)) for r in conn.execute(q))
            missing = [a for i, a in wanted.items() if i not in present]
            for asset in missing:
                self._validate(conn, asset, pending=wanted)
            if missing:
                conn.execute(assets_table.insert(), [_row(a) for a in missing])
        return [present[i] for i in sorted(present) if present[i].site != wanted[i].site]

    def update(
        self,
        asset_id: str,
        *,
        site: str | Unset = UNSET,
        asset_type: str | Unset | None = UNSET,
        parent_id: str | Unset | None = UNSET,
    ) -> Asset:
        """Change an asset's site (a move), type or parent. A move to another site needs the asset
        without children there and with a parent on the new site (or none)."""
        with self._tx() as conn:
            current = self._get(conn, asset_id)
            changed = replace(
                current,
                site=current.site if isinstance(site, Unset) else site,
                asset_type=current.asset_type if isinstance(asset_type, Unset) else asset_type,
                parent_id=current.parent_id if isinstance(parent_id, Unset) else parent_id,
            )
            if changed.site != current.site:
                children = self._children(conn, asset_id)
                if children:
                    raise AssetError(
                        AssetErrorCode.CONFLICT,
                        f"asset {asset_id!r} has parts {children[:5]} on site {current.site!r}: move or"
                        " detach them first",
                    )
            self._validate(conn, changed)
            values = _row(changed)
            del values["created_at_ms"], values["created_by"]
            conn.execute(assets_table.update().where(assets_table.c.asset_id == asset_id).values(values))
        return changed

    def remove(self, asset_id: str) -> Asset:
        """Unregister an asset without parts (``asset_conflict`` if it has some)."""
        with self._tx() as conn:
            current = self._get(conn, asset_id)
            children = self._children(conn, asset_id)
            if children:
                raise AssetError(
                    AssetErrorCode.CONFLICT,
                    f"asset {asset_id!r} has parts {children[:5]}: remove or detach them first",
                )
            conn.execute(assets_table.delete().where(assets_table.c.asset_id == asset_id))
        return current

    # -- inside a transaction -------------------------------------------------------------------

    def _get(self, conn: Connection, asset_id: str) -> Asset:
        row = conn.execute(select(assets_table).where(assets_table.c.asset_id == asset_id)).first()
        if row is None:
            raise AssetError(AssetErrorCode.NOT_FOUND, f"asset {asset_id[:128]!r} is not registered")
        return _asset(row)

    def _children(self, conn: Connection, asset_id: str) -> list[str]:
        q = select(assets_table.c.asset_id).where(assets_table.c.parent_id == asset_id)
        return list(conn.scalars(q.order_by(assets_table.c.asset_id)))

    def _validate(self, conn: Connection, asset: Asset, pending: Mapping[str, Asset] | None = None) -> None:
        problem = (
            name_error("asset id", asset.asset_id)
            or name_error("site", asset.site)
            or type_error(asset.asset_type)
            or (None if asset.parent_id is None else name_error("parent", asset.parent_id))
        )
        if problem is None and asset.parent_id is not None:
            ancestors = dict(pending or {})
            node: str | None = asset.parent_id
            walked: set[str] = {asset.asset_id}
            while node is not None and node not in walked:  # up the tree: pending first, then the table
                walked.add(node)
                if node not in ancestors:
                    row = conn.execute(select(assets_table).where(assets_table.c.asset_id == node)).first()
                    if row is None:
                        break
                    ancestors[node] = _asset(row)
                node = ancestors[node].parent_id
            problem = parent_error(asset.asset_id, asset.site, asset.parent_id, ancestors)
        if problem is not None:
            raise AssetError(AssetErrorCode.INVALID, problem)


def _insert_ignoring_duplicates(conn: Connection) -> Any:
    """``INSERT … ON CONFLICT DO NOTHING`` for SQLite and PostgreSQL, None for another dialect."""
    name = conn.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(assets_table).on_conflict_do_nothing(index_elements=["asset_id"])
    if name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert(assets_table).on_conflict_do_nothing(index_elements=["asset_id"])
    return None
