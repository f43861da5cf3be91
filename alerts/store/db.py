"""Engines, sessions and migrations: Alembic upgrades the schema to head at every start.

SQLite runs in WAL mode with every transaction ``BEGIN IMMEDIATE``: writers queue on the database
lock (``busy_timeout``) instead of failing half way, which is what concurrent duplicate requests need.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from forewarn.sql import make_engine as make_engine  # the store's engine (shared with the register)

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest Alembic revision (idempotent; run at every start)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.upgrade(config, "head")


def session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded values after commit (responses are built after committing)."""
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: committed when the block ends, rolled back on any error."""
    with factory() as session, session.begin():
        yield session
