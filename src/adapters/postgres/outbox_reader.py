"""The relay's side of an outbox: pending rows in commit order, deleted once published."""

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

# A read of pending rows, sent straight on the driver (SQLAlchemy's execution and result
# rows cost more than the rest of the read): the payload comes back as the text it was
# written as, never parsed.
#
# The horizon is the oldest transaction, among those still running, that wrote to this
# outbox table: writing holds a lock on the table until commit, and every transaction with
# an id holds a lock on that id, so the two rows of pg_locks with one `virtualtransaction`
# pair them up. pg_locks shows 32-bit ids; the snapshot's in-progress list has the 64-bit
# ones. With no such transaction, every committed row is below it.
#
# The floor ($2) is where the index scan starts: no row the read may still return lies
# below it (see `PostgresOutboxReader`). The last row the statement returns is not a
# message: its `txid` is the snapshot's xmin, from which the next floor is taken.
_PENDING = """
    (SELECT id::text, topic, aggregateid, type, payload::text, headers::text, created_at,
            txid
     FROM {outbox}
     WHERE failed_at IS NULL AND txid >= $2::xid8
       AND id <> ALL($3::uuid[]){also}
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
     LIMIT $1)
    UNION ALL
    SELECT NULL, NULL, NULL, NULL, NULL, NULL, NULL,
           pg_snapshot_xmin(pg_current_snapshot())
"""
# The batch published last is deleted in the same statement as the next read: its rows
# still show in the read (one snapshot), so the read leaves them out by id.
_DELETE_THEN = "WITH deleted AS ({delete})"
_DELETE = "DELETE FROM {outbox} WHERE id = ANY($4::uuid[])"


class PostgresOutboxReader:
    """Reads one schema's outbox without ever skipping a transaction that commits late, and
    deletes what the relay published: the outbox holds only what is still to be sent (and
    what the broker refused for good, with why).

    Every row carries `txid`, the id of the transaction that wrote it, and `seq`, its
    place within that transaction. A read takes pending rows in `(txid, seq)` order, but
    only below a horizon: the oldest transaction still running that has written to this
    outbox (or, when none has, every committed row). Rows of a transaction that is still
    open, and of any later one, wait for the next read, so they are never published out
    of order. Transactions that never touch this outbox (a session idle in a transaction,
    a long report, another database on the server) do not hold the relay back.

    A deleted row stays in the table and its index as a dead tuple until vacuum removes
    it, and vacuum can remove none that an old snapshot may still see. So that the reads
    do not walk those, each starts at a floor: the lowest `txid` it may still need. That
    is the snapshot's xmin of the read before (a transaction running then, or one yet to
    write, writes rows at or above it) or the lowest `txid` of a row read and not yet
    deleted, whichever is lower (or, after a full batch, its last row's `txid`, at or
    above which the rows it left lie). A read then costs what its batch costs, however far
    vacuum lags behind. The floor starts at 0 with each `session`.

    Several relay processes take turns through leadership (an advisory lock), not here.
    """

    def __init__(self, engine: AsyncEngine, schema: str, *,
                 sessions: AsyncEngine | None = None) -> None:
        self._engine = engine
        self._sessions = sessions or engine
        self._table = OUTBOX[schema]
        outbox = f"{schema}.outbox"
        delete = _DELETE.format(outbox=outbox)
        self._pending = _PENDING.format(outbox=outbox, also="")
        self._delete_then_pending = (_DELETE_THEN.format(delete=delete) + _PENDING.format(
            outbox=outbox, also="\n       AND id <> ALL($4::uuid[])"))
        self._delete = delete.replace("$4", "$1")
        self._held: AsyncConnection | None = None
        self._holding = False
        self._using = asyncio.Lock()
        self._xmin = 0
        self._unsent: dict[str, int] = {}

    @property
    def floor(self) -> int:
        """Where the next read starts: no row it may return has a lower `txid`."""
        return min(self._xmin, *self._unsent.values()) if self._unsent else self._xmin

    async def fetch_pending(
        self, limit: int, *, exclude: Sequence[str] = (), delete: Sequence[str] = ()
    ) -> Sequence[OutboxMessage]:
        """One statement, which commits on its own: the read, after the deletes if any."""
        if not limit:
            await self.delete_published(delete)
            return []
        floor = self.floor
        if delete:
            rows = await self._run(self._delete_then_pending, limit, floor, list(exclude),
                                   list(delete))
        else:
            rows = await self._run(self._pending, limit, floor, list(exclude))
        self._forget(delete)
        *found, (*_, xmin) = rows
        # A full batch may have left rows behind, at or above its last row's txid.
        self._xmin = xmin if len(found) < limit else min(xmin, found[-1][-1])
        messages = []
        for id_, topic, key, type_, payload, headers, created_at, txid in found:
            self._unsent[id_] = txid
            messages.append(OutboxMessage(
                id=id_, topic=topic, key=key, type=type_, payload=payload.encode(),
                headers=from_json(headers), created_at=created_at))
        return messages

    async def delete_published(self, ids: Sequence[str]) -> None:
        """Delete a whole batch in one statement, which commits on its own."""
        if ids:
            await self._run(self._delete, list(ids))
            self._forget(ids)

    def _forget(self, ids: Sequence[str]) -> None:
        for message_id in ids:
            self._unsent.pop(message_id, None)

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[None]:
        """Hold one connection for the reads and deletes made inside (the relay's run): at
        live load the relay reads and deletes several times per batch, and a checkout each
        time cost as much as the statement. It comes from `sessions` (the relay's engine
        for connections held while it leads, outside the pool that the backlog reads
        share). A connection that fails is closed and another opened at the next read."""
        self._holding, self._xmin, self._unsent = True, 0, {}
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
            .where(table.c.id == sa.bindparam("message_id"))
            .values(failed_at=sa.func.now(), failure_reason=sa.bindparam("reason"))
        )
        rows = [{"message_id": r.message.id, "reason": r.reason[:MAX_REASON_LENGTH]}
                for r in refused]
        async with transient_errors(), self._engine.begin() as connection:
            await connection.execute(statement, rows)
        self._forget([r.message.id for r in refused])
