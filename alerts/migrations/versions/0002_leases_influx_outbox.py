"""Engine leases (one ticking instance) and the InfluxDB outbox (points written after the change).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 22:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "engine_leases",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("expires_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "influx_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("written_at", sa.DateTime(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("influx_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_influx_outbox_written_at"), ["written_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("influx_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_influx_outbox_written_at"))
    op.drop_table("influx_outbox")
    op.drop_table("engine_leases")
