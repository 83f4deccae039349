"""Orders: orders, their lines, and the idempotency keys of POST /orders.

`version` counted the updates of an order (dropped in 0009: an update is a compare-and-set
on the state it read, so two concurrent writers of one order cannot both win).

Revision ID: 0002
Revises: 0001
Create Date: 2025-01-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "orders",
        sa.Column("id", sa.Text, nullable=False),
        sa.Column("customer_id", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("rejection_reason", sa.Text, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_orders")),
        sa.CheckConstraint("status IN ('pending', 'confirmed', 'rejected')",
                           name=op.f("ck_orders_status")),
        schema="orders",
    )
    op.create_table(
        "order_lines",
        sa.Column("order_id", sa.Text, nullable=False),
        sa.Column("sku", sa.Text, nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("line_no", sa.SmallInteger, nullable=False),
        sa.PrimaryKeyConstraint("order_id", "sku", name=op.f("pk_order_lines")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.orders.id"], ondelete="CASCADE",
                                name=op.f("fk_order_lines_order_id_orders")),
        sa.CheckConstraint("quantity > 0", name=op.f("ck_order_lines_quantity_positive")),
        schema="orders",
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("order_id", sa.Text, nullable=False),
        sa.Column("request_hash", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_idempotency_keys")),
        sa.ForeignKeyConstraint(["order_id"], ["orders.orders.id"], ondelete="CASCADE",
                                name=op.f("fk_idempotency_keys_order_id_orders")),
        schema="orders",
    )
    op.create_index(op.f("ix_idempotency_keys_created_at"), "idempotency_keys", ["created_at"],
                    schema="orders")


def downgrade() -> None:
    op.drop_table("idempotency_keys", schema="orders")
    op.drop_table("order_lines", schema="orders")
    op.drop_table("orders", schema="orders")
