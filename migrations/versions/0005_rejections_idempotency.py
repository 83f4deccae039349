"""Per-line rejection reasons on orders; idempotency keys for any request, per API key.

`orders.rejections` keeps why each line of a rejected order could not be reserved (sku,
reason, requested, available), as the inventory said in `StockRejected`.

`orders.idempotency_keys` is keyed by the API key that sent the request (`scope`) and the
client's `Idempotency-Key`; it stores the fingerprint of the first request and the
response to replay (status, headers, body) until `expires_at`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOW = sa.text("now()")


def upgrade() -> None:
    op.add_column("orders", sa.Column("rejections", JSONB, nullable=False,
                                      server_default=sa.text("'[]'::jsonb")), schema="orders")
    op.drop_table("idempotency_keys", schema="orders")
    op.create_table(
        "idempotency_keys",
        sa.Column("scope", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("request_hash", sa.Text, nullable=False),
        sa.Column("status_code", sa.SmallInteger, nullable=False),
        sa.Column("headers", JSONB, nullable=False),
        sa.Column("body", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("scope", "key", name=op.f("pk_idempotency_keys")),
        schema="orders",
    )
    op.create_index(op.f("ix_idempotency_keys_expires_at"), "idempotency_keys", ["expires_at"],
                    schema="orders")


def downgrade() -> None:
    op.drop_table("idempotency_keys", schema="orders")
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
    op.drop_column("orders", "rejections", schema="orders")
