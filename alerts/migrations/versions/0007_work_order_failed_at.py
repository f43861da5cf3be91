"""Work orders keep when the fault happened, as the crew reports it at completion (``failed_at``).

The report's own times (on site, completed) can come long after the failure; a training label needs
the failure's.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # A nullable column: a plain ADD COLUMN on both backends (no SQLite table copy, which would
    # have to rebuild the partial unique index of open work orders).
    op.add_column("work_orders", sa.Column("failed_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("work_orders", "failed_at")
