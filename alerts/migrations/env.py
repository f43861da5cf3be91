"""Alembic environment: runs on the connection ``alerts.store.db.migrate`` passes in."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from alerts.store.tables import Base

target_metadata = Base.metadata


def _run(connection: object) -> None:
    context.configure(
        connection=connection,  # type: ignore[arg-type]
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite alters tables by copying them
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is not None:
    _run(connection)
else:  # `alembic -x url=...` from a shell, for generating revisions
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///alembic-dev.db")
    with create_engine(url).connect() as conn:
        _run(conn)
        conn.commit()
