"""Initial schema: alerts, engine tracks, outbox, rejections, work orders, crew, parts, audit.

Revision ID: 0001
Revises:
Create Date: 2026-11-22 19:16:44.278267
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "alert_outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("alert_id", sa.String(length=36), nullable=False),
        sa.Column("asset_id", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("alert_outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_outbox_published_at"), ["published_at"], unique=False)

    op.create_table(
        "alerts",
        sa.Column("alert_id", sa.String(length=36), nullable=False),
        sa.Column("asset_id", sa.String(length=200), nullable=False),
        sa.Column("site", sa.String(length=200), nullable=False),
        sa.Column("failure_mode", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("first_seen", sa.DateTime(), nullable=False),
        sa.Column("last_seen", sa.DateTime(), nullable=False),
        sa.Column("occurrence_count", sa.Integer(), nullable=False),
        sa.Column("trigger_risk", sa.Float(), nullable=True),
        sa.Column("trigger_rul_cycles", sa.Float(), nullable=True),
        sa.Column("model_name", sa.String(length=200), nullable=True),
        sa.Column("model_version", sa.String(length=100), nullable=True),
        sa.Column("raised_at", sa.DateTime(), nullable=False),
        sa.Column("last_notified_at", sa.DateTime(), nullable=False),
        sa.Column("escalation_tier", sa.Integer(), nullable=False),
        sa.Column("acknowledged_by", sa.String(length=200), nullable=True),
        sa.Column("ack_comment", sa.Text(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(), nullable=True),
        sa.Column("snoozed_until", sa.DateTime(), nullable=True),
        sa.Column("cleared_at", sa.DateTime(), nullable=True),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("alert_id"),
    )
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alerts_asset_id"), ["asset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_alerts_state"), ["state"], unique=False)
        batch_op.create_index(
            "uq_alerts_open_key",
            ["asset_id", "failure_mode"],
            unique=True,
            sqlite_where=sa.text("state <> 'CLEARED'"),
            postgresql_where=sa.text("state <> 'CLEARED'"),
        )

    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entity", sa.String(length=40), nullable=False),
        sa.Column("entity_id", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.create_index("ix_audit_entity", ["entity", "entity_id"], unique=False)

    op.create_table(
        "engine_tracks",
        sa.Column("asset_id", sa.String(length=200), nullable=False),
        sa.Column("failure_mode", sa.String(length=100), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("asset_id", "failure_mode"),
    )
    op.create_table(
        "part_kits",
        sa.Column("failure_mode", sa.String(length=100), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("failure_mode", "sku"),
    )
    op.create_table(
        "part_stock",
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("site", sa.String(length=200), nullable=False),
        sa.Column("on_hand", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("sku", "site"),
    )
    op.create_table(
        "risk_rejections",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("raw", sa.LargeBinary(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "technicians",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("site", sa.String(length=200), nullable=False),
        sa.Column("territory", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "work_orders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("asset_id", sa.String(length=200), nullable=False),
        sa.Column("site", sa.String(length=200), nullable=False),
        sa.Column("failure_mode", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("severity", sa.String(length=20), nullable=False),
        sa.Column("priority", sa.String(length=4), nullable=False),
        sa.Column("due_by", sa.DateTime(), nullable=False),
        sa.Column("source_alert_id", sa.String(length=36), nullable=True),
        sa.Column("alert_raised_at", sa.DateTime(), nullable=True),
        sa.Column("model_name", sa.String(length=200), nullable=True),
        sa.Column("model_version", sa.String(length=100), nullable=True),
        sa.Column("technician_id", sa.Integer(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("on_site_at", sa.DateTime(), nullable=True),
        sa.Column("completed_at", sa.DateTime(), nullable=True),
        sa.Column("closed_at", sa.DateTime(), nullable=True),
        sa.Column("fault_found", sa.Boolean(), nullable=True),
        sa.Column("failure_code", sa.String(length=100), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("time_on_site_min", sa.Float(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["technician_id"],
            ["technicians.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_alert_id"),
    )
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_work_orders_asset_id"), ["asset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_work_orders_site"), ["site"], unique=False)
        batch_op.create_index(batch_op.f("ix_work_orders_status"), ["status"], unique=False)
        batch_op.create_index(
            "uq_work_orders_open_key",
            ["asset_id", "failure_mode"],
            unique=True,
            sqlite_where=sa.text(
                "status IN ('requested', 'approved', 'waiting_parts', 'scheduled', 'in_progress')"
            ),
            postgresql_where=sa.text(
                "status IN ('requested', 'approved', 'waiting_parts', 'scheduled', 'in_progress')"
            ),
        )

    op.create_table(
        "work_order_parts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("reserved_qty", sa.Integer(), nullable=False),
        sa.Column("used_qty", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["work_order_id"],
            ["work_orders.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("work_order_parts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_work_order_parts_work_order_id"), ["work_order_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("work_order_parts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_work_order_parts_work_order_id"))

    op.drop_table("work_order_parts")
    with op.batch_alter_table("work_orders", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_work_orders_open_key",
            sqlite_where=sa.text(
                "status IN ('requested', 'approved', 'waiting_parts', 'scheduled', 'in_progress')"
            ),
            postgresql_where=sa.text(
                "status IN ('requested', 'approved', 'waiting_parts', 'scheduled', 'in_progress')"
            ),
        )
        batch_op.drop_index(batch_op.f("ix_work_orders_status"))
        batch_op.drop_index(batch_op.f("ix_work_orders_site"))
        batch_op.drop_index(batch_op.f("ix_work_orders_asset_id"))

    op.drop_table("work_orders")
    op.drop_table("technicians")
    op.drop_table("risk_rejections")
    op.drop_table("part_stock")
    op.drop_table("part_kits")
    op.drop_table("engine_tracks")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_entity")

    op.drop_table("audit_log")
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_alerts_open_key",
            sqlite_where=sa.text("state <> 'CLEARED'"),
            postgresql_where=sa.text("state <> 'CLEARED'"),
        )
        batch_op.drop_index(batch_op.f("ix_alerts_state"))
        batch_op.drop_index(batch_op.f("ix_alerts_asset_id"))

    op.drop_table("alerts")
    with op.batch_alter_table("alert_outbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_outbox_published_at"))

    op.drop_table("alert_outbox")
