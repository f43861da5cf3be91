"""One way to open a SQL database, shared by the work-order store and the asset register.

SQLite runs in WAL mode with ``BEGIN IMMEDIATE``: writers queue behind a busy timeout instead of
failing, readers never block. A server URL (``postgresql+psycopg://…``) gets a checked pool.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event


def make_engine(url: str, *, busy_timeout_s: float = 30.0, foreign_keys: bool = True) -> Engine:
    """An engine for ``url``; ``foreign_keys``: SQLite enforces declared foreign keys."""
    if not url.startswith("sqlite"):
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    engine = create_engine(url, connect_args={"timeout": busy_timeout_s, "check_same_thread": False})

    @event.listens_for(engine, "connect")
    def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # let SQLAlchemy's "begin" below own transactions
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        if foreign_keys:
            cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_s * 1000)}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _sqlite_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine
