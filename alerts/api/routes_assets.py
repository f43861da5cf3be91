"""``/assets``: the asset register (every asset belongs to one site), the gateways' source of truth.

The register has its own store (:mod:`ingest.asset_store`, which says why); this router serves it.
:func:`install` mounts it on an app with that store. Reading needs any user; changing needs an
admin, since a move decides whose readings the gateways accept. Refusals are ``{"code", "detail"}``:
``asset_not_found`` 404, ``asset_exists`` 409, ``asset_conflict`` 409 (it has parts), ``invalid_asset``
422 (a bad name, a parent missing or on another site, a cycle); a store that does not answer 503
(the app's handler of database errors).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request, status
from fastapi import Path as FPath
from fastapi.concurrency import run_in_threadpool
from fastapi.params import Depends as DependsParam
from fastapi.responses import JSONResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from alerts.api.deps import AccessError, PagingDep, PrincipalDep
from alerts.api.schemas import Page
from alerts.identity.roles import Principal, Role
from ingest.asset_store import UNSET, AssetError, AssetErrorCode, AssetStore
from ingest.assets import Asset

router = APIRouter(prefix="/assets", tags=["assets"])
_NO_NUL = r"^[^\x00]*$"
AssetId = Annotated[str, Field(min_length=1, max_length=128, pattern=_NO_NUL)]
TypeName = Annotated[str, Field(min_length=1, max_length=64, pattern=_NO_NUL)]


class AssetIn(BaseModel):
    """A new asset: its id, site, and optionally its type and parent (on the same site)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    asset_id: AssetId
    site: AssetId
    type: TypeName | None = None
    parent_id: AssetId | None = None


class AssetPatch(BaseModel):
    """Fields to change; a field left out stays, ``"parent_id": null`` detaches it from its parent."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    site: AssetId | None = None
    type: TypeName | None = None
    parent_id: AssetId | None = None


class AssetOut(BaseModel):
    """An asset as registered."""

    asset_id: str
    site: str
    type: str | None
    parent_id: str | None
    created_at: AwareDatetime
    created_by: str

    @classmethod
    def of(cls, asset: Asset) -> AssetOut:
        return cls(asset_id=asset.asset_id, site=asset.site, type=asset.asset_type, parent_id=asset.parent_id,
                   created_at=asset.created_at, created_by=asset.created_by)  # fmt: skip


_opening = threading.Lock()


def get_register(request: Request) -> AssetStore:
    """The register of the running app (see :func:`install`), opened on first use when not given."""
    state = request.app.state
    if state.assets is None:
        with _opening:
            if state.assets is None:
                from ingest.assets_cli import open_register

                state.assets = open_register()
    store: AssetStore = state.assets
    return store


RegisterDep = Annotated[AssetStore, Depends(get_register)]


async def _admin(principal: PrincipalDep) -> Principal:
    if not principal.role.at_least(Role.ADMIN):
        raise AccessError(403, "forbidden", f"{principal.role.value} may not manage assets")
    return principal


AdminDep = Annotated[Principal, Depends(_admin)]
PathId = Annotated[str, FPath(min_length=1, max_length=128)]


@router.get("")
async def list_assets(
    register: RegisterDep,
    page: PagingDep,
    site: Annotated[str | None, Query(max_length=128)] = None,
    type: Annotated[str | None, Query(max_length=64)] = None,
) -> Page[AssetOut]:
    """Registered assets ordered by id, filtered by site and type."""
    found, total = await run_in_threadpool(register.find, site, type, page.limit, page.offset)
    return Page(items=[AssetOut.of(a) for a in found], total=total, limit=page.limit, offset=page.offset)


@router.post("", status_code=status.HTTP_201_CREATED)
async def add_asset(register: RegisterDep, body: AssetIn, principal: AdminDep) -> AssetOut:
    """Register an asset to a site."""
    now = datetime.now(UTC)
    asset = Asset(body.asset_id, body.site, body.type, body.parent_id, now, f"api:{principal.actor}")
    return AssetOut.of(await run_in_threadpool(register.add, asset))


@router.get("/{asset_id}")
async def get_asset(register: RegisterDep, asset_id: PathId) -> AssetOut:
    """One asset."""
    return AssetOut.of(await run_in_threadpool(register.get, asset_id))


@router.patch("/{asset_id}")
async def change_asset(register: RegisterDep, asset_id: PathId, body: AssetPatch, _: AdminDep) -> AssetOut:
    """Move an asset to another site, or change its type or parent."""
    given = body.model_fields_set
    if "site" in given and body.site is None:
        raise AssetError(AssetErrorCode.INVALID, "site cannot be null: every asset belongs to one site")
    changes: dict[str, Any] = {
        "site": body.site if "site" in given else UNSET,
        "asset_type": body.type if "type" in given else UNSET,
        "parent_id": body.parent_id if "parent_id" in given else UNSET,
    }
    return AssetOut.of(await run_in_threadpool(lambda: register.update(asset_id, **changes)))


@router.delete("/{asset_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_asset(register: RegisterDep, asset_id: PathId, _: AdminDep) -> Response:
    """Unregister an asset (refused while it has parts)."""
    await run_in_threadpool(register.remove, asset_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


def install(app: FastAPI, register: AssetStore | None, dependencies: Sequence[DependsParam]) -> None:
    """Mount ``/assets`` on ``app`` with ``register`` (None: the one ``FOREWARN_ASSETS_*`` names, opened
    at the first request, so an app that never serves ``/assets`` creates no file); ``dependencies`` as
    for every router (auth)."""
    app.state.assets = register

    @app.exception_handler(AssetError)
    async def _refused(_request: Request, exc: AssetError) -> JSONResponse:
        return JSONResponse({"code": exc.code.value, "detail": exc.detail}, status_code=exc.code.http_status)

    app.include_router(router, dependencies=list(dependencies))
