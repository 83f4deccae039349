"""Orders without `version`: it counted updates and nothing read it.

Every update of an order is a compare-and-set on the state it read (status, rejection
reason, `stock_released`; who cancelled and why, and the rejected lines, change only with
the status), and an order's life cycle never returns to a state it left, so a version
number would refuse no write that the state does not refuse already. Downgrading adds the
column back with every order at 1: the counts are not kept.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_column("orders", "version", schema="orders")


def downgrade() -> None:
    op.add_column("orders", sa.Column("version", sa.Integer, nullable=False,
                                      server_default="1"), schema="orders")
