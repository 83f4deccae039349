"""Leadership through a Postgres session-level advisory lock on a connection of its own."""

import asyncio
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.postgres.errors import transient_errors
from adapters.postgres.sessions import dedicated, discard

_TRY_LOCK = sa.text("SELECT pg_try_advisory_lock(hashtextextended(:name, 0))")
_UNLOCK = sa.text("SELECT pg_advisory_unlock(hashtextextended(:name, 0))")
_HOLDS = sa.text(
    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid()"
    " AND ((classid::bigint << 32) | objid::bigint) = hashtextextended(:name, 0)")


class AdvisoryLockLeadership:
    """Exactly one session in the cluster holds `pg_advisory_lock(hash(name))`.

    The lock lives as long as the session that took it, so a leader that dies, or whose
    connection is closed or terminated, releases it at once and a standby's next attempt
    succeeds. The leader confirms on every check that its session still holds the lock;
    a check that fails or does not answer within `check_timeout_s` means "not leading".
    """

    def __init__(self, engine: AsyncEngine, name: str, *, check_timeout_s: float = 2.0) -> None:
        self._engine = engine
        self._name = name
        self._check_timeout_s = check_timeout_s
        self._connection: AsyncConnection | None = None
        self._leading = False
        self._ended = asyncio.Event()

    async def acquire(self) -> bool:
        """Campaign once. A campaign that fails (the database paused past
        `check_timeout_s`, the connection lost) closes its session: the lock it may have
        taken ends with it, and SQLAlchemy will not run a statement on a connection whose
        last one was given up on; the next campaign opens another."""
        if self._leading:
            return await self.held()
        connection = await self._connect()
        try:
            async with transient_errors():
                self._leading = bool(await self._scalar(connection, _TRY_LOCK))
        except BaseException:
            await self._drop()
            raise
        return self._leading

    async def lost(self, within_s: float) -> bool:
        """The session's end is noticed at once (asyncpg reports the closed connection);
        a session that silently stops answering, at the check after `within_s`."""
        try:
            await asyncio.wait_for(self._ended.wait(), within_s)
        except TimeoutError:
            return not await self.held()
        await self._drop()
        return True

    async def held(self) -> bool:
        if not self._leading or self._connection is None:
            return False
        try:
            held = bool(await self._scalar(self._connection, _HOLDS))
        except Exception:
            held = False
        if not held:
            await self._drop()
        return held

    async def release(self) -> None:
        if self._leading and self._connection is not None:
            try:
                await self._scalar(self._connection, _UNLOCK)
            except Exception:
                pass
        await self._drop()

    async def _connect(self) -> AsyncConnection:
        if self._connection is None:
            self._connection = await dedicated(self._engine)
            self._ended.clear()
            raw = await self._connection.get_raw_connection()
            driver: Any = raw.driver_connection
            driver.add_termination_listener(lambda *_: self._ended.set())
        return self._connection

    async def _scalar(self, connection: AsyncConnection, query: sa.TextClause) -> object:
        async with asyncio.timeout(self._check_timeout_s):
            return await connection.scalar(query, {"name": self._name})

    async def _drop(self) -> None:
        """Close the session for good (not back to the pool): no lock can outlive it."""
        self._leading = False
        connection, self._connection = self._connection, None
        if connection is not None:
            await discard(connection)

