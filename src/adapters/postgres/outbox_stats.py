"""How much waits in an outbox, and for how long: for the backlog gauges."""

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.errors import transient_errors
from adapters.postgres.tables import OUTBOX


@dataclass(frozen=True, slots=True)
class Backlog:
    pending: int
    oldest_age_s: float


async def outbox_backlog(engine: AsyncEngine, schema: str) -> Backlog:
    """Rows still to be sent (the outbox less what the broker refused), and the age of the
    first of them in commit order (by the database's clock). Both read the partial index
    of pending rows."""
    table = OUTBOX[schema]
    pending = table.c.failed_at.is_(None)
    count = sa.select(sa.func.count()).select_from(table).where(pending)
    oldest = (sa.select(sa.func.extract("epoch", sa.func.now() - table.c.created_at))
              .where(pending).order_by(table.c.txid, table.c.seq).limit(1))
    async with transient_errors(), engine.connect() as connection:
        total = await connection.scalar(count)
        age = await connection.scalar(oldest)
    return Backlog(pending=int(total or 0), oldest_age_s=max(0.0, float(age or 0.0)))
