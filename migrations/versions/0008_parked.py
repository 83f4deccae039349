"""Parked messages: a key that keeps failing steps aside, and its later messages wait
behind it, per consumer group, in the schema of the group's inbox.

One row per message, in arrival order (`seq`): the original record (its origin topic,
partition and offset, key, value and headers, byte for byte) and, for the first message
of a key, why and how often it failed and when it is tried again. The primary key
(consumer_group, key, seq) answers both questions the workers ask: is this key parked,
and which message of it is first.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-12
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSON

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMAS = ("orders", "inventory")


def upgrade() -> None:
    for schema in SCHEMAS:
        op.create_table(
            "parked",
            sa.Column("consumer_group", sa.Text, nullable=False),
            sa.Column("key", sa.Text, nullable=False),
            sa.Column("seq", sa.BigInteger, sa.Identity(always=True), nullable=False),
            sa.Column("message_id", sa.Text, nullable=False),
            sa.Column("origin_topic", sa.Text, nullable=False),
            sa.Column("origin_partition", sa.Integer, nullable=False),
            sa.Column("origin_offset", sa.BigInteger, nullable=False),
            sa.Column("message_key", sa.LargeBinary, nullable=True),
            sa.Column("value", sa.LargeBinary, nullable=True),
            sa.Column("headers", JSON, nullable=False),
            sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
            sa.Column("first_error", sa.Text, nullable=True),
            sa.Column("last_error", sa.Text, nullable=True),
            sa.Column("parked_at", sa.DateTime(timezone=True), nullable=False,
                      server_default=sa.text("now()")),
            sa.Column("next_retry_at", sa.DateTime(timezone=True), nullable=True),
            sa.PrimaryKeyConstraint("consumer_group", "key", "seq", name=op.f("pk_parked")),
            schema=schema,
        )


def downgrade() -> None:
    for schema in reversed(SCHEMAS):
        op.drop_table("parked", schema=schema)
