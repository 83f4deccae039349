"""The relay's side of an outbox: pending rows in commit order, marked in batches."""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.errors import transient_errors
from adapters.postgres.tables import OUTBOX
from application.messages import OutboxMessage


class PostgresOutboxReader:
    """Reads one schema's outbox without ever skipping a transaction that commits late.

    Every row carries `txid`, the id of the transaction that wrote it. A reader only
    takes rows with `txid < pg_snapshot_xmin(pg_current_snapshot())`: every transaction
    below that horizon has ended, so no row with a smaller `txid` can still appear.
    Rows come in `(txid, seq)` order. Rows of a transaction that is still open, and of
    any later one, wait for the next call; a long transaction anywhere in the cluster
    holds the horizon back (and so delays the relay, but never reorders it).

    One reader per outbox is assumed: leadership among several relay processes (an
    advisory lock) and waking up on LISTEN/NOTIFY instead of polling belong to the relay
    process, not to this class.
    """

    def __init__(self, engine: AsyncEngine, schema: str) -> None:
        self._engine = engine
        self._table = OUTBOX[schema]

    async def fetch_pending(self, limit: int) -> Sequence[OutboxMessage]:
        table = self._table
        horizon = sa.func.pg_snapshot_xmin(sa.func.pg_current_snapshot())
        query = (
            sa.select(table.c.id, table.c.topic, table.c.aggregateid, table.c.type,
                      table.c.payload, table.c.headers, table.c.created_at)
            .where(table.c.published_at.is_(None), table.c.txid < horizon)
            .order_by(table.c.txid, table.c.seq)
            .limit(limit)
        )
        async with transient_errors(), self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return [
            OutboxMessage(id=str(row.id), topic=row.topic, key=row.aggregateid, type=row.type,
                          payload=row.payload, headers=row.headers, created_at=row.created_at)
            for row in rows
        ]

    async def mark_published(self, ids: Sequence[str]) -> None:
        """Mark a whole batch in one statement and one transaction."""
        if not ids:
            return
        table = self._table
        batch = sa.bindparam("ids", list(ids), type_=ARRAY(UUID(as_uuid=False)))
        statement = (
            sa.update(table)
            .where(table.c.id == sa.any_(batch), table.c.published_at.is_(None))
            .values(published_at=sa.func.now())
        )
        async with transient_errors(), self._engine.begin() as connection:
            await connection.execute(statement)
