"""Core tables of both schemas, mirroring the Alembic migrations (which own the schema).

The domain classes are mapped by hand in the repositories; nothing here touches them.
"""

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSON, JSONB, UUID
from sqlalchemy.types import UserDefinedType

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

ORDERS = "orders"
INVENTORY = "inventory"

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)

# A cancelled order, and only one, says who cancelled it and why; only a cancelled order
# has its stock released.
CANCELLATION_CHECK = ("(status = 'cancelled') = (cancelled_by IS NOT NULL AND "
                      "cancellation_reason IS NOT NULL) "
                      "AND (status = 'cancelled' OR NOT stock_released)")


class Xid8(UserDefinedType[int]):
    """Postgres' 64-bit transaction id; never wraps around, so it orders safely."""

    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "xid8"


def _outbox(schema: str) -> sa.Table:
    return sa.Table(
        "outbox", metadata,
        sa.Column("id", UUID(as_uuid=False), primary_key=True),
        sa.Column("aggregatetype", sa.Text, nullable=False),
        sa.Column("aggregateid", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        # `json`, not `jsonb`: the text is kept as it was written, so the relay can send
        # the very bytes the writer serialized (migration 0007).
        sa.Column("payload", JSON, nullable=False),
        sa.Column("headers", JSON, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("txid", Xid8, nullable=False, server_default=sa.text("pg_current_xact_id()")),
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), nullable=False),
        # What the broker refused for good stays, with why; what it took is deleted.
        sa.Column("failed_at", sa.DateTime(timezone=True)),
        sa.Column("failure_reason", sa.Text),
        sa.Index("ix_outbox_pending", "txid", "seq",
                 postgresql_where=sa.text("failed_at IS NULL")),
        schema=schema,
    )


def _inbox(schema: str) -> sa.Table:
    return sa.Table(
        "inbox", metadata,
        sa.Column("consumer_group", sa.Text, primary_key=True),
        sa.Column("message_id", sa.Text, primary_key=True),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Index("ix_inbox_processed_at", "processed_at"),
        schema=schema,
    )


def _parked(schema: str) -> sa.Table:
    """Messages stepped aside behind their key, in arrival order (`seq`); see
    `adapters.postgres.parked`."""
    return sa.Table(
        "parked", metadata,
        sa.Column("consumer_group", sa.Text, primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), primary_key=True),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("origin_topic", sa.Text, nullable=False),
        sa.Column("origin_partition", sa.Integer, nullable=False),
        sa.Column("origin_offset", sa.BigInteger, nullable=False),
        sa.Column("message_key", sa.LargeBinary),
        sa.Column("value", sa.LargeBinary),
        # [[name, base64 of the value or null], ...]: header values are bytes.
        sa.Column("headers", JSON, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("first_error", sa.Text),
        sa.Column("last_error", sa.Text),
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=sa.func.now()),
        sa.Column("next_retry_at", sa.DateTime(timezone=True)),
        schema=schema,
    )


OUTBOX = {schema: _outbox(schema) for schema in (ORDERS, INVENTORY)}
INBOX = {schema: _inbox(schema) for schema in (ORDERS, INVENTORY)}
PARKED = {schema: _parked(schema) for schema in (ORDERS, INVENTORY)}

orders = sa.Table(
    "orders", metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("customer_id", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("rejection_reason", sa.Text),
    sa.Column("rejections", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
    sa.Column("cancelled_by", sa.Text),
    sa.Column("cancellation_reason", sa.Text),
    sa.Column("stock_released", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.CheckConstraint("status IN ('pending', 'confirmed', 'rejected', 'cancelled')",
                       name="status"),
    sa.CheckConstraint(CANCELLATION_CHECK, name="cancellation"),
    schema=ORDERS,
)

order_lines = sa.Table(
    "order_lines", metadata,
    sa.Column("order_id", sa.Text, sa.ForeignKey("orders.orders.id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("quantity", sa.Integer, nullable=False),
    sa.Column("line_no", sa.SmallInteger, nullable=False),
    sa.CheckConstraint("quantity > 0", name="quantity_positive"),
    schema=ORDERS,
)

idempotency_keys = sa.Table(
    "idempotency_keys", metadata,
    sa.Column("scope", sa.Text, primary_key=True),
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("request_hash", sa.Text, nullable=False),
    sa.Column("status_code", sa.SmallInteger, nullable=False),
    sa.Column("headers", JSONB, nullable=False),
    sa.Column("body", JSONB, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ix_idempotency_keys_expires_at", "expires_at"),
    schema=ORDERS,
)

stock_items = sa.Table(
    "stock_items", metadata,
    sa.Column("sku", sa.Text, primary_key=True),
    sa.Column("on_hand", sa.Integer, nullable=False),
    sa.Column("reserved", sa.Integer, nullable=False, server_default="0"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
    sa.CheckConstraint("on_hand >= 0", name="on_hand_not_negative"),
    sa.CheckConstraint("reserved >= 0 AND reserved <= on_hand", name="reserved_within_on_hand"),
    schema=INVENTORY,
)

reservations = sa.Table(
    "reservations", metadata,
    sa.Column("order_id", sa.Text, primary_key=True),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("lines", JSONB, nullable=False),
    sa.Column("rejections", JSONB, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False,
              server_default=sa.func.now()),
    sa.CheckConstraint("status IN ('reserved', 'rejected', 'released', 'cancelled')",
                       name="status"),
    schema=INVENTORY,
)
