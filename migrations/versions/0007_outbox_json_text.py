"""Outbox payloads and headers as `json`: the text as it was written.

`jsonb` stores a parsed form and gives back text of its own (keys reordered, spaces
added), so the relay had to decode each payload and encode it again for the wire. A
`json` column keeps the writer's compact text, and the relay sends those bytes as they
are. Both are checked as JSON on insert; nothing queries the outbox by what is inside.

The change rewrites both outbox tables (and their indexes) under an exclusive lock:
run it while the outboxes are short, as they are when the relay keeps up.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-28
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SCHEMAS = ("orders", "inventory")


def upgrade() -> None:
    for schema in SCHEMAS:
        _retype(schema, "json", "'{}'::json")


def downgrade() -> None:
    for schema in SCHEMAS:
        _retype(schema, "jsonb", "'{}'::jsonb")


def _retype(schema: str, type_: str, headers_default: str) -> None:
    op.execute(f"ALTER TABLE {schema}.outbox"
               f" ALTER COLUMN payload TYPE {type_} USING payload::{type_},"
               f" ALTER COLUMN headers DROP DEFAULT,"
               f" ALTER COLUMN headers TYPE {type_} USING headers::{type_},"
               f" ALTER COLUMN headers SET DEFAULT {headers_default}")
