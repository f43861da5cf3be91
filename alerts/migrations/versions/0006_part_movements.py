"""Parts inventory as movements: ``part_movements`` (stock is their sum) and ``part_policies``.

The existing balances get an opening history, so that the movements of every (sku, site) sum to its
``part_stock`` row from the start: one ``adjust`` of ``on_hand`` per stock row, one ``reserve`` per
work-order part line holding a reservation (so reservations stay attributed to their work order),
and, should the lines not add up to the row's ``reserved``, one unattributed reserve/unreserve for
the difference.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 10:00:00.000000
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_ACTOR = "migration-0006"


def upgrade() -> None:
    op.create_table(
        "part_movements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("site", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("work_order_id", sa.Integer(), nullable=True),
        sa.Column("transfer_id", sa.String(length=36), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["work_order_id"], ["work_orders.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("part_movements", schema=None) as batch_op:
        batch_op.create_index("ix_part_movements_sku_site", ["sku", "site", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_part_movements_transfer_id"), ["transfer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_part_movements_work_order_id"), ["work_order_id"], unique=False)
    op.create_table(
        "part_policies",
        sa.Column("sku", sa.String(length=100), nullable=False),
        sa.Column("site", sa.String(length=200), nullable=False),
        sa.Column("lead_time_days", sa.Float(), nullable=False),
        sa.Column("reorder_point", sa.Integer(), nullable=False),
        sa.Column("reorder_qty", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("sku", "site"),
    )
    _opening_history()


def _opening_history() -> None:
    """Movements that sum to today's ``part_stock`` (see the module docstring)."""
    bind = op.get_bind()
    stock = sa.table(
        "part_stock", sa.column("sku"), sa.column("site"), sa.column("on_hand"), sa.column("reserved")
    )
    lines = sa.table(
        "work_order_parts", sa.column("work_order_id"), sa.column("sku"), sa.column("reserved_qty")
    )
    orders = sa.table("work_orders", sa.column("id"), sa.column("site"))
    movements = sa.table(
        "part_movements",
        sa.column("sku"),
        sa.column("site"),
        sa.column("kind"),
        sa.column("quantity"),
        sa.column("work_order_id"),
        sa.column("actor"),
        sa.column("at"),
        sa.column("note"),
    )
    at = datetime.now(UTC).replace(tzinfo=None)  # the store keeps naive UTC
    rows: list[dict[str, object]] = []

    def add(sku: str, site: str, kind: str, qty: int, work_order_id: int | None, note: str) -> None:
        rows.append(
            {
                "sku": sku,
                "site": site,
                "kind": kind,
                "quantity": qty,
                "work_order_id": work_order_id,
                "actor": _ACTOR,
                "at": at,
                "note": note,
            }
        )

    balances = {
        (r.sku, r.site): (int(r.on_hand), int(r.reserved))
        for r in bind.execute(sa.select(stock.c.sku, stock.c.site, stock.c.on_hand, stock.c.reserved))
    }
    held: dict[tuple[str, str], int] = {}
    reserved_lines = bind.execute(
        sa.select(lines.c.work_order_id, lines.c.sku, orders.c.site, lines.c.reserved_qty)
        .join(orders, orders.c.id == lines.c.work_order_id)
        .where(lines.c.reserved_qty > 0)
        .order_by(lines.c.work_order_id, lines.c.sku)
    )
    for sku, site in sorted(balances):
        on_hand, _ = balances[(sku, site)]
        if on_hand:
            add(sku, site, "adjust", on_hand, None, "opening balance (migration 0006)")
    for work_order_id, sku, site, qty in reserved_lines:
        if (sku, site) in balances:
            add(sku, site, "reserve", int(qty), int(work_order_id), "opening reservation (migration 0006)")
            held[(sku, site)] = held.get((sku, site), 0) + int(qty)
    for (sku, site), (_, reserved) in sorted(balances.items()):
        rest = reserved - held.get((sku, site), 0)
        if rest:
            kind = "reserve" if rest > 0 else "unreserve"
            add(sku, site, kind, rest, None, "opening reservation not held by a part line (migration 0006)")
    if rows:
        bind.execute(movements.insert(), rows)


def downgrade() -> None:
    op.drop_table("part_policies")
    with op.batch_alter_table("part_movements", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_part_movements_work_order_id"))
        batch_op.drop_index(batch_op.f("ix_part_movements_transfer_id"))
        batch_op.drop_index("ix_part_movements_sku_site")
    op.drop_table("part_movements")
