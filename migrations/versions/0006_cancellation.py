"""Cancelled orders and released reservations.

`orders.orders` gains who cancelled an order and why (`cancelled_by`,
`cancellation_reason`) and whether the inventory said its stock is back
(`stock_released`); `status` may be `cancelled`, and a CHECK keeps the three consistent
with it. `inventory.reservations.status` may be `released` (its stock went back) or
`cancelled` (the order was cancelled while nothing was held).

Adding a column with a constant default rewrites no rows. A downgrade refuses (the CHECK
it restores is violated, and nothing is changed) while cancelled orders or released or
cancelled reservations exist.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CANCELLATION = ("(status = 'cancelled') = (cancelled_by IS NOT NULL AND "
                "cancellation_reason IS NOT NULL) "
                "AND (status = 'cancelled' OR NOT stock_released)")


def _status_check(table: str, schema: str, statuses: Sequence[str]) -> None:
    name = op.f(f"ck_{table}_status")
    op.drop_constraint(name, table, schema=schema, type_="check")
    listed = ", ".join(f"'{status}'" for status in statuses)
    op.create_check_constraint(name, table, f"status IN ({listed})", schema=schema)


def upgrade() -> None:
    op.add_column("orders", sa.Column("cancelled_by", sa.Text), schema="orders")
    op.add_column("orders", sa.Column("cancellation_reason", sa.Text), schema="orders")
    op.add_column("orders", sa.Column("stock_released", sa.Boolean, nullable=False,
                                      server_default=sa.false()), schema="orders")
    _status_check("orders", "orders", ["pending", "confirmed", "rejected", "cancelled"])
    op.create_check_constraint(op.f("ck_orders_cancellation"), "orders", CANCELLATION,
                               schema="orders")
    _status_check("reservations", "inventory", ["reserved", "rejected", "released", "cancelled"])


def downgrade() -> None:
    _status_check("reservations", "inventory", ["reserved", "rejected"])
    op.drop_constraint(op.f("ck_orders_cancellation"), "orders", schema="orders",
                       type_="check")
    _status_check("orders", "orders", ["pending", "confirmed", "rejected"])
    for column in ("stock_released", "cancellation_reason", "cancelled_by"):
        op.drop_column("orders", column, schema="orders")
