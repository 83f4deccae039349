"""The relay's side of an outbox: pending rows in commit order, marked in batches."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

import sqlalchemy as sa
from pydantic_core import from_json
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.postgres.driver import on_driver
from adapters.postgres.errors import transient_errors
from adapters.postgres.tables import OUTBOX
from application.messages import OutboxMessage, Refused

MAX_REASON_LENGTH = 1000
PRUNE_BATCH = 10_000

# A read of pending rows, sent straight on the driver (SQLAlchemy's execution and result
# rows cost more than the rest of the read): the payload comes back as the text it was
# written as, never parsed.
#
# The horizon is the oldest transaction, among those still running, that wrote to this
# outbox table: writing holds a lock on the table until commit, and every transaction with
# an id holds a lock on that id, so the two rows of pg_locks with one `virtualtransaction`
# pair them up. pg_locks shows 32-bit ids; the snapshot's in-progress list has the 64-bit
# ones. With no such transaction, every committed row is below it.
_PENDING = """
    SELECT id::text, topic, aggregateid, type, payload::text, headers::text, created_at
    FROM {outbox}
    WHERE published_at IS NULL AND failed_at IS NULL
      AND id <> ALL($2::uuid[]){also}
      AND txid < (
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
               AND writing.relation = '{outbox}'::regclass)),
          pg_snapshot_xmax(snapshot.s))
        FROM (SELECT pg_current_snapshot() AS s) AS snapshot)
    ORDER BY txid, seq
    LIMIT $1
"""
# The batch published last is marked in the same statement as the next read: its rows still
# look pending to the read (one snapshot), so the read leaves them out by id.
_MARK_THEN = "WITH marked AS ({mark})"
_MARK = ("UPDATE {outbox} SET published_at = now()"
         " WHERE id = ANY($3::uuid[]) AND published_at IS NULL")


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

    def __init__(self, engine: AsyncEngine, schema: str, *,
                 sessions: AsyncEngine | None = None) -> None:
        self._engine = engine
        self._sessions = sessions or engine
        self._table = OUTBOX[schema]
        outbox = f"{schema}.outbox"
        mark = _MARK.format(outbox=outbox)
        self._pending = _PENDING.format(outbox=outbox, also="")
        self._mark_then_pending = (_MARK_THEN.format(mark=mark) + _PENDING.format(
            outbox=outbox, also="\n      AND id <> ALL($3::uuid[])"))
        self._mark = mark.replace("$3", "$1")
        self._held: AsyncConnection | None = None
        self._holding = False
        self._using = asyncio.Lock()

    async def fetch_pending(
        self, limit: int, *, exclude: Sequence[str] = (), mark: Sequence[str] = ()
    ) -> Sequence[OutboxMessage]:
        """One statement, which commits on its own: the read, after the marks if any."""
        if not limit:
            await self.mark_published(mark)
            return []
        if mark:
            rows = await self._run(self._mark_then_pending, limit, list(exclude), list(mark))
        else:
            rows = await self._run(self._pending, limit, list(exclude))
        return [
            OutboxMessage(id=id_, topic=topic, key=key, type=type_, payload=payload.encode(),
                          headers=from_json(headers), created_at=created_at)
            for id_, topic, key, type_, payload, headers, created_at in rows
        ]

    async def mark_published(self, ids: Sequence[str]) -> None:
        """Mark a whole batch in one statement, which commits on its own."""
        if ids:
            await self._run(self._mark, list(ids))

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[None]:
        """Hold one connection for the reads and marks made inside (the relay's run): at
        live load the relay reads and marks several times per batch, and a checkout each
        time cost as much as the statement. It comes from `sessions` (the relay's engine
        for connections held while it leads, outside the pool that the backlog reads
        and pruning share). A connection that fails is closed and another opened at the
        next read."""
        self._holding = True
        try:
            yield
        finally:
            self._holding = False
            async with self._using:
                await self._release()

    async def _run(self, sql: str, *values: Any) -> Sequence[Any]:
        if not self._holding:
            async with transient_errors(), self._engine.connect() as connection:
                return await on_driver(connection, sql, values)
        async with self._using, transient_errors():
            if self._held is None:
                self._held = await self._sessions.connect()
            try:
                return await on_driver(self._held, sql, values)
            except BaseException:
                await self._release()
                raise

    async def _release(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            with contextlib.suppress(Exception):
                await held.close()

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

