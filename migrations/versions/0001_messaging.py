"""Schemas orders and inventory, each with its transactional outbox and its inbox.

The outbox keeps Debezium's outbox-router column names (aggregatetype, aggregateid, type,
payload) so a CDC connector could replace the relay without a migration. `txid` is the
writing transaction's id: a reader that only takes rows below its snapshot's xmin never
skips a transaction that commits late. `seq` orders the rows of one transaction.

Revision ID: 0001
Revises:
Create Date: 2025-01-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.types import UserDefinedType

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMAS = ("orders", "inventory")
NOW = sa.text("now()")


class Xid8(UserDefinedType[int]):
    cache_ok = True

    def get_col_spec(self, **kw: object) -> str:
        return "xid8"


def upgrade() -> None:
    for schema in SCHEMAS:
        op.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        _create_outbox(schema)
        _create_inbox(schema)


def _create_outbox(schema: str) -> None:
    op.create_table(
        "outbox",
        sa.Column("id", UUID(as_uuid=False), nullable=False),
        sa.Column("aggregatetype", sa.Text, nullable=False),
        sa.Column("aggregateid", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("payload", JSONB, nullable=False),
        sa.Column("headers", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=NOW),
        sa.Column("txid", Xid8(), nullable=False,
                  server_default=sa.text("pg_current_xact_id()")),
        sa.Column("seq", sa.BigInteger, sa.Identity(always=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        schema=schema,
    )
    op.create_index(op.f("ix_outbox_pending"), "outbox", ["txid", "seq"], schema=schema,
                    postgresql_where=sa.text("published_at IS NULL"))


def _create_inbox(schema: str) -> None:
    op.create_table(
        "inbox",
        sa.Column("consumer_group", sa.Text, nullable=False),
        sa.Column("message_id", sa.Text, nullable=False),
        sa.Column("processed_at", sa.DateTime(timezone=True), nullable=False,
                  server_default=NOW),
        sa.PrimaryKeyConstraint("consumer_group", "message_id", name=op.f("pk_inbox")),
        schema=schema,
    )
    op.create_index(op.f("ix_inbox_processed_at"), "inbox", ["processed_at"], schema=schema)


def downgrade() -> None:
    for schema in reversed(SCHEMAS):
        op.drop_table("inbox", schema=schema)
        op.drop_table("outbox", schema=schema)
        op.execute(f"DROP SCHEMA IF EXISTS {schema}")
