"""Outbox rows the broker refused for good, and a notification on every commit.

`failed_at` and `failure_reason` record a message the broker will never take (too large,
invalid topic): the relay marks it failed instead of published and goes on. The pending
index now leaves failed rows out too.

A statement-level trigger sends `NOTIFY orderstream_outbox_<schema>` after rows are
inserted; Postgres delivers it when the transaction commits (and once per transaction,
however many statements), so a listening relay wakes up the moment an event can be read.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMAS = ("orders", "inventory")


def upgrade() -> None:
    for schema in SCHEMAS:
        op.add_column("outbox", sa.Column("failed_at", sa.DateTime(timezone=True)),
                      schema=schema)
        op.add_column("outbox", sa.Column("failure_reason", sa.Text), schema=schema)
        op.drop_index("ix_outbox_pending", table_name="outbox", schema=schema)
        op.create_index("ix_outbox_pending", "outbox", ["txid", "seq"], schema=schema,
                        postgresql_where=sa.text("published_at IS NULL AND failed_at IS NULL"))
        op.create_index("ix_outbox_published_at", "outbox", ["published_at"], schema=schema,
                        postgresql_where=sa.text("published_at IS NOT NULL"))
        op.execute(f"""
            CREATE FUNCTION {schema}.notify_outbox() RETURNS trigger
            LANGUAGE plpgsql AS $$
            BEGIN
                PERFORM pg_notify('orderstream_outbox_{schema}', '');
                RETURN NULL;
            END $$""")
        op.execute(f"""
            CREATE TRIGGER outbox_notify AFTER INSERT ON {schema}.outbox
            FOR EACH STATEMENT EXECUTE FUNCTION {schema}.notify_outbox()""")


def downgrade() -> None:
    for schema in reversed(SCHEMAS):
        op.execute(f"DROP TRIGGER outbox_notify ON {schema}.outbox")
        op.execute(f"DROP FUNCTION {schema}.notify_outbox()")
        op.drop_index("ix_outbox_published_at", table_name="outbox", schema=schema)
        op.drop_index("ix_outbox_pending", table_name="outbox", schema=schema)
        op.create_index("ix_outbox_pending", "outbox", ["txid", "seq"], schema=schema,
                        postgresql_where=sa.text("published_at IS NULL"))
        op.drop_column("outbox", "failure_reason", schema=schema)
        op.drop_column("outbox", "failed_at", schema=schema)
