"""The outbox holds only what is still to be sent: the relay deletes what the broker took.

Marking a row published (an UPDATE, a new row version and its index entries) and pruning
it later (a DELETE) were two writes per event after the insert; a DELETE once the broker
acknowledged the row is one, and the table stays as small as the backlog. The published
rows kept until now are deleted here, `published_at` and its index go, and the index of
pending rows leaves out only the rows the broker refused for good (`failed_at`).

The DELETE takes as long as the published rows kept: lower the retention the relay pruned
them by, or prune them, before upgrading a large outbox. A downgrade adds `published_at`
back, empty: every row left is pending or refused.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMAS = ("orders", "inventory")


def upgrade() -> None:
    for schema in SCHEMAS:
        op.execute(f"DELETE FROM {schema}.outbox WHERE published_at IS NOT NULL")
        op.drop_index("ix_outbox_published_at", table_name="outbox", schema=schema)
        op.drop_index("ix_outbox_pending", table_name="outbox", schema=schema)
        op.drop_column("outbox", "published_at", schema=schema)
        op.create_index("ix_outbox_pending", "outbox", ["txid", "seq"], schema=schema,
                        postgresql_where=sa.text("failed_at IS NULL"))


def downgrade() -> None:
    for schema in reversed(SCHEMAS):
        op.drop_index("ix_outbox_pending", table_name="outbox", schema=schema)
        op.add_column("outbox", sa.Column("published_at", sa.DateTime(timezone=True)),
                      schema=schema)
        op.create_index("ix_outbox_pending", "outbox", ["txid", "seq"], schema=schema,
                        postgresql_where=sa.text("published_at IS NULL AND failed_at IS NULL"))
        op.create_index("ix_outbox_published_at", "outbox", ["published_at"], schema=schema,
                        postgresql_where=sa.text("published_at IS NOT NULL"))
