"""What every route needs: the store, the clock, the settings, and a valid bearer token."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session, sessionmaker

from alerts.clock import Clock
from alerts.settings import ApiSettings


@dataclass(frozen=True)
class Store:
    """The app's store and clock, built once in ``create_app``."""

    sessions: sessionmaker[Session]
    clock: Clock
    settings: ApiSettings


def get_store(request: Request) -> Store:
    """The store of the running app."""
    store: Store = request.app.state.store
    return store


_bearer = HTTPBearer(auto_error=False, description="The token of FOREWARN_API_TOKEN.")


def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """401 unless the request carries ``Authorization: Bearer <FOREWARN_API_TOKEN>``."""
    expected = get_store(request).settings.token.get_secret_value().encode()
    given = credentials.credentials.encode() if credentials else b""
    if not credentials or not secrets.compare_digest(given, expected):
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing or wrong bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )


@dataclass(frozen=True)
class Paging:
    """``limit`` and ``offset`` of a list request."""

    limit: int
    offset: int


def paging(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=10_000, description="Page size (capped by max_page_size).")] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Paging:
    """Page parameters, with ``limit`` capped by the settings."""
    return Paging(min(limit, get_store(request).settings.max_page_size), offset)


StoreDep = Annotated[Store, Depends(get_store)]
PagingDep = Annotated[Paging, Depends(paging)]
