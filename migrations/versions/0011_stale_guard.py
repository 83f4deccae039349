"""`orders.stale(reason)` and `inventory.stale(reason)`: fail a statement as a serialization
failure (SQLSTATE 40001), with `reason`.

A worker applies a batch without locking first, and writes it in one statement sent
alone, in autocommit; that statement checks that every row it updates still holds what
was read, and calls `stale` when one does not, so that nothing of it is written (see
`adapters.postgres.statements.together`). VOLATILE, so that it is called only when the
check fails, never folded at planning.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-07
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMAS = ("orders", "inventory")


def upgrade() -> None:
    for schema in SCHEMAS:
        op.execute(f"""
            CREATE FUNCTION {schema}.stale(reason text) RETURNS boolean
            LANGUAGE plpgsql VOLATILE AS $$
            BEGIN
                RAISE EXCEPTION USING ERRCODE = 'serialization_failure', MESSAGE = reason;
            END $$""")


def downgrade() -> None:
    for schema in reversed(SCHEMAS):
        op.execute(f"DROP FUNCTION {schema}.stale(text)")
