"""Crew planning: technicians' weekly shifts and their exceptions, travel times between sites,
repair durations per failure mode; on work orders what the planner used and decided.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 10:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_WORK_ORDER_COLUMNS = (
    "estimated_duration_min",
    "parts_available_at",
    "latest_safe_start",
    "pinned",
    "planned_end",
)


def upgrade() -> None:
    op.create_table(
        "technician_shifts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("technician_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("start_min", sa.Integer(), nullable=False),
        sa.Column("end_min", sa.Integer(), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["technician_id"], ["technicians.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_technician_shifts_technician_id", "technician_shifts", ["technician_id"])
    op.create_table(
        "shift_exceptions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("technician_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("start", sa.DateTime(), nullable=False),
        sa.Column("end", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["technician_id"], ["technicians.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_shift_exceptions_technician_id", "shift_exceptions", ["technician_id"])
    op.create_table(
        "travel_times",
        sa.Column("site_a", sa.String(length=200), nullable=False),
        sa.Column("site_b", sa.String(length=200), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("site_a", "site_b"),
    )
    op.create_table(
        "repair_durations",
        sa.Column("failure_mode", sa.String(length=100), nullable=False),
        sa.Column("minutes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("failure_mode"),
    )
    # Nullable columns: a plain ADD COLUMN on both backends (no SQLite table copy, which would have
    # to rebuild the partial unique index of open work orders).
    op.add_column("work_orders", sa.Column("estimated_duration_min", sa.Integer(), nullable=True))
    op.add_column("work_orders", sa.Column("parts_available_at", sa.DateTime(), nullable=True))
    op.add_column("work_orders", sa.Column("latest_safe_start", sa.DateTime(), nullable=True))
    op.add_column("work_orders", sa.Column("pinned", sa.Boolean(), nullable=True))
    op.add_column("work_orders", sa.Column("planned_end", sa.DateTime(), nullable=True))


def downgrade() -> None:
    for name in reversed(_WORK_ORDER_COLUMNS):
        op.drop_column("work_orders", name)
    op.drop_table("repair_durations")
    op.drop_table("travel_times")
    op.drop_index("ix_shift_exceptions_technician_id", table_name="shift_exceptions")
    op.drop_table("shift_exceptions")
    op.drop_index("ix_technician_shifts_technician_id", table_name="technician_shifts")
    op.drop_table("technician_shifts")
