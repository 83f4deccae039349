"""Autovacuum of the tables pruned by age: the inboxes and the idempotency keys are vacuumed
once 1 % of their rows are dead, not 20 %.

Each of them holds a window of rows (the inbox the dedupe window's messages, 7 days by
default; the keys a day of requests) and loses its oldest every prune round. PostgreSQL's
default vacuums a table once 20 % of its rows are dead: on an inbox of a week, after 1.4
days of deletes, during which the dead rows' space cannot be reused and the table and its
indexes grow by a fifth. At 1 % the table stays the size of its window (measured with
tools/queue_tables.py: docs/postgres.md, "Queue tables: storage and autovacuum").

The outboxes and the parked tables keep PostgreSQL's defaults: with next to no live rows,
the default threshold (50 dead rows) has them vacuumed at every autovacuum round already,
and no setting measured did better. Downgrading resets the settings.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-09
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("orders.inbox", "inventory.inbox", "orders.idempotency_keys")
SETTINGS = {"autovacuum_vacuum_scale_factor": "0.01"}


def upgrade() -> None:
    settings = ", ".join(f"{name} = {value}" for name, value in SETTINGS.items())
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET ({settings})")


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET ({', '.join(SETTINGS)})")
