"""The relay's side of an outbox: pending rows in commit order, marked in batches."""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters.postgres.errors import transient_errors
from adapters.postgres.tables import OUTBOX, Xid8
from application.messages import OutboxMessage, Refused

MAX_REASON_LENGTH = 1000
PRUNE_BATCH = 10_000

# The oldest transaction, among those still running, that wrote to this outbox table:
# writing holds a lock on the table until commit, and every transaction with an id holds a
# lock on that id, so the two rows of pg_locks with one `virtualtransaction` pair them up.
# pg_locks shows 32-bit ids; the snapshot's in-progress list has the 64-bit ones.
_HORIZON = """
    SELECT coalesce(
      (SELECT min(running.id)
       FROM pg_snapshot_xip(snapshot.s) AS running(id)
       WHERE (running.id::text::numeric % 4294967296) IN (
         SELECT own.transactionid::text::numeric
         FROM pg_locks AS writing
         JOIN pg_locks AS own
           ON own.virtualtransaction = writing.virtualtransaction
          AND own.locktype = 'transactionid'
         WHERE writing.locktype = 'relation'
           AND writing.relation = CAST(:table AS regclass))),
      pg_snapshot_xmax(snapshot.s)) AS horizon
    FROM (SELECT pg_current_snapshot() AS s) AS snapshot
"""


class PostgresOutboxReader:
    """Reads one schema's outbox without ever skipping a transaction that commits late.

    Every row carries `txid`, the id of the transaction that wrote it, and `seq`, its
    place within that transaction. A read takes pending rows in `(txid, seq)` order, but
    only below a horizon: the oldest transaction still running that has written to this
    outbox (or, when none has, every committed row). Rows of a transaction that is still
    open, and of any later one, wait for the next read, so they are never published out
    of order. Transactions that never touch this outbox (a session idle in a transaction,
    a long report, another database on the server) do not hold the relay back.

    Several relay processes take turns through leadership (an advisory lock), not here.
    """

    def __init__(self, engine: AsyncEngine, schema: str) -> None:
        self._engine = engine
        self._table = OUTBOX[schema]
        self._horizon = (sa.text(_HORIZON).bindparams(table=f"{schema}.outbox")
                         .columns(sa.column("horizon", Xid8())).scalar_subquery())

    async def fetch_pending(
        self, limit: int, *, exclude: Sequence[str] = ()
    ) -> Sequence[OutboxMessage]:
        table = self._table
        query = (
            sa.select(table.c.id, table.c.topic, table.c.aggregateid, table.c.type,
                      table.c.payload, table.c.headers, table.c.created_at)
            .where(table.c.published_at.is_(None), table.c.failed_at.is_(None),
                   table.c.txid < self._horizon)
            .order_by(table.c.txid, table.c.seq)
            .limit(limit)
        )
        if exclude:
            query = query.where(table.c.id != sa.all_(_uuids("exclude", exclude)))
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
        statement = (
            sa.update(table)
            .where(table.c.id == sa.any_(_uuids("ids", ids)), table.c.published_at.is_(None))
            .values(published_at=sa.func.now())
        )
        async with transient_errors(), self._engine.begin() as connection:
            await connection.execute(statement)

    async def mark_failed(self, refused: Sequence[Refused]) -> None:
        if not refused:
            return
        table = self._table
        statement = (
            sa.update(table)
            .where(table.c.id == sa.bindparam("message_id"), table.c.published_at.is_(None))
            .values(failed_at=sa.func.now(), failure_reason=sa.bindparam("reason"))
        )
        rows = [{"message_id": r.message.id, "reason": r.reason[:MAX_REASON_LENGTH]}
                for r in refused]
        async with transient_errors(), self._engine.begin() as connection:
            await connection.execute(statement, rows)

    async def prune(self, older_than_s: float) -> int:
        """Delete up to PRUNE_BATCH rows published before the retention; failed rows stay."""
        table = self._table
        old = (
            sa.select(table.c.id)
            .where(table.c.published_at < sa.func.now() - sa.func.make_interval(
                0, 0, 0, 0, 0, 0, sa.literal(older_than_s)))
            .limit(PRUNE_BATCH)
        )
        async with transient_errors(), self._engine.begin() as connection:
            result = await connection.execute(sa.delete(table).where(table.c.id.in_(old)))
        return result.rowcount


def _uuids(name: str, ids: Sequence[str]) -> sa.BindParameter[Any]:
    values: Any = list(ids)
    return sa.bindparam(name, values, type_=ARRAY(UUID(as_uuid=False)))
