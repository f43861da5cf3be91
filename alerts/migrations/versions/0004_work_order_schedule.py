"""Work orders keep the planned start the dispatcher scheduled them at.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25 11:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column: a plain ADD COLUMN on both backends (no SQLite table copy, which would
    # have to rebuild the partial unique index of open work orders).
    op.add_column("work_orders", sa.Column("scheduled_start", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("work_orders", "scheduled_start")
