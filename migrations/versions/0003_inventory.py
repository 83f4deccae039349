"""Inventory: stock items and the reservation (or rejection) of each order.

The CHECK constraints repeat the domain's invariant 0 <= reserved <= on_hand as the last
line of defence: no code path, however buggy or concurrent, can commit an oversold item.

Revision ID: 0003
Revises: 0002
Create Date: 2025-01-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "stock_items",
        sa.Column("sku", sa.Text, nullable=False),
        sa.Column("on_hand", sa.Integer, nullable=False),
        sa.Column("reserved", sa.Integer, nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("sku", name=op.f("pk_stock_items")),
        sa.CheckConstraint("on_hand >= 0", name=op.f("ck_stock_items_on_hand_not_negative")),
        sa.CheckConstraint("reserved >= 0 AND reserved <= on_hand",
                           name=op.f("ck_stock_items_reserved_within_on_hand")),
        schema="inventory",
    )
    op.create_table(
        "reservations",
        sa.Column("order_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("lines", JSONB, nullable=False),
        sa.Column("rejections", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_reservations")),
        sa.CheckConstraint("status IN ('reserved', 'rejected')",
                           name=op.f("ck_reservations_status")),
        schema="inventory",
    )


def downgrade() -> None:
    op.drop_table("reservations", schema="inventory")
    op.drop_table("stock_items", schema="inventory")
